package extproc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/proto"

	"github.com/wardhq/ward/extproc"
	"github.com/wardhq/ward/extproc/config"
)

// patientFacingApp makes the demo clinical app patient-facing, so Ward's
// clinical policy runs its advice rules on the output.
func patientFacingApp(c *config.Config) {
	c.Policy.Data = map[string]any{"ward": map[string]any{"config": map[string]any{"apps": map[string]any{
		"discharge-notes": map[string]any{"patient_facing": true},
	}}}}
}

// everyChunk is the reference the triggers must match: the real decider,
// with the request decision's response checks turned back to every_chunk
// (a response decision on every chunk that releases text, and on every
// buffered body).
type everyChunk struct{ inner extproc.Decider }

func (e everyChunk) Decide(ctx context.Context, phase extproc.Phase, ix *extproc.Interaction) (extproc.Decision, error) {
	d, err := e.inner.Decide(ctx, phase, ix)
	if phase == extproc.PhaseRequest {
		d.ResponseChecks, d.ResponseTriggers, d.ResponseTriggerWindow = extproc.ResponseChecksEveryChunk, nil, 0
	}
	return d, err
}

func (e everyChunk) DecideChunk(ctx context.Context, ix *extproc.Interaction, delta string) (extproc.Decision, error) {
	return e.inner.(extproc.ChunkDecider).DecideChunk(ctx, ix, delta)
}

// words splits text into deltas of about n bytes, at spaces where it can:
// a provider streams tokens, so a keyword and the dose after it arrive in
// different deltas and usually different body chunks.
func words(text string, n int) []int {
	var parts []int
	last := 0
	for i := 1; i < len(text); i++ {
		if i-last >= n && (text[i] == ' ' || i-last >= 2*n) {
			parts = append(parts, i)
			last = i
		}
	}
	return parts
}

type streamRun struct {
	out []byte
	ix  *extproc.Interaction
}

func runStream(t *testing.T, p *extproc.Pipeline, last *lastIx, path, body string, stream []byte, chunk int) streamRun {
	t.Helper()
	proc := openStreamAt(t, p, path, body)
	out := feed(t, proc, stream, chunk)
	proc.Close(context.Background(), nil)
	return streamRun{out, last.ix}
}

// openStreamAt is openStream for any endpoint.
func openStreamAt(t testing.TB, p *extproc.Pipeline, path, body string) extproc.Processor {
	t.Helper()
	if path == "/v1/chat/completions" {
		return openStream(t, p)
	}
	ctx := context.Background()
	proc := p.NewProcessor(ctx)
	if _, err := proc.RequestHeaders(ctx, &extprocv3.HttpHeaders{Headers: sgHeaders(":method", "POST", ":path", path,
		"x-api-key", "ward-demo-clinical", "anthropic-version", "2023-06-01", "content-type", "application/json")}); err != nil {
		t.Fatal(err)
	}
	r, err := proc.RequestBody(ctx, &extprocv3.HttpBody{EndOfStream: true, Body: []byte(body)})
	if err != nil || r.GetImmediateResponse() != nil {
		t.Fatalf("request denied: %v %v", err, r)
	}
	r, err = proc.ResponseHeaders(ctx, &extprocv3.HttpHeaders{Headers: sgHeaders(":status", "200", "content-type", "text/event-stream")})
	if err != nil || r.GetModeOverride() == nil {
		t.Fatalf("response headers: %v %v", err, r)
	}
	return proc
}

// anthropicStream streams each block's text as its own text content block,
// in deltas of about n bytes.
func anthropicStream(blocks []string, n int) []byte {
	var b bytes.Buffer
	b.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-3-5-haiku-latest\",\"content\":[],\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n")
	for i, text := range blocks {
		fmt.Fprintf(&b, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":%d,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n", i)
		prev := 0
		for _, p := range append(words(text, n), len(text)) {
			js, _ := json.Marshal(text[prev:p])
			fmt.Fprintf(&b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"type\":\"text_delta\",\"text\":%s}}\n\n", i, js)
			prev = p
		}
		fmt.Fprintf(&b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":%d}\n\n", i)
	}
	b.WriteString("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\n")
	b.WriteString("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	return b.Bytes()
}

