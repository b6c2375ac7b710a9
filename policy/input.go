package policy

import (
	"slices"
	"strconv"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/wardhq/ward/extproc/llm"
	"github.com/wardhq/ward/policy/phi"
)

// InputVersion is the version of the input document this package builds.
// Policies can check input.version to refuse documents they do not know.
const InputVersion = 1

// Phase is the point in an interaction a decision is made for.
type Phase string

const (
	PhaseRequest       Phase = "request"
	PhaseResponse      Phase = "response"
	PhaseResponseChunk Phase = "response_chunk"
)

// Input is the policy input document (docs/policy-input.md). The pipeline
// fills one per phase; AST turns it into an OPA value without a JSON round
// trip. JSON tags exist for `ward policy eval --input` and tests; they name
// the same fields the AST uses.
type Input struct {
	Version   int        `json:"version"`
	Phase     Phase      `json:"phase"`
	Profile   string     `json:"profile"`
	Identity  Identity   `json:"identity"`
	Provider  string     `json:"provider"`
	Model     string     `json:"model"`
	Endpoint  string     `json:"endpoint"`
	Stream    bool       `json:"stream"`
	Messages  []Message  `json:"messages"`
	Tools     []Tool     `json:"tools"`
	ToolCalls []ToolCall `json:"tool_calls"`
	Detectors Detectors  `json:"detectors"`
	Tokens    Tokens     `json:"tokens"`
	Route     Route      `json:"route"`
	// Output is set at the response phases only.
	Output *Output `json:"output,omitempty"`
}

// Identity is who is calling, as authenticated by Ward.
type Identity struct {
	Team    string `json:"team"`
	App     string `json:"app"`
	KeyID   string `json:"key_id"`
	EndUser string `json:"end_user"`
}

// Message is one text part of the prompt, in document order.
type Message struct {
	Role string `json:"role"`
	Text string `json:"text"`
	// Index is the message the part belongs to (-1: top-level system
	// prompt / instructions).
	Index int `json:"index"`
}

// Tool is a tool definition offered to the model.
type Tool struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Parameters is the raw JSON schema text as sent (not parsed: policies
	// that need it can call json.unmarshal).
	Parameters string `json:"parameters"`
}

// ToolCall is a tool invocation, in the request history or in an output.
type ToolCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Detectors carries detector results. Injection and Topic are nil when the
// detector did not run; the keys are then absent from the document.
type Detectors struct {
	PHI       PHI        `json:"phi"`
	Injection *Injection `json:"injection,omitempty"`
	Topic     *Topic     `json:"topic,omitempty"`
}

// PHI summarises PHI findings. Spans only: the matched text never enters
// the policy input. Count, ByType and NewByType are derived from Findings
// when left zero/nil, so the caller only has to fill Findings.
type PHI struct {
	Count  int            `json:"count"`
	ByType map[string]int `json:"by_type"`
	// NewByType counts output findings whose value was not in the
	// caller's input (InInput false): PHI the model produced.
	NewByType map[string]int `json:"new_by_type"`
	Findings  []Finding      `json:"findings"`
}

// Finding is one PHI span. Role is the message role for prompt findings
// and "output" for findings in model output.
type Finding struct {
	Type         string  `json:"type"`
	Role         string  `json:"role"`
	MessageIndex int     `json:"message_index"`
	Start        int     `json:"start"`
	End          int     `json:"end"`
	Score        float64 `json:"score"`
	// InInput is set on output findings whose value also appeared in the
	// caller's own request (an echo, not a leak).
	InInput bool `json:"in_input"`
}

// Injection is the prompt-injection detector's result.
type Injection struct {
	Score float64  `json:"score"`
	Rules []string `json:"rules"`
}

// Topic is the topic classifier's result for the app's topic set.
type Topic struct {
	InScope bool    `json:"in_scope"`
	Nearest string  `json:"nearest"`
	Score   float64 `json:"score"`
	// Directive: the prompt tells the assistant to do something (see
	// topic.Directive); scope.rego's refuse_directives mode reads it.
	Directive bool `json:"directive"`
}

