//go:build !js

package peer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/testutil"
	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/wire"
)

// TestServerErrorDelivered runs fresh sessions over real pion pairs in which the client breaks
// the protocol. The server answers ERROR and, as the daemon does, closes the whole Conn as soon
// as ServeTransport returns: the ERROR must still reach the client every time, not be dropped
// with the buffered data (docs/PROTOCOL.md, ERROR).
func TestServerErrorDelivered(t *testing.T) {
	testutil.LeakCheck(t)
	srv, err := rangefs.NewServer(t.TempDir(), rangefs.ServerOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })

	const sessions = 30
	got := 0
	for i := range sessions {
		t.Run("", func(t *testing.T) {
			p := newPair(t, nil)
			fromClient, atServer := p.channelPair(t, "rangefs")
			served := make(chan error, 1)
			go func() {
				err := srv.ServeTransport(context.Background(), atServer)
				_ = p.server.Close() // what signal.Handler does when OnConnect returns
				served <- err
			}()
			ctx := testutil.Context(t, 10*time.Second)
			c, err := rangefs.Dial(ctx, fromClient, rangefs.ClientOptions{})
			require.NoError(t, err)
			defer func() { _ = c.Close() }()

			// A second HELLO is a protocol violation (docs/PROTOCOL.md, session rule 3).
			_, err = fromClient.Write(wire.AppendFrame(nil, 0, &wire.Hello{Version: 1, MaxFrame: wire.MinFrameSize}))
			require.NoError(t, err)

			select {
			case <-c.Done():
			case <-ctx.Done():
				t.Fatal("the session did not end")
			}
			serveErr := <-served
			local, ok := serveErr.(*rangefs.ProtocolError)
			require.True(t, ok, "ServeTransport returned %v", serveErr)
			assert.Equal(t, wire.CodeProtocol, local.Code)

			remote, ok := c.Err().(*rangefs.ProtocolError)
			if assert.True(t, ok, "session %d: the client saw %v, not the server's ERROR", i, c.Err()) {
				assert.True(t, remote.Remote)
				assert.Equal(t, wire.CodeProtocol, remote.Code)
				assert.Equal(t, wire.TypeHello, remote.Frame)
				got++
			}
		})
	}
	assert.Equal(t, sessions, got, "sessions whose client received ERROR")
}
