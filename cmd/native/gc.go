package main

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The garbage collector's settings for rangecast, where the environment leaves them unset.
//
// pion's SCTP and DTLS copy every byte sent about seven times into fresh buffers (packetize,
// chunk, packet, record, seal), so a transfer allocates about nine bytes for each byte it
// moves while the live heap stays small: with Go's default GOGC=100 a daemon serving 50 MB/s
// collected dozens of times a second, and collection and allocation were about a quarter of
// its CPU. So:
//   - busy, the collector runs at gcPercent, a quarter as often (the soft gcMemoryLimit keeps
//     the heap from growing past it however many sessions are live);
//   - idle, the garbage of the last burst is collected and returned at once (collectWhenIdle),
//     so that an idle process holds what is live, as it would with the default.
//
// Measured in docs/BENCHMARKS.md, "Garbage collection". A user who sets GOGC or GOMEMLIMIT
// gets Go's own behaviour for both, and no idle collection.
const (
	gcPercent     = 400
	gcMemoryLimit = 256 << 20

	idleCheckEvery = 500 * time.Millisecond
	idleAllocRate  = 512 << 10 // bytes allocated per idleCheckEvery below which the process is idle
	idleGarbageMin = 4 << 20   // garbage worth collecting when idle
)

// setGCDefaults applies gcPercent and gcMemoryLimit unless $GOGC or $GOMEMLIMIT is set, and
// reports whether it did.
func setGCDefaults() bool {
	_, gogc := os.LookupEnv("GOGC")
	_, limit := os.LookupEnv("GOMEMLIMIT")
	if gogc || limit {
		return false
	}
	debug.SetGCPercent(gcPercent)
	debug.SetMemoryLimit(gcMemoryLimit)
	return true
}

// collectWhenIdle checks every period until ctx ends whether the process has gone idle
// holding garbage (worthCollecting), and if so collects and returns the memory to the
// operating system. It reports each collection it made to collected, if not nil.
func collectWhenIdle(ctx context.Context, period time.Duration, collected func()) {
	s := []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
	}
	var prev uint64
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(s)
		allocs := s[0].Value.Uint64()
		if worthCollecting(prev, allocs, s[1].Value.Uint64(), s[2].Value.Uint64()) {
			debug.FreeOSMemory()
			if collected != nil {
				collected()
			}
		}
		prev = allocs
	}
}

// worthCollecting decides one check of collectWhenIdle: allocs is the bytes allocated since
// the process started, prev the same at the previous check (0 at the first), live the bytes
// the last collection found live and objects the bytes of heap objects now. The process is
// idle when it allocated less than idleAllocRate since the previous check, and holds garbage
// worth collecting when its objects exceed the live bytes by idleGarbageMin.
func worthCollecting(prev, allocs, live, objects uint64) bool {
	return prev != 0 && allocs-prev < idleAllocRate && objects > live+idleGarbageMin
}