const anthropicBody = `{"model":"claude-3-5-haiku-latest","max_tokens":200,"stream":true,"messages":[{"role":"user","content":"What should I do?"}]}`

// filler is clinical small talk without advice keywords, long enough that
// the scanner releases text (and Ward checks) many times before the dose.
const filler = "Thanks for the update about your last visit, and for the notes you sent about the pharmacy hours and the parking at the clinic"

// TestResponseTriggersMatchEveryChunk: for a patient-facing app the clinical
// policy asks for on_findings with its advice keywords as triggers. That
// must be exact: every stream gets the same bytes, outcome and reason as
// with a decision on every chunk (the reference), at every body chunk size,
// in both dialects — including a dose several chunks after its keyword, a
// keyword split across chunks, a number longer than the window, and
// Unicode case folding — while clean text is not decided at all.
func TestResponseTriggersMatchEveryChunk(t *testing.T) {
	// Hold-back 64 (the default), 16 (more, smaller releases) and no PHI
	// scanner (every delta released as it comes: a check per delta).
	for _, hold := range []int{64, 16, 0} {
		t.Run(fmt.Sprintf("hold-back %d", hold), func(t *testing.T) {
			holdBack := func(c *config.Config) {
				if hold > 0 {
					c.PHI.HoldBackChars = hold
				}
			}
			pTrig := guardedPipeline(t, true, patientFacingApp, holdBack)
			pRef := guardedPipeline(t, true, patientFacingApp, holdBack)
			if hold == 0 {
				pTrig.Detectors, pRef.Detectors = nil, nil
			}
			pRef.Decider = everyChunk{pRef.Decider}
			testTriggersMatch(t, pTrig, pRef)
		})
	}
}

