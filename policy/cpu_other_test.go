//go:build !linux

package policy

import "time"

// CPU times are measured on Linux only; elsewhere the benchmarks report
// wall-clock numbers and a zero cpu-ns/op.
func cpuTime() time.Duration { return 0 }

func threadCPU() time.Duration { return 0 }
