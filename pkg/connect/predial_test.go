//go:build !js

package connect

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// predialer sets a connection up with signalLink's daemon as the page's boot.js does, and
// counts its calls.
func predialer(signalLink string, calls *atomic.Int32) func(context.Context, peer.Config) (*peer.Conn, *peer.Channel, error) {
	return func(ctx context.Context, cfg peer.Config) (*peer.Conn, *peer.Channel, error) {
		calls.Add(1)
		return signalChannel(ctx, signalLink, signaling.DialOptions{Peer: cfg})
	}
}

// Dial uses a predialed connection instead of signaling again, and authenticates it like any
// other: the proof is made with the link's own token, whoever set the connection up.
func TestDialPredialed(t *testing.T) {
	dir := t.TempDir()
	want := randomFile(t, dir, "f.bin", 1<<20+5)
	d := startDaemon(t, dir, nil)

	t.Run("used", func(t *testing.T) {
		var calls atomic.Int32
		opts := dialOpts()
		opts.Predialed = predialer(d.link, &calls)
		s, err := Dial(t.Context(), d.link, opts)
		require.NoError(t, err)
		defer s.Close()
		assert.Equal(t, int32(1), calls.Load())
		assert.Equal(t, 1, d.h.Peers(), "Dial signaled a second peer")
		f, err := s.Open(t.Context(), "f.bin")
		require.NoError(t, err)
		got, err := io.ReadAll(f)
		require.NoError(t, err)
		assert.Equal(t, sha256.Sum256(want), sha256.Sum256(got))
	})

	t.Run("still authenticated", func(t *testing.T) {
		// The connection was signaled with the right token, but the link Dial was given
		// holds another one: the daemon must refuse the proof.
		var calls atomic.Int32
		opts := dialOpts()
		opts.Predialed = predialer(d.link, &calls)
		wrong := signaling.Link{Base: d.http.URL, Token: "not-the-token"}.String()
		_, err := Dial(t.Context(), wrong, opts)
		require.Error(t, err)
		assert.Equal(t, int32(1), calls.Load())
		assert.Equal(t, CodeUnauthorized, CodeOf(err), "err: %v", err)
		assert.ErrorIs(t, err, ErrAuthRefused)
	})

	t.Run("failed", func(t *testing.T) {
		// A predialed connection that failed: Dial signals as usual.
		opts := dialOpts()
		opts.Predialed = func(context.Context, peer.Config) (*peer.Conn, *peer.Channel, error) {
			return nil, nil, errors.New("boot.js gave up")
		}
		s, err := Dial(t.Context(), d.link, opts)
		require.NoError(t, err)
		require.NoError(t, s.Close())
	})
	waitPeers(t, d.h, 0)
}