func testTriggersMatch(t *testing.T, pTrig, pRef *extproc.Pipeline) {
	lastTrig, lastRef := &lastIx{}, &lastIx{}
	pTrig.Recorder, pRef.Recorder = lastTrig, lastRef

	chat := func(text string, n int) []byte { return chatStream(text, words(text, n)) }
	tests := []struct {
		name   string
		path   string
		body   string
		stream []byte
		deny   bool
		// zero: no chunk decision at all with triggers.
		zero bool
	}{
		{name: "clean text", stream: chat("Your appointment is confirmed. Please bring your insurance card and a list of questions.", 6), zero: true},
		{name: "long clean text", stream: chat(strings.Repeat(filler+". ", 6), 5), zero: true},
		{name: "keyword without a dose", stream: chat(filler+". She plans to start walking again after work, and to take the stairs. "+filler+".", 5)},
		{name: "take, then the dose chunks later", stream: chat(filler+". You can take it, as we discussed at the visit, 2 tablets with breakfast. "+filler+".", 4), deny: true},
		{name: "take, then 500 mg twice daily", stream: chat(filler+". Please take your usual dose with water: 500 mg twice daily. "+filler+".", 3), deny: true},
		{name: "keyword split across chunks", stream: chatStream(filler+". ta"+"ke 2 tablets at bedtime.", []int{len(filler) + 4}), deny: true},
		{name: "upper case and a Kelvin sign", stream: chat(filler+". TA\u212aE 2 TABLETS AT BEDTIME. "+filler, 4), deny: true},
		{name: "a number longer than the window", stream: chat(filler+". Take "+strings.Repeat("7", 300)+" tablets. "+filler, 7), deny: true},
		{name: "diagnosis phrase", stream: chat(filler+". Your diagnosis is clear, and we will talk soon. "+filler, 4), deny: true},
		{name: "you may have, split", stream: chatStream(filler+". Honestly you may have a cold.", []int{len(filler) + 16, len(filler) + 18, len(filler) + 21}), deny: true},
		{name: "a phone number and advice", stream: chat("Call 617-555-0142 tomorrow. "+filler+". You might have an infection.", 5), deny: true},
		{name: "a phone number only", stream: chat("Call 617-555-0142 tomorrow. "+filler+".", 5)},
		{name: "anthropic: phrase across two text blocks", path: "/v1/messages", body: anthropicBody,
			stream: anthropicStream([]string{filler + ". You can take", ", as discussed, 2 tablets daily."}, 5), deny: true},
		{name: "anthropic: clean blocks", path: "/v1/messages", body: anthropicBody,
			stream: anthropicStream([]string{filler + ".", " " + filler + "."}, 5), zero: true},
	}
	for _, tc := range tests {
		if tc.path == "" {
			tc.path = "/v1/chat/completions"
		}
		for _, chunk := range []int{1, 9, 64, 1 << 20} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, chunk), func(t *testing.T) {
				ref := runStream(t, pRef, lastRef, tc.path, tc.body, tc.stream, chunk)
				got := runStream(t, pTrig, lastTrig, tc.path, tc.body, tc.stream, chunk)
				if d := got.ix.RequestDecision; d == nil || d.ResponseChecks != extproc.ResponseChecksOnFindings || !slicesContain(d.ResponseTriggers, "take") {
					t.Fatalf("request decision %+v: want on_findings with the advice keywords", d)
				}
				if (ref.ix.ReasonCode == "clinical_advice") != tc.deny {
					t.Fatalf("reference outcome %s/%s, want deny %v (test text wrong?)", ref.ix.Outcome, ref.ix.ReasonCode, tc.deny)
				}
				if !bytes.Equal(got.out, ref.out) {
					t.Fatalf("client bytes differ from every_chunk\ntriggers:\n%s\nevery_chunk:\n%s", got.out, ref.out)
				}
				if got.ix.Outcome != ref.ix.Outcome || got.ix.ReasonCode != ref.ix.ReasonCode {
					t.Fatalf("outcome %s/%s, every_chunk %s/%s", got.ix.Outcome, got.ix.ReasonCode, ref.ix.Outcome, ref.ix.ReasonCode)
				}
				if got.ix.ChunkDecisions > ref.ix.ChunkDecisions || (tc.zero && got.ix.ChunkDecisions != 0) {
					t.Fatalf("%d chunk decisions with triggers, %d with every_chunk; output findings %+v", got.ix.ChunkDecisions, ref.ix.ChunkDecisions, got.ix.OutputFindings)
				}
				var types []string
				for _, f := range got.ix.OutputFindings {
					types = append(types, f.Type)
				}
				t.Logf("chunk decisions: %d with triggers, %d every_chunk; output findings %v", got.ix.ChunkDecisions, ref.ix.ChunkDecisions, types)
			})
		}
	}
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestClinicalAdviceRulesFitTheTriggers checks the clinical policy's side
// of the response_triggers contract against rego/data.json: its triggers
// are the advice keywords, and every advice pattern's match contains one of
// its rule's keywords that starts at most response_trigger_window
// characters (a run of digits counting as one) before the match ends. Then
// a chunk whose window holds no trigger cannot complete an advice match
// that was not there before, and the rule's keyword pre-check adds nothing
// (a match implies a keyword), so skipping it is exact.
func TestClinicalAdviceRulesFitTheTriggers(t *testing.T) {
	raw, err := os.ReadFile("../rego/data.json")
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		Ward struct {
			Config struct {
				Clinical struct {
					AdviceRules []struct {
						Keywords []string `json:"keywords"`
						Pattern  string   `json:"pattern"`
					} `json:"advice_rules"`
				} `json:"clinical"`
			} `json:"config"`
		} `json:"ward"`
	}
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatal(err)
	}
	rules := data.Ward.Config.Clinical.AdviceRules
	if len(rules) == 0 {
		t.Fatal("no advice rules in rego/data.json")
	}

	// What the policy returns for a patient-facing app.
	p := guardedPipeline(t, true, patientFacingApp)
	last := &lastIx{}
	p.Recorder = last
	proc := openStream(t, p)
	feed(t, proc, chatStream("Hello.", nil), 4096)
	proc.Close(context.Background(), nil)
	d := last.ix.RequestDecision
	if d == nil || d.ResponseChecks != extproc.ResponseChecksOnFindings {
		t.Fatalf("request decision %+v", d)
	}
	var keywords []string
	for _, r := range rules {
		keywords = append(keywords, r.Keywords...)
	}
	slices.Sort(keywords)
	keywords = slices.Compact(keywords)
	got := slices.Sorted(slices.Values(d.ResponseTriggers))
	if !slices.Equal(got, keywords) {
		t.Fatalf("triggers %q, want the advice keywords %q", got, keywords)
	}

	for i, r := range rules {
		re, err := syntax.Parse(r.Pattern, syntax.Perl)
		if err != nil {
			t.Fatalf("rule %d: %v", i, err)
		}
		if _, err := regexp.Compile(r.Pattern); err != nil {
			t.Fatalf("rule %d: %v", i, err)
		}
		span, ok := keywordSpan(re, r.Keywords)
		if !ok {
			t.Errorf("rule %d %q: cannot show that every match contains one of %q at a bounded distance from its end", i, r.Pattern, r.Keywords)
			continue
		}
		if span > d.ResponseTriggerWindow {
			t.Errorf("rule %d %q: a match may end %d characters after its keyword starts; the trigger window is %d", i, r.Pattern, span, d.ResponseTriggerWindow)
		}
		t.Logf("rule %d: keyword to match end ≤ %d characters (window %d)", i, span, d.ResponseTriggerWindow)
	}
}

