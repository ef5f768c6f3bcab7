//go:build !js

package connect

import (
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/share"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// Share links over real pion on loopback.

func shareTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "pub"), 0o755))
	randomFile(t, dir, "pub/a.bin", 100_000)
	randomFile(t, dir, "secret.bin", 1000)
	require.NoError(t, os.Symlink("../secret.bin", filepath.Join(dir, "pub", "escape")))
	return dir
}

// startShareDaemon runs a daemon that takes share links from auth. direct: signaling checks
// the bearer (the token, or a share link through HandlerOptions.Authorize); otherwise it
// checks none, as for a relay's requests, and only the in-band check stands.
func startShareDaemon(t *testing.T, dir string, auth *share.Authority, direct bool) (*daemon, *logBuffer) {
	t.Helper()
	srv, err := rangefs.NewServer(dir, rangefs.ServerOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	logs := &logBuffer{}
	d := startDaemon(t, dir, func(o *signaling.HandlerOptions) {
		o.InBandAuth = true
		if direct {
			o.Authorize = func(b string) bool {
				l, err := share.Parse(b)
				return err == nil && auth.Valid(l)
			}
		} else {
			o.Token, o.SkipToken = "", true
		}
		o.OnConnect = ServeFiles(srv, ServeOptions{Token: testToken, Shares: auth, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	})
	return d, logs
}

func newAuthority(t *testing.T) *share.Authority {
	t.Helper()
	a, err := share.OpenDir(t.TempDir())
	require.NoError(t, err)
	return a
}

func shareLink(base string, l share.Link) string {
	return signaling.Link{Base: base, Share: l.String()}.String()
}

func TestShareLinkServesItsScope(t *testing.T) {
	dir := shareTree(t)
	auth := newAuthority(t)
	d, logs := startShareDaemon(t, dir, auth, true)
	l, err := auth.Create("pub", "test", time.Hour)
	require.NoError(t, err)
	link := shareLink(d.http.URL, l)
	require.Contains(t, link, "/#s=")
	r, err := Dial(t.Context(), link, dialOpts())
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, "pub", r.Scope)
	f, err := r.Open(t.Context(), "pub/a.bin")
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, f)
	require.NoError(t, err)
	assert.EqualValues(t, 100_000, n)
	_ = f.Close()

	// Out of scope, by name and through a symbolic link that leaves it: forbidden.
	for _, p := range []string{"secret.bin", ".", "pub/escape"} {
		_, err := r.Stat(t.Context(), p)
		assert.Equal(t, CodeForbidden, CodeOf(err), "%s: %v", p, err)
	}
	_, err = r.Open(t.Context(), "secret.bin")
	assert.Equal(t, CodeForbidden, CodeOf(err))

	// The owner's token still opens everything.
	owner, err := Dial(t.Context(), d.link, dialOpts())
	require.NoError(t, err)
	_, err = owner.Stat(t.Context(), "secret.bin")
	require.NoError(t, err)
	_ = owner.Close()

	// The access record.
	es := auth.List()
	require.Len(t, es, 1)
	assert.EqualValues(t, 100_000, es[0].BytesRead)
	assert.Equal(t, 1, es[0].Sessions)
	assert.Contains(t, logs.String(), "link="+l.ID)
	assert.Contains(t, logs.String(), "path=pub/a.bin")
	assert.NotContains(t, logs.String(), l.String())
	assert.Regexp(t, `share session" link=\S+ peer="host 127\.0\.0\.1:\d+"`, logs.String())
}

// Every refusal, over a real connection whose signaling checks nothing: the in-band check
// alone tells them apart.
func TestShareRefusals(t *testing.T) {
	dir := shareTree(t)
	auth := newAuthority(t)
	d, logs := startShareDaemon(t, dir, auth, false)
	good, err := auth.Create("pub", "", time.Hour)
	require.NoError(t, err)

	forged := good
	forged.Secret[0] ^= 1
	widened := good // the secret of "pub", claimed for the root
	widened.Scope = ""
	longer := good // the secret of an hour, claimed forever
	longer.Expiry = 0
	other, err := newAuthority(t).Create("pub", "", time.Hour)
	require.NoError(t, err)
	expiring, err := auth.Create("pub", "", time.Minute)
	require.NoError(t, err)
	revoked, err := auth.Create("pub", "", time.Hour)
	require.NoError(t, err)
	_, err = auth.Revoke(revoked.ID)
	require.NoError(t, err)

	for _, c := range []struct {
		name string
		link share.Link
		code Code
	}{
		{"forged", forged, CodeUnauthorized},
		{"widened scope", widened, CodeUnauthorized},
		{"longer expiry", longer, CodeUnauthorized},
		{"another daemon's", other, CodeUnauthorized},
		{"revoked", revoked, CodeLinkRevoked},
	} {
		_, err := Dial(t.Context(), shareLink(d.http.URL, c.link), dialOpts())
		assert.Equal(t, c.code, CodeOf(err), "%s: %v", c.name, err)
	}
	auth.SetClock(func() time.Time { return time.Now().Add(2 * time.Minute) })
	_, err = Dial(t.Context(), shareLink(d.http.URL, expiring), dialOpts())
	assert.Equal(t, CodeLinkExpired, CodeOf(err), "%v", err)
	assert.ErrorIs(t, err, ErrLinkExpired)
	auth.SetClock(time.Now)

	// A truncated link never leaves the client.
	s := shareLink(d.http.URL, good)
	_, err = Dial(t.Context(), s[:len(s)-10], dialOpts())
	assert.Equal(t, CodeBadLink, CodeOf(err), "%v", err)
	assert.ErrorIs(t, err, share.ErrTruncated)

	// The good one still works, and the log names reasons, never secrets.
	r, err := Dial(t.Context(), s, dialOpts())
	require.NoError(t, err)
	_ = r.Close()
	waitPeers(t, d.h, 0)
	out := logs.String()
	assert.Contains(t, out, "wrong proof")
	assert.Contains(t, out, "expired")
	assert.Contains(t, out, "revoked")
	assert.NotContains(t, out, strings.Split(good.String(), ".")[3])
}

// Revoking a link ends the sessions open with it at once, with a clear code, and a
// reconnect is refused.
func TestShareRevokeClosesOpenSession(t *testing.T) {
	dir := shareTree(t)
	auth := newAuthority(t)
	d, _ := startShareDaemon(t, dir, auth, true)
	l, err := auth.Create("pub", "", 0)
	require.NoError(t, err)
	r, err := Dial(t.Context(), shareLink(d.http.URL, l), dialOpts())
	require.NoError(t, err)
	defer r.Close()
	_, err = r.Stat(t.Context(), "pub/a.bin")
	require.NoError(t, err)

	n, err := auth.Revoke(l.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	select {
	case <-r.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked session is still open")
	}
	_, err = r.Stat(t.Context(), "pub/a.bin")
	assert.Equal(t, CodeLinkRevoked, CodeOf(err), "%v", err)
	_, err = Dial(t.Context(), shareLink(d.http.URL, l), dialOpts())
	assert.Equal(t, CodeLinkRevoked, CodeOf(err), "%v", err)
	waitPeers(t, d.h, 0)
}

// A link that expires while a session is open with it ends that session then, with its own
// code, as a revocation would: a link for the weekend does not work on Monday in a page left
// open.
func TestShareExpiryClosesOpenSession(t *testing.T) {
	dir := shareTree(t)
	auth := newAuthority(t)
	d, _ := startShareDaemon(t, dir, auth, true)
	l, err := auth.Create("pub", "", 3*time.Second) // expiry in whole seconds: 2 to 3 s from now
	require.NoError(t, err)
	r, err := Dial(t.Context(), shareLink(d.http.URL, l), dialOpts())
	require.NoError(t, err)
	defer r.Close()
	_, err = r.Stat(t.Context(), "pub/a.bin")
	require.NoError(t, err)

	select {
	case <-r.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the session is still open after its link expired")
	}
	assert.False(t, time.Now().Before(time.Unix(l.Expiry, 0)), "the session ended before the expiry")
	_, err = r.Stat(t.Context(), "pub/a.bin")
	assert.Equal(t, CodeLinkExpired, CodeOf(err), "%v", err)
	_, err = Dial(t.Context(), shareLink(d.http.URL, l), dialOpts())
	assert.Equal(t, CodeLinkExpired, CodeOf(err), "%v", err)
	waitPeers(t, d.h, 0)
}

// The PROOF v2 example of docs/PROTOCOL.md (Share links): share key 32 × 0x42, link id
// "AAAAAAAAAAA", scope "pub", expiry 1893456000, the nonce and fingerprints of TestAuthVector.
// The values were checked with Python's hmac module.
func TestAuthShareVector(t *testing.T) {
	var k share.Key
	for i := range k {
		k[i] = 0x42
	}
	l, err := k.Mint(share.Public{ID: "AAAAAAAAAAA", Scope: "pub", Expiry: 1893456000})
	require.NoError(t, err)
	cred, err := shareCredential(l)
	require.NoError(t, err)
	var nonce [32]byte
	for i := range nonce {
		nonce[i] = byte(i)
	}
	mac := authMAC(cred.key, &nonce, fpDaemon, fpClient)
	confirm := authConfirm(cred.key, &nonce, fpDaemon, fpClient)
	assert.Equal(t, "0b414141414141414141414100037075620000000070dbd880", hexOf(cred.public))
	assert.Equal(t, "24b75de8727bcec8753457b12c63ecbeef64aff7342e8ae591a6ef33fe1c5aad", hexOf(l.Secret[:]))
	assert.Equal(t, "636f85ff6482f84ff251ece7738864badc9bf212468fbdcb7df3ad7e9544ed03", hexOf(mac[:]))
	assert.Equal(t, "94ada1b8d0cae6da2aba1a16cb6cc133cfb204162a9275ec8b8b7e6b1d4e56f4", hexOf(confirm[:]))
	assert.Equal(t, "AAAAAAAAAAA.cHVi.1893456000.JLdd6HJ7zsh1NFexLGPsvu9kr_c0LorlkabvM_4cWq0", l.String())
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

// A Redialer whose share link is revoked, or expires, while it is connected ends at once
// with that code: it never goes through "reconnecting" (the page would show a reconnect for
// one backoff before its revoked screen).
func TestShareRefusalEndsRedialer(t *testing.T) {
	for _, c := range []struct {
		name   string
		expiry time.Duration
		code   Code
	}{
		{"revoked", 0, CodeLinkRevoked},
		{"expired", 2 * time.Second, CodeLinkExpired},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := shareTree(t)
			auth := newAuthority(t)
			d, _ := startShareDaemon(t, dir, auth, true)
			l, err := auth.Create("pub", "", c.expiry)
			require.NoError(t, err)
			ev := newEvents()
			r, err := Redial(t.Context(), shareLink(d.http.URL, l), redialOpts(ev, true))
			require.NoError(t, err)
			defer r.Close()
			if c.expiry == 0 {
				_, err = auth.Revoke(l.ID)
				require.NoError(t, err)
			}
			ev.waitFor(t, StateFailed)
			assert.Equal(t, []State{StateFailed}, ev.states(), "the events until the end")
			assert.Equal(t, c.code, CodeOf(ev.last().Err), "%v", ev.last().Err)
			_, err = r.Current()
			assert.Error(t, err)
			waitPeers(t, d.h, 0)
		})
	}
}
