package wan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPath(t *testing.T) {
	for _, tc := range []struct {
		path Path
		name string
		dir  Direction
	}{
		{Path{RTT: 50 * time.Millisecond}, "rtt=50ms", Direction{Delay: 25 * time.Millisecond}},
		{
			Path{RTT: 100 * time.Millisecond, Loss: 0.01, RateBps: 20_000_000},
			"rtt=100ms loss=1% rate=20Mbit/s queue=50ms",
			Direction{Delay: 50 * time.Millisecond, Loss: 0.01, RateBps: 20_000_000},
		},
		{
			Path{RTT: 20 * time.Millisecond, RateBps: 1_500_000, Queue: 200 * time.Millisecond},
			"rtt=20ms rate=1.5Mbit/s queue=200ms",
			Direction{Delay: 10 * time.Millisecond, RateBps: 1_500_000, Queue: 200 * time.Millisecond},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.name, tc.path.String())
			assert.Equal(t, Config{AtoB: tc.dir, BtoA: tc.dir}, tc.path.Config())
		})
	}
}