// keywordSpan bounds, for every match of re, the characters from the start
// of a keyword it contains to the match's end (digit runs counting once).
// It handles what advice patterns look like: a concatenation in which a
// run of finitely many literal alternatives always spells a keyword.
func keywordSpan(re *syntax.Regexp, keywords []string) (int, bool) {
	has := func(s string) bool {
		for _, k := range keywords {
			if strings.Contains(s, k) {
				return true
			}
		}
		return false
	}
	if set, ok := finiteStrings(re); ok {
		for _, s := range set {
			if !has(s) {
				return 0, false
			}
		}
		return maxChars(re)
	}
	if re.Op == syntax.OpCapture {
		return keywordSpan(re.Sub[0], keywords)
	}
	if re.Op != syntax.OpConcat {
		return 0, false
	}
	best, found := 0, false
	for i := range re.Sub {
		// The longest run of finite pieces starting at i that always
		// spells a keyword.
		prod := []string{""}
		for j := i; j < len(re.Sub); j++ {
			set, ok := finiteStrings(re.Sub[j])
			if !ok || len(prod)*len(set) > 4096 {
				break
			}
			var next []string
			for _, a := range prod {
				for _, b := range set {
					next = append(next, a+b)
				}
			}
			prod = next
			all := true
			for _, s := range prod {
				all = all && has(s)
			}
			if !all {
				continue
			}
			span, bounded := 0, true
			for _, sub := range re.Sub[i:] {
				n, ok := maxChars(sub)
				span += n
				bounded = bounded && ok
			}
			if bounded && (!found || span < best) {
				best, found = span, true
			}
			break
		}
	}
	return best, found
}

// finiteStrings lists the strings re matches when they are few and made of
// literals (empty-width assertions match "").
func finiteStrings(re *syntax.Regexp) ([]string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil, false
		}
		return []string{string(re.Rune)}, true
	case syntax.OpEmptyMatch, syntax.OpWordBoundary, syntax.OpNoWordBoundary,
		syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText:
		return []string{""}, true
	case syntax.OpCapture:
		return finiteStrings(re.Sub[0])
	case syntax.OpQuest:
		s, ok := finiteStrings(re.Sub[0])
		return append([]string{""}, s...), ok
	case syntax.OpAlternate:
		var all []string
		for _, sub := range re.Sub {
			s, ok := finiteStrings(sub)
			if !ok {
				return nil, false
			}
			all = append(all, s...)
		}
		return all, true
	case syntax.OpConcat:
		prod := []string{""}
		for _, sub := range re.Sub {
			s, ok := finiteStrings(sub)
			if !ok || len(prod)*len(s) > 4096 {
				return nil, false
			}
			var next []string
			for _, a := range prod {
				for _, b := range s {
					next = append(next, a+b)
				}
			}
			prod = next
		}
		return prod, true
	}
	return nil, false
}

