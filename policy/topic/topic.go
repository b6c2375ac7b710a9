// Package topic is a per-app topic-scope classifier: a multinomial naive
// Bayes model over words, word pairs and character trigrams, trained at
// config load from a handful of example prompts per topic. It gives Rego an
// in-scope probability and the nearest topic, so an "order burritos" app can
// refuse coding help and a "clinical summarisation" app unrelated tasks,
// without calling a model.
package topic

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// AppSpec lists example prompts per topic for one app.
type AppSpec struct {
	Allowed    map[string][]string `json:"allowed" yaml:"allowed"`
	Disallowed map[string][]string `json:"disallowed" yaml:"disallowed"`
}

// Result is the verdict for one text; its JSON form is what `ward scan
// --app` and the policy input carry.
type Result struct {
	// InScope is the probability that the text belongs to an allowed topic,
	// discounted when the text shares little vocabulary with the app.
	InScope float64 `json:"in_scope"`
	// Nearest is the most probable topic (allowed, disallowed or "other").
	Nearest string `json:"nearest"`
	// Known is false when the app has no topic spec; the other fields are
	// then zero and the policy decides what an unknown app may do.
	Known bool `json:"known"`
	// Directive is true when the text tells the assistant to perform a
	// task ("write …", "now you are …", "I want you to …"; see Directive)
	// rather than only asking a question. rego/scope.rego's
	// "refuse_directives" mode refuses an off-topic text only when it is
	// a directive. It says nothing about scope: polite requests in scope
	// ("Please summarise this note") are directives too.
	Directive bool `json:"directive"`
}

// DefaultThreshold is the InScope probability at which Ward's policy input
// reports a text as in scope (policy.Topic.InScope); Score carries InScope.
const DefaultThreshold = 0.5

// InScopeAt reports whether r is in scope at threshold th; always false for
// an unknown app.
func (r Result) InScopeAt(th float64) bool { return r.Known && r.InScope >= th }

// OtherTopic is the built-in disallowed background topic (general requests
// such as coding, trivia or creative writing), added to every app unless the
// spec defines a topic with the same name.
const OtherTopic = "other"

const (
	alpha         = 0.5 // Laplace smoothing
	minCoverage   = 0.5 // share of words known to allowed topics below which InScope is discounted
	trigramWeight = 0.3 // character trigrams help with morphology but blur domains
	maxText       = 64 << 10
)

// Classifier holds one model per app. It is immutable after New and safe for
// concurrent use.
type Classifier struct {
	apps map[string]*model
	pool sync.Pool // *[]uint64 feature buffers
}

type model struct {
	topics  []string
	allowed []bool
	prior   []float64            // log P(topic)
	logp    map[uint64][]float64 // log P(feature | topic), for features in the vocabulary
	inWords map[uint64]bool      // words seen in allowed examples
}

var seed = maphash.MakeSeed()

