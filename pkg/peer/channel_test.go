//go:build !js

package peer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/testutil"
)

// message returns a deterministic message of size n for index i.
func message(i, n int) []byte {
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i))  //nolint:gosec // small
	binary.BigEndian.PutUint64(seed[8:], uint64(n)) //nolint:gosec // small
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(seed).Read(b)
	return b
}

func TestChannelMessages(t *testing.T) {
	testutil.LeakCheck(t)
	p := newPair(t, nil)
	fromClient, atServer := p.channelPair(t, "data")

	maxSize := fromClient.MaxMessageSize()
	assert.Equal(t, DefaultMaxReceiveMessageSize, maxSize)
	assert.Equal(t, DefaultMaxReceiveMessageSize, atServer.MaxMessageSize())
	assert.Equal(t, "data", fromClient.Label())

	sizes := []int{0, 1, 2, 1200, 16 << 10, 64<<10 - 1, 64 << 10, 64<<10 + 1, maxSize - 1, maxSize}
	r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // test data
	for range 40 {                   // about 5 MB: any size up to the limit
		sizes = append(sizes, r.IntN(maxSize+1))
	}
	for range 200 { // small ones, as requests and acknowledgements are
		sizes = append(sizes, r.IntN(4<<10))
	}
	r.Shuffle(len(sizes), func(i, j int) { sizes[i], sizes[j] = sizes[j], sizes[i] })

	want := make([][32]byte, len(sizes))
	for i, n := range sizes {
		want[i] = sha256.Sum256(message(i, n))
	}

	// Both directions at once: the client sends sizes, the server echoes
	// each message's hash back as a 32-byte message.
	errc := make(chan error, 2)
	go func() {
		for i, n := range sizes {
			if _, err := fromClient.Write(message(i, n)); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	got := make([][32]byte, 0, len(sizes))
	go func() {
		buf := make([]byte, maxSize)
		for range sizes {
			n, err := atServer.Read(buf)
			if err != nil {
				errc <- err
				return
			}
			sum := sha256.Sum256(buf[:n])
			if _, err := atServer.Write(sum[:]); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	buf := make([]byte, 64)
	for range sizes {
		n, err := fromClient.Read(buf)
		require.NoError(t, err)
		require.Equal(t, 32, n)
		got = append(got, [32]byte(buf[:32]))
	}
	require.NoError(t, <-errc)
	require.NoError(t, <-errc)
	assert.Equal(t, want, got)

	_, err := fromClient.Write(make([]byte, maxSize+1))
	assert.ErrorIs(t, err, ErrMessageTooLarge)
}

func TestReadShortBufferKeepsMessage(t *testing.T) {
	testutil.LeakCheck(t)
	p := newPair(t, nil)
	fromClient, atServer := p.channelPair(t, "short")

	msg := message(7, 1000)
	_, err := fromClient.Write(msg)
	require.NoError(t, err)
	_, err = fromClient.Write([]byte("next"))
	require.NoError(t, err)

	n, err := atServer.Read(make([]byte, 10))
	assert.ErrorIs(t, err, io.ErrShortBuffer)
	assert.Equal(t, 0, n)

	buf := make([]byte, 2000)
	n, err = atServer.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, msg, buf[:n])
	n, err = atServer.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "next", string(buf[:n]))
}

func TestChannelOpenedBeforeAccept(t *testing.T) {
	testutil.LeakCheck(t)
	p := newPair(t, nil)
	ctx := testutil.Context(t, 10*time.Second)

	early, err := p.server.CreateChannel(ctx, "early")
	require.NoError(t, err)
	t.Cleanup(func() { _ = early.Close() })
	_, err = early.Write([]byte("hello"))
	require.NoError(t, err)

	// The channel reaches the client's backlog with nobody in Accept.
	require.Eventually(t, func() bool { return len(p.client.acceptQ) == 1 },
		5*time.Second, 5*time.Millisecond)

	ch, err := p.client.Accept(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ch.Close() })
	assert.Equal(t, "early", ch.Label())
	buf := make([]byte, 64)
	n, err := ch.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf[:n]))
}

func TestAcceptBacklogFull(t *testing.T) {
	testutil.LeakCheck(t)
	p := newPair(t, func(cfg *Config) { cfg.AcceptBacklog = 1 })
	ctx := testutil.Context(t, 10*time.Second)

	first, err := p.client.CreateChannel(ctx, "first")
	require.NoError(t, err)
	t.Cleanup(func() { _ = first.Close() })
	require.Eventually(t, func() bool { return len(p.server.acceptQ) == 1 },
		5*time.Second, 5*time.Millisecond)
	second, err := p.client.CreateChannel(ctx, "second")
	require.NoError(t, err)
	t.Cleanup(func() { _ = second.Close() })

	// The server rejects the channel that does not fit: the client reads EOF.
	_, err = second.Read(make([]byte, 16))
	assert.Equal(t, io.EOF, err)

	ch, err := p.server.Accept(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ch.Close() })
	assert.Equal(t, "first", ch.Label())
}

