package connect

import (
	"context"
	"sync"
	"time"

	"github.com/rangecast/rangecast/pkg/rangefs"
)

// Stripes are the extra connections of a download striped over several (rangefs.Striped:
// `rangecast get --connections N`). Over a long lossy path each connection's SCTP
// congestion window sits near the floor the daemon gives it (1 MiB from 10 ms up:
// cmd/native/pathrtt.go), so one connection carries about 1 MiB ÷ RTT whatever the path
// could take; N connections carry up to N times that. At a bottleneck that one connection
// already fills they only take more than their share (docs/BENCHMARKS.md, "Striping").
// They are dialed in the background, so that the download starts at once on the connection
// it has, and each is put to work on the read as it comes up.
type Stripes struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	remotes []*Remote
}

// DialStripes dials n more connections to link's daemon with opts and adds each to st. A
// connection that cannot be set up (the daemon is at its peer limit, say) is left out: the
// others carry the download. report, if not nil, is called from the dialing goroutines with
// each connection's setup time or error.
func DialStripes(ctx context.Context, link string, opts Options, st *rangefs.Striped, n int, report func(time.Duration, error)) *Stripes {
	ctx, cancel := context.WithCancel(ctx)
	s := &Stripes{cancel: cancel}
	for range n {
		s.wg.Go(func() {
			t0 := time.Now()
			r, err := Dial(ctx, link, opts)
			if err != nil {
				if report != nil && ctx.Err() == nil {
					report(0, err)
				}
				return
			}
			s.mu.Lock()
			s.remotes = append(s.remotes, r)
			s.mu.Unlock()
			st.Add(r.Client)
			if report != nil {
				report(time.Since(t0), nil)
			}
		})
	}
	return s
}

// Close stops the dials still under way and closes every connection made. Close the striped
// read first.
func (s *Stripes) Close() error {
	s.cancel()
	s.wg.Wait()
	for _, r := range s.remotes {
		_ = r.Close()
	}
	return nil
}
