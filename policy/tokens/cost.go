package tokens

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/wardhq/ward/extproc/llm"
)

// Price is a model's list price in US dollars per million tokens. Because
// 1 USD per million tokens is exactly 1 micro-dollar per token, Ward keeps
// prices internally as integer nano-dollars per token and costs as integer
// micro-dollars: no floating point touches a bill.
type Price struct {
	Input       float64 `yaml:"input"`        // uncached prompt tokens
	CachedInput float64 `yaml:"cached_input"` // prompt tokens read from cache
	Output      float64 `yaml:"output"`       // completion tokens, reasoning included
	CacheWrite  float64 `yaml:"cache_write"`  // Anthropic cache creation (5-minute TTL)
}

// PricingConfig overrides or extends the embedded table (config: pricing).
type PricingConfig struct {
	// EffectiveDate of the overriding prices (YYYY-MM-DD), recorded in docs
	// and metrics; informational.
	EffectiveDate string
	// Models maps a model name or family prefix (matched like encodings)
	// to its price; entries replace embedded ones with the same key.
	Models map[string]Price
}

// DefaultPricesEffective is the date the embedded table was compiled from
// the providers' public price pages (openai.com/api/pricing and
// docs.anthropic.com/en/docs/about-claude/pricing, standard tier, no batch
// or regional discounts). Prices change: override them in config.
const DefaultPricesEffective = "2025-11-01"

// DefaultPrices is the embedded pricing table, USD per million tokens.
var DefaultPrices = map[string]Price{
	// OpenAI: cached input is a subset of input_tokens.
	"gpt-5":         {Input: 1.25, CachedInput: 0.125, Output: 10},
	"gpt-5-mini":    {Input: 0.25, CachedInput: 0.025, Output: 2},
	"gpt-5-nano":    {Input: 0.05, CachedInput: 0.005, Output: 0.40},
	"gpt-4.1":       {Input: 2, CachedInput: 0.50, Output: 8},
	"gpt-4.1-mini":  {Input: 0.40, CachedInput: 0.10, Output: 1.60},
	"gpt-4.1-nano":  {Input: 0.10, CachedInput: 0.025, Output: 0.40},
	"gpt-4o":        {Input: 2.50, CachedInput: 1.25, Output: 10},
	"gpt-4o-mini":   {Input: 0.15, CachedInput: 0.075, Output: 0.60},
	"o1":            {Input: 15, CachedInput: 7.50, Output: 60},
	"o1-mini":       {Input: 1.10, CachedInput: 0.55, Output: 4.40},
	"o3":            {Input: 2, CachedInput: 0.50, Output: 8},
	"o3-mini":       {Input: 1.10, CachedInput: 0.55, Output: 4.40},
	"o4-mini":       {Input: 1.10, CachedInput: 0.275, Output: 4.40},
	"gpt-4-turbo":   {Input: 10, CachedInput: 10, Output: 30},
	"gpt-4":         {Input: 30, CachedInput: 30, Output: 60},
	"gpt-3.5-turbo": {Input: 0.50, CachedInput: 0.50, Output: 1.50},
	// Anthropic: input_tokens excludes cache reads and writes; cache reads
	// cost 0.1x input, 5-minute cache writes 1.25x.
	"claude-opus-4-5":   {Input: 5, CachedInput: 0.50, Output: 25, CacheWrite: 6.25},
	"claude-opus-4-1":   {Input: 15, CachedInput: 1.50, Output: 75, CacheWrite: 18.75},
	"claude-opus-4":     {Input: 15, CachedInput: 1.50, Output: 75, CacheWrite: 18.75},
	"claude-sonnet-4-5": {Input: 3, CachedInput: 0.30, Output: 15, CacheWrite: 3.75},
	"claude-sonnet-4":   {Input: 3, CachedInput: 0.30, Output: 15, CacheWrite: 3.75},
	"claude-haiku-4-5":  {Input: 1, CachedInput: 0.10, Output: 5, CacheWrite: 1.25},
	"claude-3-7-sonnet": {Input: 3, CachedInput: 0.30, Output: 15, CacheWrite: 3.75},
	"claude-3-5-sonnet": {Input: 3, CachedInput: 0.30, Output: 15, CacheWrite: 3.75},
	"claude-3-5-haiku":  {Input: 0.80, CachedInput: 0.08, Output: 4, CacheWrite: 1},
	"claude-3-opus":     {Input: 15, CachedInput: 1.50, Output: 75, CacheWrite: 18.75},
	"claude-3-haiku":    {Input: 0.25, CachedInput: 0.03, Output: 1.25, CacheWrite: 0.30},
}

