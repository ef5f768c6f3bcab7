//go:build !js

package udpmux

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/testutil"
)

// TestFloodOfUfrags streams over a pion session through the mux while a
// stranger sends connectivity checks for 10,000 distinct made-up ufrags,
// plus junk: the session completes with the right bytes, the mux keeps at
// most MaxPendingUfrags pending, and the heap does not grow with the flood.
func TestFloodOfUfrags(t *testing.T) {
	testutil.LeakCheck(t)
	const maxPending = 128
	m := newMux(t, Options{MaxPendingUfrags: maxPending})
	s, err := newSession(m)
	require.NoError(t, err)
	defer s.close()
	ctx := testutil.Context(t, 60*time.Second)
	_, err = s.client.Ping(ctx) // connected
	require.NoError(t, err)

	// Build the flood first, so that building it is not measured.
	const distinct = 10_000
	flood := make([][]byte, 0, distinct+4)
	for i := range distinct {
		msg, err := stun.Build(stun.TransactionID, stun.BindingRequest,
			stun.NewUsername(fmt.Sprintf("flood%05d:x", i)), stun.Fingerprint)
		require.NoError(t, err)
		flood = append(flood, msg.Raw)
	}
	check := bindingRequest(t, "junk:x")
	flood = append(flood, []byte("junk"), check[:30], check[:20], make([]byte, 100))

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	// The flood is paced: a UDP socket drops indiscriminately once its
	// buffer is full, so a flood faster than the readers drain would drown
	// the session's datagrams in the kernel, before the mux sees them, and
	// test the machine rather than the mux. 100,000 datagrams/s (10,000
	// under the race detector, which slows the readers tenfold) is far
	// beyond any honest peer's check rate.
	burst := 25 // per sender per millisecond
	if raceEnabled {
		burst = 3
	}
	stop := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	const senders = 4
	for k := range senders {
		sock := sender(t, "udp4")
		wg.Go(func() {
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for i := k; ; {
				for range burst {
					if _, err := sock.WriteTo(flood[i%len(flood)], m.LocalAddr()); err != nil {
						return
					}
					sent.Add(1)
					i += senders
				}
				select {
				case <-stop:
					if i >= len(flood) { // every ufrag sent at least once
						return
					}
				default:
				}
				<-tick.C
			}
		})
	}
	size := 8 << 20
	if raceEnabled {
		size = 2 << 20
	}
	start := time.Now()
	progress := time.AfterFunc(20*time.Second, func() { t.Logf("after 20 s: state %v, stats %+v", s.server.State(), m.Stats()) })
	defer progress.Stop()
	err = s.echo(ctx, size, 16<<10, 7)
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	require.NoError(t, err)

	// The junk was sent last, and the readers may not have read it yet, or a full socket
	// buffer dropped it: send it once more and wait until the mux has counted it.
	junk := sender(t, "udp4")
	for _, b := range flood[distinct:] {
		_, err := junk.WriteTo(b, m.LocalAddr())
		require.NoError(t, err)
	}
	st := waitStats(t, m, 5*time.Second, func(s Stats) bool { return s.DroppedMalformed > 0 })
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc) //nolint:gosec // heap sizes fit
	t.Logf("echoed %d MiB in %v during a flood of %d datagrams; heap %+d KiB; stats %+v",
		size>>20, elapsed.Round(time.Millisecond), sent.Load(), growth>>10, st)

	assert.GreaterOrEqual(t, sent.Load(), int64(distinct), "the flood overlapped the stream")
	assert.LessOrEqual(t, st.PendingUfrags, maxPending)
	assert.Greater(t, st.PendingEvicted, uint64(0))
	assert.NotZero(t, st.DroppedMalformed)
	// Pending state is at most 128 ufrags × 4 held checks × 2 KiB; allow
	// 16 MiB for that, pion's buffers and the runtime's noise.
	assert.Less(t, growth, int64(16<<20), "heap growth")

	s.close()
	st = waitStats(t, m, 5*time.Second, func(s Stats) bool { return s.Conns == 0 })
	assert.Equal(t, 0, st.Addrs)
}

// TestManySessions connects 300 pion sessions at once through one mux port
// (100 under the race detector, where 300 take ~30 s on 2 cores; 20 with
// -short): each server Conn shares the Mux, each client has its own sockets.
// They connect 20 at a time, each echoes 64 KiB and checks it, all stay up
// and answer a ping; then all close, and the mux's tables are empty and
// every goroutine is gone.
func TestManySessions(t *testing.T) {
	testutil.LeakCheck(t)
	n := 300
	if raceEnabled {
		n = 100
	}
	if testing.Short() {
		n = 20
	}
	const batch = 20
	// A short PendingTTL so that the closed ufrags are forgotten soon after
	// (3 × PendingTTL) and the tables can be seen empty.
	m := newMux(t, Options{PendingTTL: 200 * time.Millisecond})
	ctx := testutil.Context(t, 120*time.Second)

	sessions := make([]*session, n)
	defer func() {
		closeAll(sessions)
	}()
	start := time.Now()
	for lo := 0; lo < n; lo += batch {
		var wg sync.WaitGroup
		errs := make([]error, min(batch, n-lo))
		for i := range errs {
			wg.Go(func() {
				s, err := newSession(m)
				if err != nil {
					errs[i] = err
					return
				}
				sessions[lo+i] = s
				errs[i] = s.echo(ctx, 64<<10, 16<<10, byte(lo+i))
			})
		}
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "session %d", lo+i)
		}
	}
	connected := time.Since(start)

	st := m.Stats()
	assert.Equal(t, n, st.Conns)
	// Every session is still up: ping them all.
	var wg sync.WaitGroup
	var failed atomic.Int32
	for _, s := range sessions {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if _, err := s.client.Ping(pctx); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Zero(t, failed.Load(), "sessions that did not answer a ping")

	closeStart := time.Now()
	closeAll(sessions)
	st = waitStats(t, m, 10*time.Second, func(s Stats) bool { return s.Conns == 0 })
	t.Logf("%d sessions connected and echoed in %v, closed in %v; stats %+v",
		n, connected.Round(time.Millisecond), time.Since(closeStart).Round(time.Millisecond), st)
	assert.Equal(t, 0, st.Addrs)
	assert.Equal(t, 0, st.PendingUfrags, "late checks of closed sessions are not new ufrags")
	assert.Equal(t, 0, st.Queued)
	assert.LessOrEqual(t, st.ClosedUfrags, n)
	assert.Zero(t, st.DroppedMalformed)
	st = waitStats(t, m, 5*time.Second, func(s Stats) bool { return s.ClosedUfrags == 0 })
	assert.Equal(t, 0, st.PendingUfrags)
}

// closeAll closes the sessions, 20 at a time.
func closeAll(sessions []*session) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	for _, s := range sessions {
		if s == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.close()
		})
	}
	wg.Wait()
}