// Tokens holds token estimates and the caller's budget.
type Tokens struct {
	PromptEstimate int64 `json:"prompt_estimate"`
	MaxOutput      int64 `json:"max_output"`
	// Budget is nil when no budget applies.
	Budget *Budget `json:"budget,omitempty"`
}

// Budget is the caller's budget state before this request. Unit is what
// the numbers count ("tokens" or "usd").
type Budget struct {
	Limit     float64 `json:"limit"`
	Spent     float64 `json:"spent"`
	Remaining float64 `json:"remaining"`
	Unit      string  `json:"unit"`
}

// Route is what Ward's config says about the upstream route.
type Route struct {
	// Name is the configured route name.
	Name string `json:"name"`
	// BAA is true when the upstream is covered by a business associate
	// agreement.
	BAA bool `json:"baa"`
	// AllowedPHI lists PHI types this route may carry unredacted.
	AllowedPHI []string `json:"allowed_phi"`

	prepared *preparedRoute // set by Prepared
}

// preparedRoute is a route's input value and the fields it was built
// from (AllowedPHI copied), to check that they still hold.
type preparedRoute struct {
	name    string
	baa     bool
	allowed []string
	term    *ast.Term
}

// Prepared returns r with its policy input value built once, for a route
// that many decisions share (a profile's, from configuration): the
// engine then uses that value instead of building it per decision. If
// the fields change afterwards, the value is built from them again.
func (r Route) Prepared() Route {
	r.prepared = nil
	var b builder
	r.prepared = &preparedRoute{name: r.Name, baa: r.BAA, allowed: slices.Clone(r.AllowedPHI), term: b.route(&r)}
	return r
}

// Output is the model's output at the response phases. At response_chunk,
// Text is everything streamed so far and Delta the newest chunk, so
// phrase checks work across chunk boundaries.
type Output struct {
	Text  string `json:"text"`
	Delta string `json:"delta"`
	// Window is the end of Text a response_chunk decision needs to read
	// for phrases, set only when Ward narrows it (with response_triggers);
	// absent from the document otherwise, meaning all of Text
	// (docs/policy-input.md).
	Window       string     `json:"window,omitempty"`
	ToolCalls    []ToolCall `json:"tool_calls"`
	FinishReason string     `json:"finish_reason"`
	Usage        Usage      `json:"usage"`
}

// Usage is token usage as reported by the provider.
type Usage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	Present      bool  `json:"present"`
}

// SetRequest fills the request-derived fields from a parsed request.
func (in *Input) SetRequest(r *llm.Request) {
	in.Provider = string(r.Provider)
	in.Model = r.Model
	in.Endpoint = string(r.Endpoint)
	in.Stream = r.Stream
	in.Identity.EndUser = r.EndUser
	in.Tokens.MaxOutput = r.MaxOutputTokens
	in.Messages = make([]Message, len(r.Parts))
	for i, p := range r.Parts {
		in.Messages[i] = Message{Role: string(p.Role), Text: p.Text, Index: p.Message}
	}
	in.Tools = make([]Tool, len(r.Tools))
	for i, t := range r.Tools {
		in.Tools[i] = Tool(t)
	}
	in.ToolCalls = convertToolCalls(r.ToolCalls)
}

// SetResponse fills Output from a parsed (buffered or reassembled) response.
func (in *Input) SetResponse(r *llm.Response) {
	out := &Output{
		ToolCalls:    convertToolCalls(r.ToolCalls),
		FinishReason: r.FinishReason,
		Usage: Usage{
			InputTokens:  r.Usage.InputTokens,
			OutputTokens: r.Usage.OutputTokens,
			Present:      r.Usage.Present,
		},
	}
	if len(r.Choices) > 0 {
		out.Text = r.Choices[0]
	}
	in.Output = out
}

