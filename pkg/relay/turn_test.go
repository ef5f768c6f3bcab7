package relay

import (
	"crypto/ed25519"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/stretchr/testify/require"
)

func newTURN(t *testing.T, perDaemon int) *TURN {
	t.Helper()
	tu, err := NewTURN(TURNOptions{Listen: "127.0.0.1:0", MaxAllocationsPerDaemon: perDaemon, CredentialTTL: time.Minute})
	require.NoError(t, err)
	t.Cleanup(func() { _ = tu.Close() })
	return tu
}

// allocate makes one TURN allocation with the credentials of cfg, on a socket of its own.
func allocate(t *testing.T, tu *TURN, cfg ICEConfig) (net.PacketConn, error) {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	cl, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: tu.Addr().String(), TURNServerAddr: tu.Addr().String(),
		Username: cfg.ICEServers[0].Username, Password: cfg.ICEServers[0].Credential,
		Realm: "rangecast", Conn: c,
	})
	require.NoError(t, err)
	require.NoError(t, cl.Listen())
	t.Cleanup(func() { cl.Close(); c.Close() })
	rc, err := cl.Allocate()
	if err == nil {
		t.Cleanup(func() { rc.Close() })
	}
	return rc, err
}

func TestTURNCredentialsAndQuota(t *testing.T) {
	tu := newTURN(t, 2)
	r := startRelay(t, "127.0.0.1:0", nil, func(o *Options) { o.TURN = tu })
	d := startDaemon(t, r.url, newKey(t), t.TempDir(), nil)
	waitRegistered(t, d)

	// The daemon receives credentials over its WebSocket.
	require.Eventually(t, func() bool { _, ok := d.ICE(); return ok }, 5*time.Second, 10*time.Millisecond)
	dcfg, _ := d.ICE()
	require.Len(t, dcfg.ICEServers, 1)
	s := dcfg.ICEServers[0]
	require.Equal(t, []string{"stun:" + tu.PublicAddr().String(), "turn:" + tu.PublicAddr().String() + "?transport=udp"}, s.URLs)
	require.True(t, strings.HasSuffix(s.Username, ":"+d.ID()), s.Username)
	require.InDelta(t, time.Now().Add(time.Minute).Unix(), dcfg.Expires, 2)

	// A client fetches its own from the relay.
	resp, err := http.Get(r.url + "/d/" + d.ID() + "/api/v1/ice")
	require.NoError(t, err)
	var ccfg ICEConfig
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ccfg))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, s.URLs, ccfg.ICEServers[0].URLs)

	// An offline id gets none.
	resp, err = http.Get(r.url + "/d/" + IDOf(newKey(t).Public().(ed25519.PublicKey)) + "/api/v1/ice")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	// Both credentials allocate; a third allocation for the same daemon is refused (486).
	_, err = allocate(t, tu, dcfg)
	require.NoError(t, err)
	_, err = allocate(t, tu, ccfg)
	require.NoError(t, err)
	n, total := tu.Allocations(d.ID())
	require.Equal(t, 2, n)
	require.Equal(t, 2, total)
	_, err = allocate(t, tu, ccfg)
	require.ErrorContains(t, err, "486")

	// A wrong password is refused.
	bad := ccfg
	bad.ICEServers = []ICEServer{{URLs: s.URLs, Username: s.Username, Credential: "AAAA"}}
	_, err = allocate(t, tu, bad)
	require.Error(t, err)
}
