package tokens

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/wardhq/ward/extproc/llm"
)

// Config is the tokens section of Ward's config.
type Config struct {
	// Models maps a model name or family prefix to an encoding name
	// ("o200k_base" or "cl100k_base"), merged over DefaultModelEncodings;
	// use it for Azure deployment names and new model families.
	Models map[string]string
	// Fallback is the encoding for models matching nothing (default
	// o200k_base). Counts made with it are flagged UnknownModel.
	Fallback string
	// AnthropicRatio scales a Fallback-encoding count into an estimate of
	// Anthropic's tokens (default DefaultAnthropicRatio; see docs/tokens.md).
	AnthropicRatio float64
}

// DefaultAnthropicRatio is the default Anthropic/o200k_base token ratio. It
// is deliberately on the high side so pre-request budget checks err towards
// over-counting; the response's usage corrects the figure afterwards.
const DefaultAnthropicRatio = 1.25

// Counter resolves models to encodings and counts text and requests. It is
// safe for concurrent use.
type Counter struct {
	models   modelTable[*Encoding]
	fallback *Encoding
	ratio    float64

	toolMu    sync.Mutex
	toolCache map[toolKey]int
}

// toolKey identifies a tool definition counted with one encoding; a struct
// of strings so look-ups do not allocate.
type toolKey struct {
	enc                    *Encoding
	name, desc, parameters string
}

// Estimate is a token count with its provenance.
type Estimate struct {
	Tokens   int64
	Encoding string
	// Exact is true when the model's tokenizer is known and everything in
	// the input is covered by OpenAI's published counting rules; false for
	// unknown models, Anthropic estimates, and requests with image/audio
	// parts or assistant tool calls (no published formula).
	Exact bool
	// UnknownModel is set when no table entry matched and Fallback was used.
	UnknownModel bool
	// UnpricedParts counts image, audio and file parts that were not
	// counted (llm.Request.NonTextParts).
	UnpricedParts int
}

// New validates cfg (all errors at once, each with its path) and loads the
// encodings it needs.
func New(cfg Config) (*Counter, error) {
	if cfg.Fallback == "" {
		cfg.Fallback = O200KBase
	}
	if cfg.AnthropicRatio == 0 {
		cfg.AnthropicRatio = DefaultAnthropicRatio
	}
	var errs []error
	checkEnc := func(path, name string) {
		if name != O200KBase && name != CL100KBase {
			errs = append(errs, fmt.Errorf("%s: unsupported encoding %q (want %s or %s)", path, name, O200KBase, CL100KBase))
		}
	}
	checkEnc("tokens.fallback", cfg.Fallback)
	if math.IsNaN(cfg.AnthropicRatio) || cfg.AnthropicRatio < 0.5 || cfg.AnthropicRatio > 3 {
		errs = append(errs, fmt.Errorf("tokens.anthropic_ratio: %v outside [0.5, 3]", cfg.AnthropicRatio))
	}
	merged := make(map[string]string, len(DefaultModelEncodings)+len(cfg.Models))
	for k, v := range DefaultModelEncodings {
		merged[k] = v
	}
	for k, v := range cfg.Models {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, errors.New("tokens.models: empty model name"))
			continue
		}
		checkEnc(fmt.Sprintf("tokens.models[%q]", k), v)
		merged[k] = v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	encs := map[string]*Encoding{}
	load := func(name string) (*Encoding, error) {
		if e, ok := encs[name]; ok {
			return e, nil
		}
		e, err := GetEncoding(name)
		encs[name] = e
		return e, err
	}
	table := make(map[string]*Encoding, len(merged))
	for k, v := range merged {
		e, err := load(v)
		if err != nil {
			return nil, err
		}
		table[k] = e
	}
	fb, err := load(cfg.Fallback)
	if err != nil {
		return nil, err
	}
	return &Counter{
		models:    newModelTable(table),
		fallback:  fb,
		ratio:     cfg.AnthropicRatio,
		toolCache: map[toolKey]int{},
	}, nil
}

// IsAnthropic reports whether model names an Anthropic (Claude) model.
func IsAnthropic(model string) bool {
	return strings.HasPrefix(normaliseModel(model), "claude")
}

// EncodingFor returns the encoding for model and whether the model was
// found in the table (false: the fallback encoding).
func (c *Counter) EncodingFor(model string) (*Encoding, bool) {
	if e, _, ok := c.models.lookup(model); ok {
		return e, true
	}
	return c.fallback, false
}

// Text counts plain text for model (no chat overheads).
func (c *Counter) Text(model, text string) Estimate {
	if IsAnthropic(model) {
		n := c.fallback.Count(text)
		return Estimate{Tokens: c.anthropic(n), Encoding: c.fallback.name}
	}
	enc, known := c.EncodingFor(model)
	return Estimate{Tokens: int64(enc.Count(text)), Encoding: enc.name, Exact: known, UnknownModel: !known}
}