func convertToolCalls(calls []llm.ToolCall) []ToolCall {
	out := make([]ToolCall, len(calls))
	for i, c := range calls {
		out[i] = ToolCall(c)
	}
	return out
}

// Object keys are built once: the AST of every input shares them.
var (
	kVersion, kPhase, kProfile, kIdentity, kProvider, kModel, kEndpoint           = key("version"), key("phase"), key("profile"), key("identity"), key("provider"), key("model"), key("endpoint")
	kStream, kMessages, kTools, kToolCalls, kDetectors, kTokens, kRoute           = key("stream"), key("messages"), key("tools"), key("tool_calls"), key("detectors"), key("tokens"), key("route")
	kOutput, kTeam, kApp, kKeyID, kEndUser, kRole, kText, kIndex                  = key("output"), key("team"), key("app"), key("key_id"), key("end_user"), key("role"), key("text"), key("index")
	kName, kDescription, kParameters, kID, kArguments, kPHI, kInjection           = key("name"), key("description"), key("parameters"), key("id"), key("arguments"), key("phi"), key("injection")
	kTopic, kCount, kByType, kFindings, kType, kMessageIndex, kStart              = key("topic"), key("count"), key("by_type"), key("findings"), key("type"), key("message_index"), key("start")
	kEnd, kScore, kInInput, kRules, kInScope, kNearest, kPromptEstimate           = key("end"), key("score"), key("in_input"), key("rules"), key("in_scope"), key("nearest"), key("prompt_estimate")
	kMaxOutput, kBudget, kLimit, kSpent, kRemaining, kUnit, kBAA                  = key("max_output"), key("budget"), key("limit"), key("spent"), key("remaining"), key("unit"), key("baa")
	kAllowedPHI, kDelta, kWindow, kFinishReason, kUsage, kInputTokens, kOutTokens = key("allowed_phi"), key("delta"), key("window"), key("finish_reason"), key("usage"), key("input_tokens"), key("output_tokens")
	kPresent, kNewByType, kDirective                                              = key("present"), key("new_by_type"), key("directive")
)

func key(s string) *ast.Term { return ast.StringTerm(s) }

// Terms for values that repeat in every document.
var (
	emptyString = ast.StringTerm("")
	constTerms  = func() map[string]*ast.Term {
		m := map[string]*ast.Term{}
		for _, s := range []string{
			"request", "response", "response_chunk", "clinical", "internal", "passthrough",
			"system", "user", "assistant", "tool", "output",
			"openai", "anthropic", "chat_completions", "responses", "messages", "unparsed",
			"stop", "length", "end_turn", "tool_calls", "tool_use", "tokens", "usd",
		} {
			m[s] = ast.StringTerm(s)
		}
		// PHI type names: the detector's fixed vocabulary, in every
		// finding summary.
		for _, t := range phi.AllTypes() {
			m[t.String()] = ast.StringTerm(t.String())
		}
		return m
	}()
)

// builder allocates the document's terms from one slab and shares terms
// for repeated short strings (roles, finding types): a 4 KB prompt with
// dozens of findings then costs a few hundred allocations, not thousands.
type builder struct {
	slab  []ast.Term
	cache [16]struct {
		s string
		t *ast.Term
	}
	ncache   int
	findings bool
}

func (b *builder) term(v ast.Value) *ast.Term {
	if len(b.slab) == 0 {
		b.slab = make([]ast.Term, 16)
	}
	t := &b.slab[0]
	b.slab = b.slab[1:]
	t.Value = v
	return t
}

func (b *builder) obj(pairs ...[2]*ast.Term) *ast.Term { return b.term(ast.NewObject(pairs...)) }

func (b *builder) str(s string) *ast.Term {
	if s == "" {
		return emptyString
	}
	if t, ok := constTerms[s]; ok {
		return t
	}
	return b.term(ast.String(s))
}

