package policy

import (
	"strconv"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/wardhq/ward/extproc/llm"
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
// the policy input.
type PHI struct {
	Count    int            `json:"count"`
	ByType   map[string]int `json:"by_type"`
	Findings []Finding      `json:"findings"`
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
}

// Output is the model's output at the response phases. At response_chunk,
// Text is everything streamed so far and Delta the newest chunk, so
// phrase checks work across chunk boundaries.
type Output struct {
	Text         string     `json:"text"`
	Delta        string     `json:"delta"`
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
	kVersion, kPhase, kProfile, kIdentity, kProvider, kModel, kEndpoint  = key("version"), key("phase"), key("profile"), key("identity"), key("provider"), key("model"), key("endpoint")
	kStream, kMessages, kTools, kToolCalls, kDetectors, kTokens, kRoute  = key("stream"), key("messages"), key("tools"), key("tool_calls"), key("detectors"), key("tokens"), key("route")
	kOutput, kTeam, kApp, kKeyID, kEndUser, kRole, kText, kIndex         = key("output"), key("team"), key("app"), key("key_id"), key("end_user"), key("role"), key("text"), key("index")
	kName, kDescription, kParameters, kID, kArguments, kPHI, kInjection  = key("name"), key("description"), key("parameters"), key("id"), key("arguments"), key("phi"), key("injection")
	kTopic, kCount, kByType, kFindings, kType, kMessageIndex, kStart     = key("topic"), key("count"), key("by_type"), key("findings"), key("type"), key("message_index"), key("start")
	kEnd, kScore, kInInput, kRules, kInScope, kNearest, kPromptEstimate  = key("end"), key("score"), key("in_input"), key("rules"), key("in_scope"), key("nearest"), key("prompt_estimate")
	kMaxOutput, kBudget, kLimit, kSpent, kRemaining, kUnit, kBAA         = key("max_output"), key("budget"), key("limit"), key("spent"), key("remaining"), key("unit"), key("baa")
	kAllowedPHI, kDelta, kFinishReason, kUsage, kInputTokens, kOutTokens = key("allowed_phi"), key("delta"), key("finish_reason"), key("usage"), key("input_tokens"), key("output_tokens")
	kPresent                                                             = key("present")
)

func key(s string) *ast.Term { return ast.StringTerm(s) }

func str(s string) *ast.Term {
	if s == "" {
		return emptyString
	}
	return ast.NewTerm(ast.String(s))
}

var emptyString = ast.StringTerm("")

func integer[T int | int64](n T) *ast.Term {
	if n >= 0 && n < 512 {
		return ast.InternedTerm(int(n))
	}
	return ast.NewTerm(ast.Number(strconv.FormatInt(int64(n), 10)))
}

func float(f float64) *ast.Term {
	if f == 0 {
		return ast.InternedTerm(0)
	}
	return ast.NewTerm(ast.Number(strconv.FormatFloat(f, 'g', -1, 64)))
}

func boolean(b bool) *ast.Term { return ast.InternedTerm(b) }

// AST returns the input document as an OPA value. Strings are shared with
// in (no copies); the caller must not modify in while a decision using the
// value runs.
func (in *Input) AST() ast.Value {
	version := in.Version
	if version == 0 {
		version = InputVersion
	}
	pairs := make([][2]*ast.Term, 0, 15)
	pairs = append(pairs,
		[2]*ast.Term{kVersion, integer(version)},
		[2]*ast.Term{kPhase, str(string(in.Phase))},
		[2]*ast.Term{kProfile, str(in.Profile)},
		[2]*ast.Term{kIdentity, ast.ObjectTerm(
			[2]*ast.Term{kTeam, str(in.Identity.Team)},
			[2]*ast.Term{kApp, str(in.Identity.App)},
			[2]*ast.Term{kKeyID, str(in.Identity.KeyID)},
			[2]*ast.Term{kEndUser, str(in.Identity.EndUser)},
		)},
		[2]*ast.Term{kProvider, str(in.Provider)},
		[2]*ast.Term{kModel, str(in.Model)},
		[2]*ast.Term{kEndpoint, str(in.Endpoint)},
		[2]*ast.Term{kStream, boolean(in.Stream)},
		[2]*ast.Term{kMessages, messagesTerm(in.Messages)},
		[2]*ast.Term{kTools, toolsTerm(in.Tools)},
		[2]*ast.Term{kToolCalls, toolCallsTerm(in.ToolCalls)},
		[2]*ast.Term{kDetectors, in.Detectors.term()},
		[2]*ast.Term{kTokens, in.Tokens.term()},
		[2]*ast.Term{kRoute, in.Route.term()},
	)
	if in.Output != nil {
		pairs = append(pairs, [2]*ast.Term{kOutput, in.Output.term()})
	}
	return ast.NewObject(pairs...)
}

func messagesTerm(ms []Message) *ast.Term {
	terms := make([]*ast.Term, len(ms))
	for i := range ms {
		m := &ms[i]
		terms[i] = ast.ObjectTerm(
			[2]*ast.Term{kRole, str(m.Role)},
			[2]*ast.Term{kText, str(m.Text)},
			[2]*ast.Term{kIndex, integer(m.Index)},
		)
	}
	return ast.ArrayTerm(terms...)
}

func toolsTerm(ts []Tool) *ast.Term {
	terms := make([]*ast.Term, len(ts))
	for i := range ts {
		t := &ts[i]
		terms[i] = ast.ObjectTerm(
			[2]*ast.Term{kName, str(t.Name)},
			[2]*ast.Term{kDescription, str(t.Description)},
			[2]*ast.Term{kParameters, str(t.Parameters)},
		)
	}
	return ast.ArrayTerm(terms...)
}

func toolCallsTerm(cs []ToolCall) *ast.Term {
	terms := make([]*ast.Term, len(cs))
	for i := range cs {
		c := &cs[i]
		terms[i] = ast.ObjectTerm(
			[2]*ast.Term{kID, str(c.ID)},
			[2]*ast.Term{kName, str(c.Name)},
			[2]*ast.Term{kArguments, str(c.Arguments)},
		)
	}
	return ast.ArrayTerm(terms...)
}

func stringsTerm(ss []string) *ast.Term {
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = str(s)
	}
	return ast.ArrayTerm(terms...)
}

