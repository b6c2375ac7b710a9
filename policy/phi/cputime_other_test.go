//go:build !unix

package phi

import "time"

func processCPU() time.Duration { return 0 }