func TestRemoteChannelClose(t *testing.T) {
	testutil.LeakCheck(t)
	p := newPair(t, nil)
	fromClient, atServer := p.channelPair(t, "closing")

	for i := range 3 {
		_, err := fromClient.Write(message(i, 100*i))
		require.NoError(t, err)
	}
	require.NoError(t, fromClient.Close())

	buf := make([]byte, 1024)
	for i := range 3 {
		n, err := atServer.Read(buf)
		require.NoError(t, err)
		assert.Equal(t, message(i, 100*i), buf[:n])
	}
	_, err := atServer.Read(buf)
	assert.Equal(t, io.EOF, err, "the messages written before Close arrive, then EOF")

	_, err = fromClient.Write([]byte("after close"))
	assert.ErrorIs(t, err, ErrClosed)
	_, err = fromClient.Read(buf)
	assert.ErrorIs(t, err, ErrClosed)
	assert.NoError(t, fromClient.Close(), "a second close")

	// The connection and other channels carry on.
	ctx := testutil.Context(t, 10*time.Second)
	_, err = p.client.Ping(ctx)
	assert.NoError(t, err)
}

func TestLocalCloseUnblocksRead(t *testing.T) {
	testutil.LeakCheck(t)
	p := newPair(t, nil)
	_, atServer := p.channelPair(t, "idle")

	errc := make(chan error, 1)
	go func() {
		_, err := atServer.Read(make([]byte, 16))
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the Read block
	require.NoError(t, atServer.Close())
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, ErrClosed)
		assert.ErrorIs(t, err, io.EOF)
	case <-time.After(5 * time.Second):
		t.Fatal("pending Read did not return after Close")
	}
}

func TestBackpressure(t *testing.T) {
	testutil.LeakCheck(t)
	const (
		high     = 256 << 10
		low      = 64 << 10
		rwnd     = 512 << 10
		msgSize  = 32 << 10
		messages = 128 // 4 MiB
	)
	p := newPair(t, func(cfg *Config) {
		cfg.HighWaterMark = high
		cfg.LowWaterMark = low
		cfg.Native.SCTPReceiveBufferSize = rwnd
	})
	fromClient, atServer := p.channelPair(t, "bulk")

	var written atomic.Int64
	var maxBuffered atomic.Int64
	stopSampling := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // sample the buffered amount while the writer runs
		defer wg.Done()
		for {
			if b := int64(fromClient.BufferedAmount()); b > maxBuffered.Load() {
				maxBuffered.Store(b)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	writeErr := make(chan error, 1)
	go func() {
		defer wg.Done()
		for i := range messages {
			msg := message(i, msgSize)
			binary.BigEndian.PutUint32(msg, uint32(i)) //nolint:gosec // small
			if _, err := fromClient.Write(msg); err != nil {
				writeErr <- err
				return
			}
			written.Add(msgSize)
		}
		writeErr <- nil
	}()

	// Nobody reads: the writer must stop after filling the peer's receive
	// window and its own send buffer.
	waitStalled := func() int64 {
		last := int64(-1)
		for {
			time.Sleep(150 * time.Millisecond)
			w := written.Load()
			if w == last {
				return w
			}
			last = w
		}
	}
	stalled := waitStalled()
	t.Logf("writer stalled after %d KiB with nobody reading (receive window %d KiB, high-water mark %d KiB)",
		stalled>>10, rwnd>>10, high>>10)
	assert.Less(t, stalled, int64(messages*msgSize), "the writer never blocked")
	assert.LessOrEqual(t, stalled, int64(rwnd+high+2*msgSize))
	assert.LessOrEqual(t, int64(fromClient.BufferedAmount()), int64(high))

	// A slow reader: the writer proceeds at the reader's pace.
	buf := make([]byte, msgSize)
	for i := range messages {
		n, err := atServer.Read(buf)
		require.NoError(t, err)
		require.Equal(t, msgSize, n)
		want := message(i, msgSize)
		binary.BigEndian.PutUint32(want, uint32(i)) //nolint:gosec // small
		require.True(t, bytes.Equal(want, buf[:n]), "message %d differs", i)
		if i%16 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	require.NoError(t, <-writeErr)
	close(stopSampling)
	wg.Wait()
	t.Logf("largest buffered amount seen: %d KiB", maxBuffered.Load()>>10)
	assert.LessOrEqual(t, maxBuffered.Load(), int64(high))
}

func TestCreateChannelContext(t *testing.T) {
	testutil.LeakCheck(t)
	// A Offerer with no peer never connects, so CreateChannel waits for ctx.
	cfg := baseConfig(Offerer)
	cfg.OnSignal = func(Signal) {}
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = c.CreateChannel(ctx, "never")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	_, err = c.Ping(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	_, err = c.Accept(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// Close ends a pending CreateChannel.
	errc := make(chan error, 1)
	go func() {
		_, err := c.CreateChannel(t.Context(), "never")
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, c.Close())
	select {
	case err := <-errc:
		assert.True(t, errors.Is(err, ErrClosed), "got %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("pending CreateChannel did not return after Close")
	}
}
