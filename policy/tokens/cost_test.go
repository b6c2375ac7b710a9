package tokens

import (
	"strings"
	"testing"

	"github.com/wardhq/ward/extproc/llm"
)

func TestCost(t *testing.T) {
	p, err := NewPricer(PricingConfig{Models: map[string]Price{"house-model": {Input: 1, Output: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		model string
		u     llm.Usage
		want  int64
		known bool
	}{
		// 1000 x 2.50 + 500 x 10 = 7500 micro-USD
		{"gpt-4o plain", "gpt-4o-2024-08-06", llm.Usage{InputTokens: 1000, OutputTokens: 500}, 7500, true},
		// (1000-400) x 2.50 + 400 x 1.25 + 500 x 10 = 1500 + 500 + 5000
		{"gpt-4o cached subset", "gpt-4o", llm.Usage{InputTokens: 1000, CachedTokens: 400, OutputTokens: 500}, 7000, true},
		// mini: 1000 x 0.15 + 10 x 0.60 = 156
		{"gpt-4o-mini longest match", "gpt-4o-mini", llm.Usage{InputTokens: 1000, OutputTokens: 10}, 156, true},
		// 1 token x 0.15 = 0.15 micro-USD rounds to 0
		{"rounding", "gpt-4o-mini", llm.Usage{InputTokens: 1}, 0, true},
		{"rounding up", "gpt-4o-mini", llm.Usage{InputTokens: 4}, 1, true},
		// Anthropic: 100 x 3 + 2000 x 0.30 + 1000 x 3.75 + 50 x 15 = 300+600+3750+750
		{"claude caches additive", "claude-sonnet-4-5-20250929", llm.Usage{InputTokens: 100, CachedTokens: 2000, CacheWriteTokens: 1000, OutputTokens: 50}, 5400, true},
		{"override", "house-model", llm.Usage{InputTokens: 10, OutputTokens: 10}, 30, true},
		{"unknown model", "llama-3", llm.Usage{InputTokens: 10}, 0, false},
		{"negative usage", "gpt-4o", llm.Usage{InputTokens: -5}, 0, false},
		{"absurd usage", "gpt-4o", llm.Usage{OutputTokens: 1 << 40}, 0, false},
		{"cached exceeds input", "gpt-4o", llm.Usage{InputTokens: 1, CachedTokens: 2}, 0, false},
	}
	for _, tt := range tests {
		got, known := p.Cost(tt.model, tt.u)
		if got != tt.want || known != tt.known {
			t.Errorf("%s: Cost = %d, %v; want %d, %v", tt.name, got, known, tt.want, tt.known)
		}
	}
}

func TestNewPricerRejectsBadPrices(t *testing.T) {
	_, err := NewPricer(PricingConfig{Models: map[string]Price{"a": {Input: -1}, "b": {Output: 1e9}}})
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{`pricing.models["a"].input`, `pricing.models["b"].output`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestDefaultPricesAllPriced(t *testing.T) {
	p, err := NewPricer(PricingConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for m := range DefaultPrices {
		if c, ok := p.Cost(m, llm.Usage{InputTokens: 1_000_000, OutputTokens: 1_000_000}); !ok || c <= 0 {
			t.Errorf("%s: cost %d, %v", m, c, ok)
		}
	}
}