// sym is str for short values likely to repeat within one document.
func (b *builder) sym(s string) *ast.Term {
	if len(s) > 32 {
		return b.str(s)
	}
	for i := range b.ncache {
		if b.cache[i].s == s {
			return b.cache[i].t
		}
	}
	t := b.str(s)
	if b.ncache < len(b.cache) {
		b.cache[b.ncache].s, b.cache[b.ncache].t = s, t
		b.ncache++
	}
	return t
}

func (b *builder) int(n int64) *ast.Term {
	if n >= 0 && n < 512 {
		return ast.InternedTerm(int(n))
	}
	return b.term(ast.Number(strconv.FormatInt(n, 10)))
}

func (b *builder) float(f float64) *ast.Term {
	if f == 0 {
		return ast.InternedTerm(0)
	}
	if f == 1 {
		return ast.InternedTerm(1)
	}
	return b.term(ast.Number(strconv.FormatFloat(f, 'g', -1, 64)))
}

func boolean(v bool) *ast.Term { return ast.InternedTerm(v) }

// AST returns the input document as an OPA value, built directly (no JSON
// round trip). Strings are shared with in, not copied; the caller must not
// modify in while a decision using the value runs.
func (in *Input) AST() ast.Value { return in.ast(allParts) }

// parts says which of the document's bulky parts the loaded policy can
// read. The engine builds only those: what no rule reads cannot change a
// decision, and spans and message texts are most of the document's cost.
type parts struct {
	findings  bool // detectors.phi.findings
	messages  bool // messages
	tools     bool // tools
	toolCalls bool // tool_calls (the request's; output.tool_calls always)
}

var allParts = parts{findings: true, messages: true, tools: true, toolCalls: true}

// topKeys are the document's top-level keys, in the order ast adds them.
var topKeys = [...]*ast.Term{
	kVersion, kPhase, kProfile, kIdentity, kProvider, kModel, kEndpoint, kStream,
	kDetectors, kTokens, kRoute, kMessages, kTools, kToolCalls, kOutput,
}

// ast builds the document with the parts p selects; a part left out is
// an absent key.
func (in *Input) ast(p parts) ast.Value {
	b := builder{slab: make([]ast.Term, in.termEstimate(p)), findings: p.findings}
	pairs := make([][2]*ast.Term, 0, len(topKeys))
	for _, k := range topKeys {
		if v := in.top(&b, p, string(k.Value.(ast.String))); v != nil {
			pairs = append(pairs, [2]*ast.Term{k, v})
		}
	}
	return ast.NewObject(pairs...)
}

// top builds the value of the document's top-level key name (nil: the
// document does not have it). ast and the plan evaluator's lazyInput both
// build through it, so the two cannot disagree.
func (in *Input) top(b *builder, p parts, name string) *ast.Term {
	switch name {
	case "version":
		version := in.Version
		if version == 0 {
			version = InputVersion
		}
		return b.int(int64(version))
	case "phase":
		return b.str(string(in.Phase))
	case "profile":
		return b.str(in.Profile)
	case "identity":
		id := &in.Identity
		return b.obj(
			[2]*ast.Term{kTeam, id.field(b, "team")},
			[2]*ast.Term{kApp, id.field(b, "app")},
			[2]*ast.Term{kKeyID, id.field(b, "key_id")},
			[2]*ast.Term{kEndUser, id.field(b, "end_user")},
		)
	case "provider":
		return b.str(in.Provider)
	case "model":
		return b.str(in.Model)
	case "endpoint":
		return b.str(in.Endpoint)
	case "stream":
		return boolean(in.Stream)
	case "detectors":
		return b.detectors(&in.Detectors)
	case "tokens":
		return b.tokens(&in.Tokens)
	case "route":
		return b.route(&in.Route)
	case "messages":
		if p.messages {
			return b.messages(in.Messages)
		}
	case "tools":
		if p.tools {
			return b.tools(in.Tools)
		}
	case "tool_calls":
		if p.toolCalls {
			return b.toolCalls(in.ToolCalls)
		}
	case "output":
		if in.Output != nil {
			return b.output(in.Output)
		}
	}
	return nil
}

