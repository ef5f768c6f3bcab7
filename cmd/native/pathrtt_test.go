//go:build linux

package main

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/wan"
)

func TestSCTPFloor(t *testing.T) {
	const max = 1 << 20
	for _, c := range []struct {
		max      uint
		rtt      time.Duration
		measured bool
		floor    uint32
	}{
		{max, 60 * time.Microsecond, true, 0}, // loopback
		{max, time.Millisecond, true, 0},      // a LAN: 100 KB, under minFloor
		{max, 2 * time.Millisecond, true, 200_000},
		{max, 10 * time.Millisecond, true, 1_000_000},
		{max, 20 * time.Millisecond, true, max},
		{max, 200 * time.Millisecond, true, max},
		{max, 0, false, max}, // relayed: not measured
		{0, 200 * time.Millisecond, true, 0},
		{0, 0, false, 0},
	} {
		require.Equal(t, c.floor, sctpFloor(c.max, c.rtt, c.measured), "max %d, rtt %v, measured %v", c.max, c.rtt, c.measured)
	}
}

func TestSCTPRTOMax(t *testing.T) {
	const max = 800 * time.Millisecond
	for _, c := range []struct {
		max, slack time.Duration
		rtt        time.Duration
		measured   bool
		rto        time.Duration
	}{
		{max, 0, 60 * time.Microsecond, true, 60*time.Millisecond + 120*time.Microsecond}, // loopback: the least slack
		{max, 0, 10 * time.Millisecond, true, 20*time.Millisecond + 60*time.Millisecond},
		{max, 0, 20 * time.Millisecond, true, 40*time.Millisecond + 100*time.Millisecond},  // five round trips
		{max, 0, 50 * time.Millisecond, true, 100*time.Millisecond + 250*time.Millisecond}, // the most slack
		{max, 0, 200 * time.Millisecond, true, 650 * time.Millisecond},
		{max, 0, 400 * time.Millisecond, true, max},
		{max, 250 * time.Millisecond, 10 * time.Millisecond, true, 270 * time.Millisecond}, // a fixed slack
		{max, 0, 0, false, max}, // relayed: not measured
		{0, 0, 50 * time.Millisecond, true, 0},
		{0, 0, 0, false, 0},
	} {
		require.Equal(t, c.rto, sctpRTOMax(c.max, c.slack, c.rtt, c.measured), "max %v, slack %v, rtt %v, measured %v", c.max, c.slack, c.rtt, c.measured)
	}
}

// The daemon sizes each peer's SCTP window floor from the round trip of the connection that
// carried its offer: across a 60 ms emulated link the full floor, from the daemon's own
// namespace (the same host) none; both paced, and the far peer's datagrams spaced, the near
// peer's not; the far peer's pacer is given the measured round trip (NativeOptions.PathRTT).
// Read from the daemon's debug log of each offer.
func TestSenderFollowsSignalingPath(t *testing.T) {
	netns.Require(t)
	l, err := wan.New(t.Context(), wan.Path{RTT: 60 * time.Millisecond}.Config())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	d := startDaemonInA(t, l, dataDir)

	offers := regexp.MustCompile(`msg="peer offer" .*signaling_rtt=(\S+) measured=(\S+) sctp_min_cwnd=(\d+) sctp_rto_max=(\S+) pacing=(\S+) pace_datagrams=(\S+) path_rtt=(\S+)`)
	ls := func(side wan.Side) []string {
		t.Helper()
		before := len(offers.FindAllStringSubmatch(d.Log.String(), -1))
		out, err := l.CommandContext(t.Context(), side, binPath, "ls", d.Link).CombinedOutput()
		require.NoError(t, err, "ls from %v: %s", side, out)
		require.Contains(t, string(out), "mid.bin")
		all := offers.FindAllStringSubmatch(d.Log.String(), -1)
		require.Len(t, all, before+1, "one offer logged: %s", d.Log.String())
		return all[before]
	}
	far := ls(wan.B)
	require.Equal(t, "true", far[2], "the far peer's round trip was measured: %v", far)
	rtt, err := time.ParseDuration(far[1])
	require.NoError(t, err)
	require.InDelta(t, 60, rtt.Seconds()*1000, 30, "the far peer's signaling RTT: %v", far)
	require.Equal(t, "1048576", far[3], "the far peer's floor: %v", far)
	rto, err := time.ParseDuration(far[4])
	require.NoError(t, err)
	require.Equal(t, 2*rtt+maxRTOSlack, rto, "the far peer's retransmission timeout: %v", far)
	require.Equal(t, "true", far[5], "the far peer is paced: %v", far)
	require.Equal(t, "true", far[6], "the far peer's datagrams are spaced: %v", far)
	require.Equal(t, far[1], far[7], "the far peer's pacer sizes its startup from the signaling RTT: %v", far)

	near := ls(wan.A)
	require.Equal(t, "true", near[2], "the near peer's round trip was measured: %v", near)
	require.Equal(t, "0", near[3], "the near peer's floor: %v", near)
	nearRTT, err := time.ParseDuration(near[1])
	require.NoError(t, err)
	rto, err = time.ParseDuration(near[4])
	require.NoError(t, err)
	require.Equal(t, 2*nearRTT+minRTOSlack, rto, "the near peer's retransmission timeout: %v", near)
	require.Equal(t, "false", near[5], "the near peer is not paced: %v", near)
	require.Equal(t, "false", near[6], "the near peer's datagrams are spaced: %v", near)
}
