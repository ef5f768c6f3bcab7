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
//   - idle, the garbage of the last burst, and the free memory kept for it, is collected and
//     returned at once (collectWhenIdle), so that an idle process holds what is live.
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
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	var prev, ours uint64 // ours: the cycle count after this loop's last collection
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(s)
		allocs, free := s[0].Value.Uint64(), s[3].Value.Uint64()
		if s[4].Value.Uint64() == ours {
			// No collection since ours returned every free page: what is free now is not
			// worth another one (were the pages not returned, it would run every period).
			free = 0
		}
		if worthCollecting(prev, allocs, s[1].Value.Uint64(), s[2].Value.Uint64(), free) {
			debug.FreeOSMemory()
			metrics.Read(s[4:])
			ours = s[4].Value.Uint64()
			if collected != nil {
				collected()
			}
		}
		prev = allocs
	}
}

// worthCollecting decides one check of collectWhenIdle: allocs is the bytes allocated since
// the process started, prev the same at the previous check (0 at the first), live the bytes
// the last collection found live, objects the bytes of heap objects now and free the heap
// bytes that are free but not yet returned to the operating system. The process is idle when
// it allocated less than idleAllocRate since the previous check; it is then worth collecting
// if it holds idleGarbageMin of garbage (objects beyond live), or as much free memory (what
// the runtime keeps for a heap that may grow to gcPercent over live, after a collection that
// came too early, before the end of the burst).
func worthCollecting(prev, allocs, live, objects, free uint64) bool {
	idle := prev != 0 && allocs-prev < idleAllocRate
	return idle && (objects > live+idleGarbageMin || free > idleGarbageMin)
}
