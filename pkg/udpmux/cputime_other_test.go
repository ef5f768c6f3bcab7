//go:build !js && !unix

package udpmux

import "time"

// processCPU returns 0 where getrusage is missing: benchmarks then report no
// CPU cost.
func processCPU() time.Duration { return 0 }
