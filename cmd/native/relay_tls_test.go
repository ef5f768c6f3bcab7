package main

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testca"
)

// rangecast relay --tls-cert/--tls-key serves HTTPS; rangecast serve --relay https://…
// registers over wss:// trusting the test CA given with --relay-ca, and is refused without
// it; the relay link is https and its page comes over TLS.
func TestRelayTLS(t *testing.T) {
	netns.Require(t)
	ca, err := testca.Write(t.TempDir(), "127.0.0.1")
	require.NoError(t, err)
	lines, _ := startProc(t, 1, nil, "relay", "--listen", "127.0.0.1:0", "--turn-listen", "off",
		"--tls-cert", ca.Cert, "--tls-key", ca.Key)
	relayURL := lines[0]
	require.True(t, strings.HasPrefix(relayURL, "https://127.0.0.1:"), relayURL)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}, Timeout: 10 * time.Second}

	// Without the CA, the daemon cannot register: the system's roots do not know it.
	_, bad := startProc(t, 2, nil, "serve", "--listen", "127.0.0.1:0", "--relay", relayURL,
		"--identity", filepath.Join(t.TempDir(), "id.key"), dataDir)
	require.Eventually(t, func() bool { return strings.Contains(bad.String(), "certificate") }, 10*time.Second, 20*time.Millisecond,
		"the daemon did not report the unknown certificate")

	lines, _ = startProc(t, 2, nil, "serve", "--listen", "127.0.0.1:0", "--relay", relayURL, "--relay-ca", ca.CA,
		"--identity", filepath.Join(t.TempDir(), "id2.key"), dataDir)
	link := lines[1]
	require.True(t, strings.HasPrefix(link, relayURL+"/d/"), link)
	require.Eventually(t, func() bool {
		resp, err := hc.Get(relayURL + "/api/v1/relay/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var st struct{ Daemons int }
		return json.NewDecoder(resp.Body).Decode(&st) == nil && st.Daemons == 1
	}, 10*time.Second, 20*time.Millisecond, "the daemon with --relay-ca did not register (only it should)")

	page := link[:strings.Index(link, "#")]
	resp, err := hc.Get(page)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, string(body), "rangecast")
	assert.NotNil(t, resp.TLS)
}

// --acme-domain serves HTTPS with certificates from an ACME CA for that name only: a
// handshake for another name is refused at once, without contacting any CA (none is
// reachable here); the printed URL is the public name.
func TestRelayACMEFlags(t *testing.T) {
	netns.Require(t)
	cache := t.TempDir()
	lines, _ := startProc(t, 1, nil, "relay", "--listen", "127.0.0.1:0", "--turn-listen", "off",
		"--acme-domain", "relay.example.test", "--acme-cache", cache, "--acme-directory", "https://127.0.0.1:1/directory")
	require.True(t, strings.HasPrefix(lines[0], "https://relay.example.test:"), lines[0])
	port := lines[0][strings.LastIndex(lines[0], ":")+1:]
	start := time.Now()
	_, err := tls.Dial("tcp", "127.0.0.1:"+port, &tls.Config{ServerName: "other.example.test"})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)

	for _, args := range [][]string{
		{"relay", "--acme-domain", "relay.example.test", "--tls-cert", "a", "--tls-key", "b"},
		{"relay", "--acme-email", "x@example.test"},
		{"relay", "--acme-domain", "192.0.2.1"},
		{"serve", "--relay-ca", "ca.pem", "--relay", "http://127.0.0.1:1", dataDir},
	} {
		_, stderr, err := rangecast(t.Context(), args...)
		assert.Equal(t, 2, exitCode(err), "%v: %s", args, stderr)
	}
}
