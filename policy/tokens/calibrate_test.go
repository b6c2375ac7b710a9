package tokens

import (
	"math"
	"testing"
)

func TestCalibrator(t *testing.T) {
	c := NewCalibrator()
	if got := c.Adjust("claude-sonnet-4-5", 1000); got != 1000 {
		t.Fatalf("uncalibrated Adjust = %d", got)
	}
	c.Observe("claude-sonnet-4-5", 1000, 900) // first observation sets the ratio
	if r := c.Ratio("Claude-Sonnet-4-5"); math.Abs(r-0.9) > 1e-9 {
		t.Fatalf("ratio = %v, want 0.9", r)
	}
	c.Observe("claude-sonnet-4-5", 1000, 1900) // 0.9 + 0.1*(1.9-0.9) = 1.0
	if r := c.Ratio("claude-sonnet-4-5"); math.Abs(r-1.0) > 1e-9 {
		t.Fatalf("ratio = %v, want 1.0", r)
	}
	for _, bad := range [][2]int64{{10, 100}, {1000, 0}, {1000, -5}, {1000, 10_000}, {1000, 100}} {
		c.Observe("claude-sonnet-4-5", bad[0], bad[1])
	}
	if r := c.Ratio("claude-sonnet-4-5"); math.Abs(r-1.0) > 1e-9 {
		t.Fatalf("implausible observations moved the ratio to %v", r)
	}
	c.Observe("claude-haiku-4-5", 100, 120)
	if got := c.Adjust("claude-haiku-4-5", 101); got != 122 { // ceil(121.2)
		t.Fatalf("Adjust = %d, want 122", got)
	}
}