// lazyInput is the document for the plan evaluator (plan.Input): each
// top-level part is built when the policy first reads it, so parts no
// rule reads (the endpoint, the stream flag, most of the detectors for a
// lighter policy) cost nothing, and neither does the document object.
type lazyInput struct {
	in *Input
	p  parts
	b  builder
}

// Lookup builds the value at path directly for the values policies read
// most (detector results, identity fields, token estimates); for other
// paths of two keys or more it lets the evaluator walk from the parent.
func (l *lazyInput) Lookup(path []string) (*ast.Term, bool) {
	in, b := l.in, &l.b
	switch len(path) {
	case 1:
		return in.top(b, l.p, path[0]), true
	case 2:
		switch path[0] {
		case "identity":
			return in.Identity.field(b, path[1]), true
		case "tokens":
			return in.Tokens.field(b, path[1]), true
		case "route":
			if path[1] == "baa" {
				return boolean(in.Route.BAA), true
			}
		}
	case 3:
		if path[0] != "detectors" {
			return nil, false
		}
		d := &in.Detectors
		switch path[1] {
		case "phi":
			if path[2] == "findings" {
				return nil, false
			}
			return b.phiField(&d.PHI, path[2]), true
		case "injection":
			if d.Injection == nil {
				return nil, true
			}
			return b.injectionField(d.Injection, path[2]), true
		case "topic":
			if d.Topic == nil {
				return nil, true
			}
			return b.topicField(d.Topic, path[2]), true
		}
	}
	return nil, false
}

func (l *lazyInput) Value() ast.Value { return l.in.ast(l.p) }

// lazyInputs recycles the per-decision lazyInput (most of its size is the
// builder's string cache); the evaluator holds it only during Eval.
var lazyInputs = sync.Pool{New: func() any { return new(lazyInput) }}

// termEstimate sizes the slab so one allocation usually suffices.
func (in *Input) termEstimate(p parts) int {
	n := 40 + 2*len(in.Route.AllowedPHI)
	if p.messages {
		n += 4 * len(in.Messages)
	}
	if p.tools {
		n += 4 * len(in.Tools)
	}
	if p.toolCalls {
		n += 4 * len(in.ToolCalls)
	}
	if p.findings {
		n += 6 * len(in.Detectors.PHI.Findings)
	}
	if in.Output != nil {
		n += 13 + 4*len(in.Output.ToolCalls)
	}
	return n
}

func (b *builder) messages(ms []Message) *ast.Term {
	terms := make([]*ast.Term, len(ms))
	for i := range ms {
		m := &ms[i]
		terms[i] = b.obj(
			[2]*ast.Term{kRole, b.sym(m.Role)},
			[2]*ast.Term{kText, b.str(m.Text)},
			[2]*ast.Term{kIndex, b.int(int64(m.Index))},
		)
	}
	return b.term(ast.NewArray(terms...))
}

func (b *builder) tools(ts []Tool) *ast.Term {
	terms := make([]*ast.Term, len(ts))
	for i := range ts {
		t := &ts[i]
		terms[i] = b.obj(
			[2]*ast.Term{kName, b.str(t.Name)},
			[2]*ast.Term{kDescription, b.str(t.Description)},
			[2]*ast.Term{kParameters, b.str(t.Parameters)},
		)
	}
	return b.term(ast.NewArray(terms...))
}

func (b *builder) toolCalls(cs []ToolCall) *ast.Term {
	terms := make([]*ast.Term, len(cs))
	for i := range cs {
		c := &cs[i]
		terms[i] = b.obj(
			[2]*ast.Term{kID, b.str(c.ID)},
			[2]*ast.Term{kName, b.sym(c.Name)},
			[2]*ast.Term{kArguments, b.str(c.Arguments)},
		)
	}
	return b.term(ast.NewArray(terms...))
}

func (b *builder) strings(ss []string) *ast.Term {
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = b.sym(s)
	}
	return b.term(ast.NewArray(terms...))
}