// New validates spec (all errors at once, each with its path) and trains
// one model per app.
func New(spec map[string]AppSpec) (*Classifier, error) {
	var errs []error
	apps := make([]string, 0, len(spec))
	for app := range spec {
		apps = append(apps, app)
	}
	sort.Strings(apps)
	for _, app := range apps {
		errs = append(errs, validate(app, spec[app])...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("topic: invalid spec: %w", err)
	}
	c := &Classifier{apps: make(map[string]*model, len(spec))}
	c.pool.New = func() any { b := make([]uint64, 0, 256); return &b }
	for _, app := range apps {
		c.apps[app] = train(spec[app])
	}
	return c, nil
}

func validate(app string, s AppSpec) []error {
	var errs []error
	p := "apps." + app
	if strings.TrimSpace(app) == "" {
		errs = append(errs, errors.New("apps: empty app name"))
	}
	if len(s.Allowed) == 0 {
		errs = append(errs, fmt.Errorf("%s.allowed: at least one allowed topic is required", p))
	}
	check := func(kind string, topics map[string][]string) {
		for name, ex := range topics {
			tp := fmt.Sprintf("%s.%s.%s", p, kind, name)
			if strings.TrimSpace(name) == "" {
				errs = append(errs, fmt.Errorf("%s.%s: empty topic name", p, kind))
			}
			if len(ex) == 0 {
				errs = append(errs, fmt.Errorf("%s: no example prompts", tp))
			}
			for i, e := range ex {
				if strings.TrimSpace(e) == "" {
					errs = append(errs, fmt.Errorf("%s[%d]: empty example", tp, i))
				}
			}
		}
	}
	check("allowed", s.Allowed)
	check("disallowed", s.Disallowed)
	for name := range s.Allowed {
		if _, dup := s.Disallowed[name]; dup {
			errs = append(errs, fmt.Errorf("%s: topic %q is both allowed and disallowed", p, name))
		}
	}
	return errs
}

func train(s AppSpec) *model {
	type topicData struct {
		name    string
		allowed bool
		ex      []string
	}
	var ts []topicData
	add := func(m map[string][]string, allowed bool) {
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			ts = append(ts, topicData{n, allowed, m[n]})
		}
	}
	add(s.Allowed, true)
	add(s.Disallowed, false)
	if _, ok := s.Allowed[OtherTopic]; !ok {
		if _, ok := s.Disallowed[OtherTopic]; !ok {
			ts = append(ts, topicData{OtherTopic, false, otherExamples})
		}
	}
	m := &model{logp: map[uint64][]float64{}, inWords: map[uint64]bool{}}
	counts := make([]map[uint64]float64, len(ts))
	totals := make([]float64, len(ts))
	var nex float64
	var buf []uint64
	for i, t := range ts {
		m.topics = append(m.topics, t.name)
		m.allowed = append(m.allowed, t.allowed)
		counts[i] = map[uint64]float64{}
		for _, e := range t.ex {
			buf = features(buf[:0], e)
			for _, f := range buf {
				counts[i][f]++
				totals[i]++
				m.logp[f] = nil
				if t.allowed && f&kindMask == kindWord {
					m.inWords[f] = true
				}
			}
		}
		nex += float64(len(t.ex))
	}
	v := float64(len(m.logp))
	for f := range m.logp {
		lp := make([]float64, len(ts))
		for i := range ts {
			lp[i] = math.Log((counts[i][f] + alpha) / (totals[i] + alpha*v))
		}
		m.logp[f] = lp
	}
	// Uniform topic priors: the number of examples per topic says how much
	// the author wrote, not how often users ask about it.
	for range ts {
		m.prior = append(m.prior, -math.Log(float64(len(ts))))
	}
	return m
}

// Apps lists the configured apps.
func (c *Classifier) Apps() []string {
	out := make([]string, 0, len(c.apps))
	for a := range c.apps {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Classify scores text against app's topics. Unknown apps return Known=false.
func (c *Classifier) Classify(app, text string) Result {
	m := c.apps[app]
	if m == nil {
		return Result{}
	}
	if len(text) > maxText {
		text = text[:maxText]
	}
	bp := c.pool.Get().(*[]uint64)
	fs := features((*bp)[:0], text)
	scores := make([]float64, len(m.topics))
	copy(scores, m.prior)
	words, known := 0, 0
	for _, f := range fs {
		kind := f & kindMask
		if kind == kindWord {
			words++
			if m.inWords[f] {
				known++
			}
		}
		lp, ok := m.logp[f]
		if !ok {
			continue
		}
		w := 1.0
		if kind == kindTrigram {
			w = trigramWeight
		}
		for i := range scores {
			scores[i] += w * lp[i]
		}
	}
	*bp = fs
	c.pool.Put(bp)

	best := 0
	mx := math.Inf(-1)
	for i, s := range scores {
		if s > mx {
			mx, best = s, i
		}
	}
	var sum, in float64
	for i, s := range scores {
		p := math.Exp(s - mx)
		sum += p
		if m.allowed[i] {
			in += p
		}
	}
	inScope := in / sum
	directive := Directive(text)
	if words == 0 {
		return Result{InScope: 0, Nearest: OtherTopic, Known: true, Directive: directive}
	}
	// Text whose words the allowed examples never use is out of scope even
	// when naive Bayes, forced to choose, prefers an allowed topic.
	if cov := float64(known) / float64(words); cov < minCoverage {
		inScope *= cov / minCoverage
	}
	return Result{InScope: inScope, Nearest: m.topics[best], Known: true, Directive: directive}
}

// Feature kinds live in the two low bits of the feature hash.
const (
	kindMask    uint64 = 3
	kindWord    uint64 = 0
	kindBigram  uint64 = 1
	kindTrigram uint64 = 2
)

// features appends hashed features of text: words (minus stop words), word
// pairs and character trigrams of each word. Linear in len(text).
func features(dst []uint64, text string) []uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	hash := func(kind uint64, a, b []byte) uint64 {
		h.Reset()
		h.Write(a)
		if b != nil {
			h.WriteByte(' ')
			h.Write(b)
		}
		return h.Sum64()&^kindMask | kind
	}
	// word holds "^" + the lower-cased word + "$"; prev the previous word.
	var word, prevBuf [66]byte
	var prev []byte
	word[0] = '^'
	for i := 0; i < len(text); {
		var w []byte
		w, _, i = nextWord(text, i, word[1:])
		if len(w) < 2 || stop[string(w)] {
			continue
		}
		w = stem(w)
		dst = append(dst, hash(kindWord, w, nil))
		if prev != nil {
			dst = append(dst, hash(kindBigram, prev, w))
		}
		prev = append(prevBuf[:0], w...)
		g := word[:len(w)+2]
		g[len(g)-1] = '$'
		for j := 0; j+3 <= len(g); j++ {
			dst = append(dst, hash(kindTrigram, g[j:j+3], nil))
		}
	}
	return dst
}

// nextWord finds the first word of text at or after byte i: a run of
// letters and digits, apostrophes inside it dropped ("don't" is "dont"). It
// lower-cases the word into buf (truncated to len(buf)-1-utf8.UTFMax bytes)
// and returns it with the word's start and end offsets; w is empty and
// start == end == len(text) when no word is left.
func nextWord(text string, i int, buf []byte) (w []byte, start, end int) {
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			break
		}
		i += size
	}
	start = i
	n := 0
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' {
			break
		}
		i += size
		if n+utf8.UTFMax < len(buf)-1 && r != '\'' {
			n += utf8.EncodeRune(buf[n:], unicode.ToLower(r))
		}
	}
	return buf[:n], start, i
}