// maxChars bounds the characters a match of re spans, a run of digits
// counting as one (as Ward's trigger window counts).
func maxChars(re *syntax.Regexp) (int, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune), true
	case syntax.OpEmptyMatch, syntax.OpWordBoundary, syntax.OpNoWordBoundary,
		syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText:
		return 0, true
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1, true
	case syntax.OpCapture, syntax.OpQuest:
		return maxChars(re.Sub[0])
	case syntax.OpConcat, syntax.OpAlternate:
		total := 0
		for _, sub := range re.Sub {
			n, ok := maxChars(sub)
			if !ok {
				return 0, false
			}
			if re.Op == syntax.OpConcat {
				total += n
			} else {
				total = max(total, n)
			}
		}
		return total, true
	case syntax.OpStar, syntax.OpPlus, syntax.OpRepeat:
		if digitsOnly(re.Sub[0]) {
			return 1, true // one run of digits
		}
		n, ok := maxChars(re.Sub[0])
		if !ok || re.Op != syntax.OpRepeat || re.Max < 0 {
			return 0, false
		}
		return n * re.Max, true
	}
	return 0, false
}

// digitsOnly reports whether re matches single ASCII digits only.
func digitsOnly(re *syntax.Regexp) bool {
	if re.Op != syntax.OpCharClass || len(re.Rune) == 0 {
		return false
	}
	for i := 0; i+1 < len(re.Rune); i += 2 {
		if re.Rune[i] < '0' || re.Rune[i+1] > '9' {
			return false
		}
	}
	return true
}