// countMap renders a type → count map; when m is nil it is derived from
// findings selected by keep.
func (b *builder) countMap(m map[string]int, findings []Finding, keep func(*Finding) bool) *ast.Term {
	if m == nil {
		// Derive in document order without a Go map (types are few), then
		// build the object at its final size.
		var types [16]string
		var counts [16]int64
		var more map[string]int64 // beyond 16 distinct types
		n := 0
		for i := range findings {
			f := &findings[i]
			if !keep(f) {
				continue
			}
			j := 0
			for j < n && types[j] != f.Type {
				j++
			}
			switch {
			case j < n:
				counts[j]++
			case n < len(types):
				types[n], counts[n] = f.Type, 1
				n++
			default:
				if more == nil {
					more = map[string]int64{}
				}
				more[f.Type]++
			}
		}
		if n == 0 {
			return emptyCounts // shared: nothing changes an input value
		}
		var buf [16][2]*ast.Term
		pairs := buf[:0]
		for j := range n {
			pairs = append(pairs, [2]*ast.Term{b.sym(types[j]), b.int(counts[j])})
		}
		for t, c := range more {
			pairs = append(pairs, [2]*ast.Term{b.sym(t), b.int(c)})
		}
		return b.term(ast.NewObject(pairs...))
	}
	pairs := make([][2]*ast.Term, 0, len(m))
	for t, c := range m {
		pairs = append(pairs, [2]*ast.Term{b.sym(t), b.int(int64(c))})
	}
	return b.term(ast.NewObject(pairs...))
}

var emptyCounts = ast.ObjectTerm()

func isNew(f *Finding) bool { return f.Role == "output" && !f.InInput }
func isAny(*Finding) bool   { return true }

func (b *builder) detectors(d *Detectors) *ast.Term {
	var findings []*ast.Term
	if b.findings {
		findings = make([]*ast.Term, len(d.PHI.Findings))
	}
	for i := range findings {
		f := &d.PHI.Findings[i]
		findings[i] = b.obj(
			[2]*ast.Term{kType, b.sym(f.Type)},
			[2]*ast.Term{kRole, b.sym(f.Role)},
			[2]*ast.Term{kMessageIndex, b.int(int64(f.MessageIndex))},
			[2]*ast.Term{kStart, b.int(int64(f.Start))},
			[2]*ast.Term{kEnd, b.int(int64(f.End))},
			[2]*ast.Term{kScore, b.float(f.Score)},
			[2]*ast.Term{kInInput, boolean(f.InInput)},
		)
	}
	phi := [][2]*ast.Term{
		{kCount, b.phiField(&d.PHI, "count")},
		{kByType, b.phiField(&d.PHI, "by_type")},
		{kNewByType, b.phiField(&d.PHI, "new_by_type")},
	}
	if b.findings {
		phi = append(phi, [2]*ast.Term{kFindings, b.term(ast.NewArray(findings...))})
	}
	pairs := make([][2]*ast.Term, 1, 3)
	pairs[0] = [2]*ast.Term{kPHI, b.obj(phi...)}
	if d.Injection != nil {
		pairs = append(pairs, [2]*ast.Term{kInjection, b.obj(
			[2]*ast.Term{kScore, b.injectionField(d.Injection, "score")},
			[2]*ast.Term{kRules, b.injectionField(d.Injection, "rules")},
		)})
	}
	if d.Topic != nil {
		pairs = append(pairs, [2]*ast.Term{kTopic, b.obj(
			[2]*ast.Term{kInScope, b.topicField(d.Topic, "in_scope")},
			[2]*ast.Term{kNearest, b.topicField(d.Topic, "nearest")},
			[2]*ast.Term{kScore, b.topicField(d.Topic, "score")},
			[2]*ast.Term{kDirective, b.topicField(d.Topic, "directive")},
		)})
	}
	return b.obj(pairs...)
}

// The field builders below make one value of a detector object; the
// object builders and lazyInput's deep lookups both use them.

