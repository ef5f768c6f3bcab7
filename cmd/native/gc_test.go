package main

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/testutil"
)

// restoreGC puts the collector's settings back as they were when the test started.
func restoreGC(t *testing.T) {
	pct := debug.SetGCPercent(100)
	debug.SetGCPercent(pct)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(pct)
		debug.SetMemoryLimit(limit)
	})
}

// unsetenv unsets key for the test and restores it afterwards.
func unsetenv(t *testing.T, key string) {
	t.Setenv(key, "") // restores the old value at the end
	require.NoError(t, os.Unsetenv(key))
}

func TestSetGCDefaults(t *testing.T) {
	t.Run("environment silent", func(t *testing.T) {
		restoreGC(t)
		unsetenv(t, "GOGC")
		unsetenv(t, "GOMEMLIMIT")
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(1 << 62)
		assert.True(t, setGCDefaults())
		assert.Equal(t, gcPercent, debug.SetGCPercent(-1))
		assert.Equal(t, int64(gcMemoryLimit), debug.SetMemoryLimit(-1))
	})
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env+" set", func(t *testing.T) {
			restoreGC(t)
			unsetenv(t, "GOGC")
			unsetenv(t, "GOMEMLIMIT")
			t.Setenv(env, "off")
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(1 << 62)
			assert.False(t, setGCDefaults())
			assert.Equal(t, 100, debug.SetGCPercent(-1), "the user's GOGC decides")
			assert.Equal(t, int64(1<<62), debug.SetMemoryLimit(-1), "the user's GOMEMLIMIT decides")
		})
	}
}

func TestWorthCollecting(t *testing.T) {
	const live = 8 << 20
	for _, c := range []struct {
		name                        string
		prev, allocs, objects, free uint64
		want                        bool
	}{
		{"first check", 0, 100 << 20, live + 64<<20, 64 << 20, false},
		{"busy", 100 << 20, 100<<20 + idleAllocRate, live + 64<<20, 64 << 20, false},
		{"idle with garbage", 100 << 20, 100<<20 + idleAllocRate - 1, live + idleGarbageMin + 1, 0, true},
		{"idle with free memory kept", 100 << 20, 100 << 20, live, idleGarbageMin + 1, true},
		{"idle, little garbage or free memory", 100 << 20, 100 << 20, live + idleGarbageMin, idleGarbageMin, false},
	} {
		assert.Equal(t, c.want, worthCollecting(c.prev, c.allocs, live, c.objects, c.free), c.name)
	}
}

// sink keeps the garbage TestCollectWhenIdle makes from being optimised away.
var sink [][]byte

// TestCollectWhenIdle makes 64 MiB of garbage with automatic collection off, then goes idle:
// the idle collector must collect it, and stop with its context.
func TestCollectWhenIdle(t *testing.T) {
	testutil.LeakCheck(t)
	restoreGC(t)
	runtime.GC()
	debug.SetGCPercent(-1)
	for range 1024 {
		sink = append(sink, make([]byte, 64<<10))
	}
	sink = nil
	before, _ := memoryMetrics()
	require.Greater(t, before, uint64(64<<20), "the garbage is on the heap, uncollected")

	ctx, cancel := context.WithCancel(context.Background())
	collected := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		collectWhenIdle(ctx, 20*time.Millisecond, func() {
			select {
			case collected <- struct{}{}:
			default:
			}
		})
	}()
	select {
	case <-collected:
	case <-time.After(10 * time.Second):
		t.Fatal("no idle collection within 10 s")
	}
	after, _ := memoryMetrics()
	assert.Less(t, after, before-48<<20, "heap objects %d B before, %d B after", before, after)
	cancel()
	<-done
}