// MaxUsageTokens bounds any single usage figure Ward will price; larger or
// negative figures from an upstream are rejected as absurd.
const MaxUsageTokens = 100_000_000

// nanoPrice is a Price in integer nano-dollars per token.
type nanoPrice struct {
	input, cached, output, cacheWrite int64
	anthropic                         bool
}

// Pricer turns usage into integer micro-dollars. Safe for concurrent use.
type Pricer struct {
	models modelTable[nanoPrice]
}

// NewPricer merges cfg over DefaultPrices and validates it (all errors at
// once, each with its path).
func NewPricer(cfg PricingConfig) (*Pricer, error) {
	merged := make(map[string]Price, len(DefaultPrices)+len(cfg.Models))
	for k, v := range DefaultPrices {
		merged[k] = v
	}
	var errs []error
	for k, v := range cfg.Models {
		path := fmt.Sprintf("pricing.models[%q]", k)
		if strings.TrimSpace(k) == "" {
			errs = append(errs, errors.New("pricing.models: empty model name"))
			continue
		}
		for _, f := range []struct {
			name string
			v    float64
		}{{"input", v.Input}, {"cached_input", v.CachedInput}, {"output", v.Output}, {"cache_write", v.CacheWrite}} {
			if math.IsNaN(f.v) || f.v < 0 || f.v > 10_000 {
				errs = append(errs, fmt.Errorf("%s.%s: %v outside [0, 10000] USD per million tokens", path, f.name, f.v))
			}
		}
		merged[k] = v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	table := make(map[string]nanoPrice, len(merged))
	for k, v := range merged {
		np := nanoPrice{
			input: toNano(v.Input), cached: toNano(v.CachedInput),
			output: toNano(v.Output), cacheWrite: toNano(v.CacheWrite),
			anthropic: IsAnthropic(k),
		}
		if v.CachedInput == 0 && !np.anthropic {
			np.cached = np.input // no cache discount published
		}
		table[k] = np
	}
	return &Pricer{models: newModelTable(table)}, nil
}

// toNano converts USD per million tokens to nano-dollars per token.
func toNano(usdPerM float64) int64 { return int64(math.Round(usdPerM * 1000)) }

// CheckUsage rejects usage an upstream should never report: negative
// figures, figures above MaxUsageTokens, and cached or reasoning subsets
// larger than their totals (OpenAI semantics).
func CheckUsage(model string, u llm.Usage) error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int64
	}{{"input", u.InputTokens}, {"output", u.OutputTokens}, {"cached", u.CachedTokens}, {"cache_write", u.CacheWriteTokens}, {"reasoning", u.ReasoningTokens}} {
		if f.v < 0 || f.v > MaxUsageTokens {
			errs = append(errs, fmt.Errorf("usage.%s_tokens: %d outside [0, %d]", f.name, f.v, MaxUsageTokens))
		}
	}
	if u.ReasoningTokens > u.OutputTokens {
		errs = append(errs, fmt.Errorf("usage.reasoning_tokens: %d exceeds output_tokens %d", u.ReasoningTokens, u.OutputTokens))
	}
	if !IsAnthropic(model) && u.CachedTokens > u.InputTokens {
		errs = append(errs, fmt.Errorf("usage.cached_tokens: %d exceeds input_tokens %d", u.CachedTokens, u.InputTokens))
	}
	return errors.Join(errs...)
}

// Cost prices usage for model in integer micro-dollars, rounded to the
// nearest micro-dollar. known is false when the model has no price or the
// usage fails CheckUsage (the caller flags the audit event); the cost is
// then 0.
func (p *Pricer) Cost(model string, u llm.Usage) (microUSD int64, known bool) {
	np, _, ok := p.models.lookup(model)
	if !ok || CheckUsage(model, u) != nil {
		return 0, false
	}
	var nano int64
	if np.anthropic {
		nano = u.InputTokens*np.input + u.CachedTokens*np.cached + u.CacheWriteTokens*np.cacheWrite
	} else {
		nano = (u.InputTokens-u.CachedTokens)*np.input + u.CachedTokens*np.cached
	}
	nano += u.OutputTokens * np.output
	// Bounded: 4 fields x 1e8 tokens x 1e7 nano-USD fits easily in int64.
	return (nano + 500) / 1000, true
}