// TestResponseTriggersBuffered: a buffered answer for a patient-facing app
// gets a response decision when it holds findings or a trigger anywhere,
// and the result equals the every-chunk reference (always decided).
func TestResponseTriggersBuffered(t *testing.T) {
	pTrig := guardedPipeline(t, true, patientFacingApp)
	pRef := guardedPipeline(t, true, patientFacingApp)
	pRef.Decider = everyChunk{pRef.Decider}
	lastTrig, lastRef := &lastIx{}, &lastIx{}
	pTrig.Recorder, pRef.Recorder = lastTrig, lastRef
	run := func(p *extproc.Pipeline, last *lastIx, text string) (*extprocv3.ProcessingResponse, *extproc.Interaction) {
		ctx := context.Background()
		proc := p.NewProcessor(ctx)
		defer proc.Close(ctx, nil)
		if _, err := proc.RequestHeaders(ctx, &extprocv3.HttpHeaders{Headers: sgHeaders(":method", "POST", ":path", "/v1/chat/completions",
			"authorization", "Bearer ward-demo-clinical", "content-type", "application/json")}); err != nil {
			t.Fatal(err)
		}
		if r, err := proc.RequestBody(ctx, &extprocv3.HttpBody{EndOfStream: true,
			Body: []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Any update?"}]}`)}); err != nil || r.GetImmediateResponse() != nil {
			t.Fatalf("request denied: %v %v", err, r)
		}
		if _, err := proc.ResponseHeaders(ctx, &extprocv3.HttpHeaders{Headers: sgHeaders(":status", "200", "content-type", "application/json")}); err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal(text)
		body := `{"id":"c1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":` +
			string(js) + `},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}`
		r, err := proc.ResponseBody(ctx, &extprocv3.HttpBody{EndOfStream: true, Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		return r, last.ix
	}
	for _, tc := range []struct {
		name, text      string
		decided, denied bool
	}{
		{"clean", "Your appointment is confirmed. Please bring your insurance card.", false, false},
		{"a trigger, no advice", "She plans to START walking again after work.", true, false},
		{"advice", "Please take 2 tablets at bedtime.", true, true},
		{"advice, Kelvin sign", "Please ta\u212ae 2 tablets at bedtime.", true, true},
		{"a finding", "Call 617-555-0142 tomorrow.", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, refIx := run(pRef, lastRef, tc.text)
			got, ix := run(pTrig, lastTrig, tc.text)
			if (ix.ResponseDecision != nil) != tc.decided {
				t.Fatalf("response decision %+v, want decided %v", ix.ResponseDecision, tc.decided)
			}
			if ix.Outcome != refIx.Outcome || ix.ReasonCode != refIx.ReasonCode || (ix.ReasonCode == "clinical_advice") != tc.denied {
				t.Fatalf("outcome %s/%s, every_chunk %s/%s", ix.Outcome, ix.ReasonCode, refIx.Outcome, refIx.ReasonCode)
			}
			if !proto.Equal(normalised(got), normalised(ref)) {
				t.Fatalf("answer differs from every_chunk:\n%v\n%v", got, ref)
			}
		})
	}
}

// normalised drops the x-ward-event-id header, unique per exchange, and
// sorts the headers Ward sets (built from a map: any order).
func normalised(r *extprocv3.ProcessingResponse) *extprocv3.ProcessingResponse {
	r = proto.Clone(r).(*extprocv3.ProcessingResponse)
	for _, hm := range []interface {
		GetSetHeaders() []*corev3.HeaderValueOption
	}{r.GetImmediateResponse().GetHeaders(), r.GetResponseBody().GetResponse().GetHeaderMutation()} {
		hs := hm.GetSetHeaders()
		for _, h := range hs {
			if h.GetHeader().GetKey() == "x-ward-event-id" {
				h.Header.RawValue = nil
			}
		}
		slices.SortFunc(hs, func(a, b *corev3.HeaderValueOption) int {
			return strings.Compare(a.GetHeader().GetKey(), b.GetHeader().GetKey())
		})
	}
	return r
}

// failFirstChunk fails the first response_chunk decision, as a policy
// timeout would.
type failFirstChunk struct {
	extproc.Decider
	failed *bool
}

func (f failFirstChunk) DecideChunk(ctx context.Context, ix *extproc.Interaction, delta string) (extproc.Decision, error) {
	if !*f.failed {
		*f.failed = true
		return extproc.Decision{}, fmt.Errorf("policy evaluation timed out")
	}
	return f.Decider.(extproc.ChunkDecider).DecideChunk(ctx, ix, delta)
}

// TestResponseTriggersAfterFailOpen: a chunk decision that failed on a
// fail-open profile decided nothing, so the trigger window does not move
// past it: advice that went out unchecked in that chunk is still caught at
// the next chunk, as every_chunk catches it.
func TestResponseTriggersAfterFailOpen(t *testing.T) {
	failOpen := func(c *config.Config) {
		p := c.Profiles["clinical"]
		p.FailOpen = true
		c.Profiles["clinical"] = p
	}
	pTrig := guardedPipeline(t, true, patientFacingApp, failOpen)
	pRef := guardedPipeline(t, true, patientFacingApp, failOpen)
	pTrig.Detectors, pRef.Detectors = nil, nil // release each delta as it comes
	var trigFailed, refFailed bool
	pTrig.Decider = failFirstChunk{pTrig.Decider, &trigFailed}
	pRef.Decider = everyChunk{failFirstChunk{pRef.Decider, &refFailed}}
	lastTrig, lastRef := &lastIx{}, &lastIx{}
	pTrig.Recorder, pRef.Recorder = lastTrig, lastRef

	// The advice and more than a window of filler in one delta (decided,
	// fails open), then more text in the next (decided: denied).
	first := "Take 2 tablets at bedtime. " + filler + ". "
	stream := chatStream(first+"See you soon.", []int{len(first)})
	var events [][]byte
	for rest := stream; len(rest) > 0; {
		i := bytes.Index(rest, []byte("\n\n")) + 2
		events = append(events, rest[:i])
		rest = rest[i:]
	}
	run := func(p *extproc.Pipeline, last *lastIx) ([]byte, *extproc.Interaction) {
		ctx := context.Background()
		proc := openStream(t, p)
		var out []byte
		for i, ev := range events {
			r, err := proc.ResponseBody(ctx, &extprocv3.HttpBody{Body: ev, EndOfStream: i == len(events)-1})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, chunkOut(t, ev, r)...)
		}
		proc.Close(ctx, nil)
		return out, last.ix
	}
	refOut, refIx := run(pRef, lastRef)
	out, ix := run(pTrig, lastTrig)
	if !trigFailed || !refFailed || refIx.ReasonCode != "clinical_advice" {
		t.Fatalf("reference: failed %v/%v, outcome %s/%s", trigFailed, refFailed, refIx.Outcome, refIx.ReasonCode)
	}
	if !bytes.Equal(out, refOut) || ix.Outcome != refIx.Outcome || ix.ReasonCode != refIx.ReasonCode {
		t.Fatalf("triggers %s/%s, every_chunk %s/%s\n%s\n---\n%s", ix.Outcome, ix.ReasonCode, refIx.Outcome, refIx.ReasonCode, out, refOut)
	}
}

// FuzzResponseTriggers builds patient-facing streams from advice fragments
// and requires the same client bytes and outcome with response_triggers
// (and the policy reading output.window) as with a decision on every chunk
// over the whole text.
func FuzzResponseTriggers(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6}, uint8(3), uint8(16))
	f.Add([]byte{7, 7, 8, 7, 9, 10, 11, 12, 13, 1, 4}, uint8(1), uint8(64))
	f.Add([]byte{14, 15, 16, 17, 7, 7, 7, 7, 18, 19, 20, 3, 21, 5}, uint8(9), uint8(0))
	f.Add([]byte{22, 23, 7, 7, 7, 24, 25, 26, 27, 28, 7, 7, 29, 30, 31}, uint8(40), uint8(16))
	f.Add([]byte{7, 32, 0, 3, 4, 7, 34, 2, 3, 4}, uint8(2), uint8(16))
	f.Add([]byte{7, 0, 35, 36, 3, 4, 5}, uint8(1), uint8(0))
	frags := []string{
		" take", " ta", "ke", " 2", " tablets", " at bedtime", ". ", // 0-6
		" the clinic will call you back about the forms", ",", " you", " may", " have", " a cold", // 7-13
		" Your", " diagnosis", " is", "n't final", " 500", " mg", " twice daily", " 12345678901234567890", // 14-21
		" START", " ta\u212ae", " É", " might", " have an", " infection", "\n", " 1.5", " ml", " every", // 22-31
		" mis", "_", "x", " with a glass of water and some food", " if you can", "take", "mis", // 32-38: word-boundary and long-gap cases for output.window
	}
	pTrig := guardedPipeline(f, true, patientFacingApp, func(c *config.Config) { c.PHI.HoldBackChars = 16 })
	pRef := guardedPipeline(f, true, patientFacingApp, func(c *config.Config) { c.PHI.HoldBackChars = 16 })
	pNoScanTrig := guardedPipeline(f, true, patientFacingApp)
	pNoScanRef := guardedPipeline(f, true, patientFacingApp)
	pNoScanTrig.Detectors, pNoScanRef.Detectors = nil, nil
	pRef.Decider, pNoScanRef.Decider = everyChunk{pRef.Decider}, everyChunk{pNoScanRef.Decider}
	lastTrig, lastRef := &lastIx{}, &lastIx{}
	pTrig.Recorder, pRef.Recorder, pNoScanTrig.Recorder, pNoScanRef.Recorder = lastTrig, lastRef, lastTrig, lastRef
	f.Fuzz(func(t *testing.T, pick []byte, chunk uint8, hold uint8) {
		if len(pick) > 200 {
			pick = pick[:200]
		}
		var text strings.Builder
		var parts []int
		for _, b := range pick {
			text.WriteString(frags[int(b)%len(frags)])
			parts = append(parts, text.Len())
		}
		if text.Len() == 0 {
			return
		}
		stream := chatStream(text.String(), parts[:len(parts)-1])
		trig, ref := pTrig, pRef
		if hold == 0 {
			trig, ref = pNoScanTrig, pNoScanRef
		}
		r := runStream(t, ref, lastRef, "/v1/chat/completions", "", stream, int(chunk)+1)
		g := runStream(t, trig, lastTrig, "/v1/chat/completions", "", stream, int(chunk)+1)
		if !bytes.Equal(g.out, r.out) || g.ix.Outcome != r.ix.Outcome || g.ix.ReasonCode != r.ix.ReasonCode {
			t.Fatalf("text %q: triggers %s/%s, every_chunk %s/%s\ntriggers:\n%s\nevery_chunk:\n%s",
				text.String(), g.ix.Outcome, g.ix.ReasonCode, r.ix.Outcome, r.ix.ReasonCode, g.out, r.out)
		}
	})
}
