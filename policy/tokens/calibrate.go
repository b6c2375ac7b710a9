package tokens

import (
	"math"
	"sync"
)

// Calibrator corrects inexact pre-request estimates (Anthropic, unknown
// models) with what providers later report: per model it keeps an
// exponentially weighted mean of reported/estimated prompt tokens and
// scales new estimates by it. For Anthropic the reported figure is the whole
// prompt: input_tokens + cache_read_input_tokens +
// cache_creation_input_tokens. Safe for concurrent use.
type Calibrator struct {
	mu     sync.Mutex
	ratios map[string]float64
}

const (
	calibAlpha     = 0.1  // weight of each new observation
	calibMinTokens = 16   // below this, fixed overheads dominate the ratio
	calibMaxModels = 1024 // bound on distinct model keys
)

// NewCalibrator returns an empty Calibrator (every model starts at 1.0).
func NewCalibrator() *Calibrator { return &Calibrator{ratios: map[string]float64{}} }

// Observe records one request's estimate and the provider-reported prompt
// tokens. Implausible pairs (tiny, non-positive, or off by more than 4x)
// are ignored so one odd response cannot skew the model's ratio.
func (c *Calibrator) Observe(model string, estimated, reported int64) {
	if estimated < calibMinTokens || reported <= 0 {
		return
	}
	r := float64(reported) / float64(estimated)
	if r < 0.25 || r > 4 {
		return
	}
	key := normaliseModel(model)
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.ratios[key]
	if !ok {
		if len(c.ratios) >= calibMaxModels {
			clear(c.ratios)
		}
		c.ratios[key] = r
		return
	}
	c.ratios[key] = old + calibAlpha*(r-old)
}

// Ratio returns the learned reported/estimated ratio for model (1 if none).
func (c *Calibrator) Ratio(model string) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.ratios[normaliseModel(model)]; ok {
		return r
	}
	return 1
}

// Adjust scales an estimate by the model's learned ratio, rounding up.
func (c *Calibrator) Adjust(model string, estimated int64) int64 {
	return int64(math.Ceil(float64(estimated) * c.Ratio(model)))
}