func (c *Counter) anthropic(n int) int64 {
	return int64(math.Ceil(float64(n) * c.ratio))
}

// OpenAI chat-format overheads, from OpenAI's cookbook "How to count tokens
// with tiktoken" (num_tokens_from_messages and num_tokens_for_tools); see
// docs/tokens.md.
const (
	tokensPerMessage = 3  // <|start|>{role}<|message|> ... <|end|>
	tokensPerName    = 1  // an explicit "name" field
	replyPriming     = 3  // <|start|>assistant<|message|>
	toolFuncEnd      = 12 // once, when tools are present
	toolPropInit     = 3
	toolPropKey      = 3
	toolEnumInit     = -3
	toolEnumItem     = 3
)

// Request estimates the prompt tokens of a normalised request as the
// provider will report them in usage.prompt_tokens (OpenAI) or
// input_tokens (Anthropic, estimated).
func (c *Counter) Request(req *llm.Request) Estimate {
	anth := req.Provider == llm.ProviderAnthropic || IsAnthropic(req.Model)
	enc, known := c.EncodingFor(req.Model)
	if anth {
		enc, known = c.fallback, true
	}
	var n int
	lastMsg, first := 0, true
	for i := range req.Parts {
		p := &req.Parts[i]
		if first || p.Message != lastMsg {
			// A new message: fixed overhead plus its role.
			n += tokensPerMessage + enc.Count(roleText(p.Role))
			lastMsg, first = p.Message, false
		}
		n += enc.Count(p.Text)
	}
	for _, tc := range req.ToolCalls {
		// Assistant tool calls in the history: OpenAI publishes no formula;
		// name and arguments text is what they consist of.
		n += enc.Count(tc.Name) + enc.Count(tc.Arguments)
	}
	if len(req.Tools) > 0 {
		n += c.toolsTokens(enc, req.Tools)
	}
	n += replyPriming
	est := Estimate{Encoding: enc.name, UnpricedParts: req.NonTextParts}
	switch {
	case anth:
		est.Tokens = c.anthropic(n)
	default:
		est.Tokens = int64(n)
		est.Exact = known && req.NonTextParts == 0 && len(req.ToolCalls) == 0
		est.UnknownModel = !known
	}
	return est
}

func roleText(r llm.Role) string {
	if r == "" {
		return string(llm.RoleUser)
	}
	return string(r)
}

// toolsTokens applies OpenAI's cookbook formula for function definitions:
// per function func_init + tokens("name:description") [+ prop_init + per
// property prop_key + tokens("key:type:description") + enum items], then
// func_end once. func_init is 7 for o200k_base models and 10 for
// cl100k_base ones. Results are cached per definition: apps resend the same
// tools with every request.
func (c *Counter) toolsTokens(enc *Encoding, tools []llm.Tool) int {
	funcInit := 7
	if enc.name == CL100KBase {
		funcInit = 10
	}
	n := toolFuncEnd
	for _, t := range tools {
		key := toolKey{enc, t.Name, t.Description, t.Parameters}
		c.toolMu.Lock()
		v, ok := c.toolCache[key]
		c.toolMu.Unlock()
		if !ok {
			v = funcInit + toolTokens(enc, t)
			c.toolMu.Lock()
			if len(c.toolCache) >= 4096 { // bounded: forget everything rather than grow
				clear(c.toolCache)
			}
			// Clone: the strings may point into a whole request body.
			c.toolCache[toolKey{enc, strings.Clone(t.Name), strings.Clone(t.Description), strings.Clone(t.Parameters)}] = v
			c.toolMu.Unlock()
		}
		n += v
	}
	return n
}

type schemaProperty struct {
	Type        json.RawMessage   `json:"type"`
	Description string            `json:"description"`
	Enum        []json.RawMessage `json:"enum"`
}

func toolTokens(enc *Encoding, t llm.Tool) int {
	n := enc.Count(t.Name + ":" + strings.TrimSuffix(t.Description, "."))
	var schema struct {
		Properties map[string]schemaProperty `json:"properties"`
	}
	if t.Parameters == "" || json.Unmarshal([]byte(t.Parameters), &schema) != nil {
		// Unparseable schema: count its text so the estimate is not low.
		return n + enc.Count(t.Parameters)
	}
	if len(schema.Properties) == 0 {
		return n
	}
	n += toolPropInit
	for name, p := range schema.Properties {
		n += toolPropKey
		if len(p.Enum) > 0 {
			n += toolEnumInit
			for _, item := range p.Enum {
				n += toolEnumItem + enc.Count(jsonText(item))
			}
		}
		n += enc.Count(name + ":" + jsonText(p.Type) + ":" + strings.TrimSuffix(p.Description, "."))
	}
	return n
}

// jsonText returns a JSON string's value, or other JSON as written.
func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}