func (d *Detectors) term() *ast.Term {
	byType := make([][2]*ast.Term, 0, len(d.PHI.ByType))
	for t, n := range d.PHI.ByType {
		byType = append(byType, [2]*ast.Term{str(t), integer(n)})
	}
	findings := make([]*ast.Term, len(d.PHI.Findings))
	for i := range d.PHI.Findings {
		f := &d.PHI.Findings[i]
		findings[i] = ast.ObjectTerm(
			[2]*ast.Term{kType, str(f.Type)},
			[2]*ast.Term{kRole, str(f.Role)},
			[2]*ast.Term{kMessageIndex, integer(f.MessageIndex)},
			[2]*ast.Term{kStart, integer(f.Start)},
			[2]*ast.Term{kEnd, integer(f.End)},
			[2]*ast.Term{kScore, float(f.Score)},
			[2]*ast.Term{kInInput, boolean(f.InInput)},
		)
	}
	pairs := make([][2]*ast.Term, 1, 3)
	pairs[0] = [2]*ast.Term{kPHI, ast.ObjectTerm(
		[2]*ast.Term{kCount, integer(d.PHI.Count)},
		[2]*ast.Term{kByType, ast.ObjectTerm(byType...)},
		[2]*ast.Term{kFindings, ast.ArrayTerm(findings...)},
	)}
	if d.Injection != nil {
		pairs = append(pairs, [2]*ast.Term{kInjection, ast.ObjectTerm(
			[2]*ast.Term{kScore, float(d.Injection.Score)},
			[2]*ast.Term{kRules, stringsTerm(d.Injection.Rules)},
		)})
	}
	if d.Topic != nil {
		pairs = append(pairs, [2]*ast.Term{kTopic, ast.ObjectTerm(
			[2]*ast.Term{kInScope, boolean(d.Topic.InScope)},
			[2]*ast.Term{kNearest, str(d.Topic.Nearest)},
			[2]*ast.Term{kScore, float(d.Topic.Score)},
		)})
	}
	return ast.ObjectTerm(pairs...)
}

func (t *Tokens) term() *ast.Term {
	pairs := [][2]*ast.Term{
		{kPromptEstimate, integer(t.PromptEstimate)},
		{kMaxOutput, integer(t.MaxOutput)},
	}
	if b := t.Budget; b != nil {
		pairs = append(pairs, [2]*ast.Term{kBudget, ast.ObjectTerm(
			[2]*ast.Term{kLimit, float(b.Limit)},
			[2]*ast.Term{kSpent, float(b.Spent)},
			[2]*ast.Term{kRemaining, float(b.Remaining)},
			[2]*ast.Term{kUnit, str(b.Unit)},
		)})
	}
	return ast.ObjectTerm(pairs...)
}

func (r *Route) term() *ast.Term {
	return ast.ObjectTerm(
		[2]*ast.Term{kName, str(r.Name)},
		[2]*ast.Term{kBAA, boolean(r.BAA)},
		[2]*ast.Term{kAllowedPHI, stringsTerm(r.AllowedPHI)},
	)
}

func (o *Output) term() *ast.Term {
	return ast.ObjectTerm(
		[2]*ast.Term{kText, str(o.Text)},
		[2]*ast.Term{kDelta, str(o.Delta)},
		[2]*ast.Term{kToolCalls, toolCallsTerm(o.ToolCalls)},
		[2]*ast.Term{kFinishReason, str(o.FinishReason)},
		[2]*ast.Term{kUsage, ast.ObjectTerm(
			[2]*ast.Term{kInputTokens, integer(o.Usage.InputTokens)},
			[2]*ast.Term{kOutTokens, integer(o.Usage.OutputTokens)},
			[2]*ast.Term{kPresent, boolean(o.Usage.Present)},
		)},
	)
}
