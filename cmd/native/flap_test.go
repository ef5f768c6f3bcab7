//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testdaemon"
	"github.com/rangecast/rangecast/internal/wan"
)

// A 5 s outage of the path in the middle of a download (internal/wan's SetDown, both
// directions, packets in flight dropped): `rangecast get` carries on when it comes back and
// ends with the right file, without an error, over one connection and striped over three.
// The daemon runs in one namespace of the emulated link, the client in the other, 20 ms
// apart at 20 Mbit/s.
func TestGetSurvivesLinkFlap(t *testing.T) {
	netns.Require(t) // root, and the test binary's namespace: nothing else is reached
	for _, conns := range []string{"1", "3"} {
		t.Run("connections="+conns, func(t *testing.T) {
			l, err := wan.New(t.Context(), wan.Path{RTT: 20 * time.Millisecond, RateBps: 20e6}.Config())
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, l.Close()) })

			d := startDaemonInA(t, l, dataDir)

			out := filepath.Join(t.TempDir(), "mid.bin")
			cmd := l.CommandContext(t.Context(), wan.B, binPath, "get", "--connections", conns, "-o", out, d.Link, "mid.bin")
			var stdout bytes.Buffer
			var stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Start())
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			waitSize(t, out, 4<<20, exited)

			l.SetDown(true)
			time.Sleep(5 * time.Second)
			l.SetDown(false)
			select {
			case err := <-exited:
				require.NoError(t, err, "get: %s", stderr.String())
			case <-time.After(90 * time.Second):
				t.Fatalf("get did not finish within 90 s of the link coming back: %s", stderr.String())
			}
			require.Equal(t, midSum+"  "+out+"\n", stdout.String())
			require.Equal(t, midSum, fileSum(t, out))
			st := l.Stats()
			require.NotZero(t, st.AtoB.DroppedDown+st.BtoA.DroppedDown, "the flap dropped nothing: it did not happen mid-transfer")
			require.Equal(t, conns, strconv.Itoa(strings.Count(d.Log.String(), `msg="peer offer"`)), "connections the daemon saw")
		})
	}
}

// startDaemonInA runs `rangecast serve dir` in namespace A of the emulated link, on its
// address there, with debug logs.
func startDaemonInA(t *testing.T, l *wan.Link, dir string) *testdaemon.Daemon {
	t.Helper()
	// testdaemon runs `BIN serve ARGS`: a wrapper puts the daemon in namespace A.
	wrapper := filepath.Join(t.TempDir(), "rangecast-in-a")
	require.NoError(t, os.WriteFile(wrapper,
		[]byte("#!/bin/sh\nexec ip netns exec "+l.Namespace(wan.A)+" "+binPath+" \"$@\"\n"), 0o755))
	return testdaemon.Start(t, wrapper, []string{"RANGECAST_TOKEN=test-token-123"},
		"--listen", l.AddrA().String()+":0", "--log-level", "debug", dir)
}