func (b *builder) phiField(p *PHI, name string) *ast.Term {
	switch name {
	case "count":
		count := p.Count
		if count == 0 {
			count = len(p.Findings)
		}
		return b.int(int64(count))
	case "by_type":
		return b.countMap(p.ByType, p.Findings, isAny)
	case "new_by_type":
		return b.countMap(p.NewByType, p.Findings, isNew)
	}
	return nil
}

func (b *builder) injectionField(in *Injection, name string) *ast.Term {
	switch name {
	case "score":
		return b.float(in.Score)
	case "rules":
		return b.strings(in.Rules)
	}
	return nil
}

func (b *builder) topicField(t *Topic, name string) *ast.Term {
	switch name {
	case "in_scope":
		return boolean(t.InScope)
	case "nearest":
		return b.sym(t.Nearest)
	case "score":
		return b.float(t.Score)
	case "directive":
		return boolean(t.Directive)
	}
	return nil
}

// field is one value of the identity object.
func (id *Identity) field(b *builder, name string) *ast.Term {
	switch name {
	case "team":
		return b.str(id.Team)
	case "app":
		return b.str(id.App)
	case "key_id":
		return b.str(id.KeyID)
	case "end_user":
		return b.str(id.EndUser)
	}
	return nil
}

// field is one value of the tokens object.
func (t *Tokens) field(b *builder, name string) *ast.Term {
	switch name {
	case "prompt_estimate":
		return b.int(t.PromptEstimate)
	case "max_output":
		return b.int(t.MaxOutput)
	case "budget":
		if bu := t.Budget; bu != nil {
			return b.obj(
				[2]*ast.Term{kLimit, b.float(bu.Limit)},
				[2]*ast.Term{kSpent, b.float(bu.Spent)},
				[2]*ast.Term{kRemaining, b.float(bu.Remaining)},
				[2]*ast.Term{kUnit, b.str(bu.Unit)},
			)
		}
	}
	return nil
}

func (b *builder) tokens(t *Tokens) *ast.Term {
	pairs := make([][2]*ast.Term, 2, 3)
	pairs[0] = [2]*ast.Term{kPromptEstimate, t.field(b, "prompt_estimate")}
	pairs[1] = [2]*ast.Term{kMaxOutput, t.field(b, "max_output")}
	if t.Budget != nil {
		pairs = append(pairs, [2]*ast.Term{kBudget, t.field(b, "budget")})
	}
	return b.obj(pairs...)
}

func (b *builder) route(r *Route) *ast.Term {
	if p := r.prepared; p != nil && p.name == r.Name && p.baa == r.BAA && slices.Equal(p.allowed, r.AllowedPHI) {
		return p.term // shared: nothing changes an input value
	}
	return b.obj(
		[2]*ast.Term{kName, b.str(r.Name)},
		[2]*ast.Term{kBAA, boolean(r.BAA)},
		[2]*ast.Term{kAllowedPHI, b.strings(r.AllowedPHI)},
	)
}

func (b *builder) output(o *Output) *ast.Term {
	pairs := make([][2]*ast.Term, 0, 6)
	pairs = append(pairs,
		[2]*ast.Term{kText, b.str(o.Text)},
		[2]*ast.Term{kDelta, b.str(o.Delta)},
		[2]*ast.Term{kToolCalls, b.toolCalls(o.ToolCalls)},
		[2]*ast.Term{kFinishReason, b.str(o.FinishReason)},
		[2]*ast.Term{kUsage, b.obj(
			[2]*ast.Term{kInputTokens, b.int(o.Usage.InputTokens)},
			[2]*ast.Term{kOutTokens, b.int(o.Usage.OutputTokens)},
			[2]*ast.Term{kPresent, boolean(o.Usage.Present)},
		)},
	)
	if o.Window != "" {
		pairs = append(pairs, [2]*ast.Term{kWindow, b.str(o.Window)})
	}
	return b.obj(pairs...)
}