// stem strips a few English plural / verb endings (in place) so
// "burritos", "burrito" and "ordering", "order" share a feature.
func stem(w []byte) []byte {
	for _, suf := range [...]string{"ing", "ies", "es", "ed", "s"} {
		if len(w) > len(suf)+2 && string(w[len(w)-len(suf):]) == suf {
			if suf == "ies" {
				w[len(w)-3] = 'y'
				return w[:len(w)-2]
			}
			return w[:len(w)-len(suf)]
		}
	}
	return w
}

// stop holds function words of English, German, Spanish and French (the
// languages Ward's detectors cover). They carry no topic but do carry the
// language: without them a German prompt, whatever it asks, shares "der /
// und / ist" with an app's German examples and none of it with the English
// background topic, so the language alone would decide the scope. Words that
// are also common English content words ("war", "man", "son", "sin",
// "pain", "plus", "era") are left out, and so is French "dont", which is how
// the tokenizer sees English "don't"; German "die" is kept (far more
// frequent as an article than the English verb in prompts).
var stop = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or but if of to in on at by for with from as is are was were be been
		being am do does did have has had i me my we our you your he she it its they them their this that these those
		what which who whom how when where why can could would should will shall may might must please
		there here not no so than then too very just also about into over out up down any some all
		get got getting need needs want wanted know like make made go going gone see tell help thanks thank
		yes yeah ok okay um uh oh well really right now still yet already again much many more most
		one two three time times day days way thing things something anything nothing im i'm i've i'd
		don't doesn't didn't can't won't isn't it's that's there's let let's us him her his hers them
		good great fine new old last next first other same own sure think said say says

		der die das den dem des ein eine einen einem einer eines und oder aber doch denn wenn dass daß ob weil
		als wie was wer wen wem wo wann warum wieso weshalb woher wohin welche welcher welches welchen welchem
		ich du er sie es wir ihr mich dich sich uns euch mir dir ihm ihn ihnen mein meine meinen meinem meiner
		dein deine deinen deinem deiner sein seine seinen seinem seiner ihre ihren ihrem ihrer unser unsere
		ist sind bin bist seid waren wird werden wurde wurden hat habe hast haben hatte hätte kann kannst
		können könnte muss müssen soll sollte will möchte würde würden nicht kein keine keinen keinem auch noch
		nur schon sehr so zu zum zur im am auf aus bei mit nach von vom vor für über unter um durch gegen ohne
		bis seit hier da dort dann jetzt nun mal bitte ja nein gibt gib alle alles etwas diese dieser dieses
		diesen diesem gerne gern viel viele

		el la los las un una unos unas y o pero que qué de del al en con por para sobre entre es son está
		están estoy soy eres ser fue me te se nos le les lo mi mis tu tus su sus yo tú él ella ellos ellas
		nosotros usted como cómo cuál cuáles cuando cuándo donde dónde quién porque muy más ya también sí si
		hay este esta estos estas ese esa eso esto algo todo todos puedo puedes

		le la les un une des du de et ou mais que qui quoi où est sont suis es être ai as avons avez
		ont je tu il elle nous vous ils elles moi toi lui leur leurs mon ma mes ton ta tes sa ses notre nos
		votre vos ce cette ces cet ne pas au aux dans sur pour par avec sans sous comme quand comment
		pourquoi quel quelle quels quelles très aussi tout tous toute toutes peux peut`) {
		m[w] = true
	}
	delete(m, "son") // Spanish "son" (are) is the English noun
	return m
}()
