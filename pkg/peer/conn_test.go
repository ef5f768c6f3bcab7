//go:build !js

package peer

import (
	"encoding/json"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/testutil"
)

func TestConnectAndPing(t *testing.T) {
	testutil.LeakCheck(t)
	p := newPair(t, nil)
	ctx := testutil.Context(t, 10*time.Second)

	const n = 500
	rtts := make([]time.Duration, 0, n)
	for range n {
		rtt, err := p.client.Ping(ctx)
		require.NoError(t, err)
		rtts = append(rtts, rtt)
	}
	rtt, err := p.server.Ping(ctx)
	require.NoError(t, err)
	assert.Positive(t, rtt)

	slices.Sort(rtts)
	t.Logf("ping over loopback, %d round trips: p50 %v, p90 %v, p99 %v, max %v",
		n, rtts[n/2], rtts[n*9/10], rtts[n*99/100], rtts[n-1])

	assert.Equal(t, StateConnected, p.client.State())
	assert.Equal(t, StateConnected, p.server.State())
	assert.Equal(t, Offerer, p.client.Role())
	assert.Equal(t, Answerer, p.server.Role())
	assert.NoError(t, p.client.Err())

	require.NoError(t, p.client.Close())
	assert.ErrorIs(t, p.client.Err(), ErrClosed)
	assert.Equal(t, StateClosed, p.client.State())
	// Close has returned, so the last callback has run.
	assert.Equal(t, []State{StateConnecting, StateConnected, StateClosed}, p.clientLog.get())
	_, err = p.client.Ping(ctx)
	assert.ErrorIs(t, err, ErrClosed)

	select {
	case <-p.server.Done():
	case <-ctx.Done():
		t.Fatal("server did not notice the client closing")
	}
	assert.ErrorIs(t, p.server.Err(), ErrClosedByPeer)
	assert.ErrorIs(t, p.server.Err(), io.EOF)
}

// TestCandidatesBeforeDescription delivers each side's candidates before its
// description: they must be held, not lost.
func TestCandidatesBeforeDescription(t *testing.T) {
	testutil.LeakCheck(t)
	var mu sync.Mutex
	var fromClient, fromServer []Signal
	clientDone := make(chan struct{})
	serverDone := make(chan struct{})
	collect := func(dst *[]Signal, done chan struct{}) func(Signal) {
		return func(s Signal) {
			mu.Lock()
			defer mu.Unlock()
			*dst = append(*dst, s)
			if s.Type == SignalEndOfCandidates {
				close(done)
			}
		}
	}
	ccfg := baseConfig(Offerer)
	ccfg.OnSignal = collect(&fromClient, clientDone)
	scfg := baseConfig(Answerer)
	scfg.OnSignal = collect(&fromServer, serverDone)
	client, err := New(ccfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, client.Close()) })
	server, err := New(scfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, server.Close()) })

	// descriptionLast reorders signals so that the description comes last.
	descriptionLast := func(sigs []Signal) []Signal {
		out := slices.Clone(sigs)
		slices.SortStableFunc(out, func(a, b Signal) int {
			isDesc := func(s Signal) int {
				if s.Type == SignalOffer || s.Type == SignalAnswer {
					return 1
				}
				return 0
			}
			return isDesc(a) - isDesc(b)
		})
		return out
	}

	ctx := testutil.Context(t, 10*time.Second)
	select {
	case <-clientDone:
	case <-ctx.Done():
		t.Fatal("client gathering did not complete")
	}
	mu.Lock()
	sigs := descriptionLast(fromClient)
	mu.Unlock()
	require.Equal(t, SignalOffer, sigs[len(sigs)-1].Type)
	require.Greater(t, len(sigs), 2, "no candidate gathered")
	for _, s := range sigs {
		checkLoopback(t, s)
		require.NoError(t, server.AddSignal(jsonRoundTrip(t, s)))
	}

	select {
	case <-serverDone:
	case <-ctx.Done():
		t.Fatal("server gathering did not complete")
	}
	mu.Lock()
	sigs = descriptionLast(fromServer)
	mu.Unlock()
	require.Equal(t, SignalAnswer, sigs[len(sigs)-1].Type)
	for _, s := range sigs {
		checkLoopback(t, s)
		require.NoError(t, client.AddSignal(jsonRoundTrip(t, s)))
	}

	_, err = client.Ping(ctx)
	require.NoError(t, err)
}

func TestAddSignalErrors(t *testing.T) {
	testutil.LeakCheck(t)
	p := newPair(t, nil)
	ctx := testutil.Context(t, 10*time.Second)
	_, err := p.client.Ping(ctx)
	require.NoError(t, err)

	tests := []struct {
		name string
		conn *Conn
		sig  Signal
	}{
		{"offer to client", p.client, Signal{Type: SignalOffer, SDP: "v=0"}},
		{"answer to server", p.server, Signal{Type: SignalAnswer, SDP: "v=0"}},
		{"second offer", p.server, Signal{Type: SignalOffer, SDP: "v=0"}},
		{"second answer", p.client, Signal{Type: SignalAnswer, SDP: "v=0"}},
		{"unknown type", p.client, Signal{Type: "hello"}},
		{"candidate without candidate", p.client, Signal{Type: SignalCandidate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, tt.conn.AddSignal(tt.sig), ErrUnexpectedSignal)
		})
	}

	bad := "candidate:not a candidate"
	assert.Error(t, p.client.AddSignal(Signal{Type: SignalCandidate, Candidate: &ICECandidateInit{Candidate: bad}}))
	assert.NoError(t, p.client.AddSignal(Signal{Type: SignalEndOfCandidates}))

	// None of that broke the connection.
	_, err = p.client.Ping(ctx)
	assert.NoError(t, err)
}

func TestPendingCandidatesBounded(t *testing.T) {
	testutil.LeakCheck(t)
	cfg := baseConfig(Answerer)
	cfg.OnSignal = func(Signal) {}
	server, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, server.Close()) })

	cand := Signal{Type: SignalCandidate, Candidate: &ICECandidateInit{
		Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host",
	}}
	for range maxPendingCandidates {
		require.NoError(t, server.AddSignal(cand))
	}
	assert.ErrorIs(t, server.AddSignal(cand), errTooManyCandidates)
}

func TestSignalJSON(t *testing.T) {
	mid, idx := "0", uint16(0)
	tests := []struct {
		name string
		sig  Signal
		want string
	}{
		{"offer", Signal{Type: SignalOffer, SDP: "v=0\r\n"}, `{"type":"offer","sdp":"v=0\r\n"}`},
		{"end", Signal{Type: SignalEndOfCandidates}, `{"type":"end-of-candidates"}`},
		{
			"candidate",
			Signal{Type: SignalCandidate, Candidate: &ICECandidateInit{
				Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", SDPMid: &mid, SDPMLineIndex: &idx,
			}},
			`{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host",` +
				`"sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.sig)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(b))
			var back Signal
			require.NoError(t, json.Unmarshal(b, &back))
			assert.Equal(t, tt.sig, back)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no role", Config{OnSignal: func(Signal) {}}},
		{"no OnSignal", Config{Role: Offerer}},
		{"low above high", Config{Role: Offerer, OnSignal: func(Signal) {}, HighWaterMark: 100, LowWaterMark: 200}},
		{"message above receive buffer", Config{Role: Offerer, OnSignal: func(Signal) {}, Native: NativeOptions{
			SCTPReceiveBufferSize: 64 << 10, MaxReceiveMessageSize: 128 << 10,
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			assert.Error(t, err)
			assert.Nil(t, c)
		})
	}
}

func TestErrClosedWrapsEOF(t *testing.T) {
	assert.ErrorIs(t, ErrClosed, io.EOF)
	cause := errors.New("shutting down")
	err := closedWith(cause)
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, err, io.EOF)
	assert.ErrorIs(t, err, cause)
	assert.Equal(t, "peer: closed: shutting down", err.Error())
	assert.Equal(t, "peer: closed: connection failed", closedWith(ErrFailed).Error())
	assert.Equal(t, ErrClosed, closedWith(nil))
	assert.Equal(t, err, closedWith(err))
}

func TestCloseWithErrorPropagates(t *testing.T) {
	testutil.LeakCheck(t)
	p := newPair(t, func(cfg *Config) {
		cfg.HighWaterMark = 64 << 10
		cfg.LowWaterMark = 16 << 10
	})
	ch, remote := p.channelPair(t, "blocked")
	_ = remote // never read: the client's writes back up

	cause := errors.New("operator said stop")
	type result struct {
		op  string
		err error
	}
	results := make(chan result, 3)

	go func() {
		_, err := p.client.Accept(t.Context())
		results <- result{"Accept", err}
	}()
	go func() {
		_, err := ch.Read(make([]byte, 1024))
		results <- result{"Read", err}
	}()
	var written sync.WaitGroup
	written.Add(1)
	progress := make(chan int, 1024)
	go func() {
		defer written.Done()
		msg := make([]byte, 16<<10)
		for i := 0; ; i++ {
			if _, err := ch.Write(msg); err != nil {
				results <- result{"Write", err}
				return
			}
			select {
			case progress <- i:
			default:
			}
		}
	}()

	// Wait until the writer is stuck: SCTP's receive window (1 MiB) and the
	// send buffer are full.
	ctx := testutil.Context(t, 10*time.Second)
	for stuck := false; !stuck; {
		select {
		case <-progress:
		case <-time.After(300 * time.Millisecond):
			stuck = true
		case <-ctx.Done():
			t.Fatal("writer never blocked")
		}
	}

	require.NoError(t, p.client.CloseWithError(cause))
	for range 3 {
		select {
		case r := <-results:
			assert.ErrorIs(t, r.err, cause, r.op)
			assert.ErrorIs(t, r.err, ErrClosed, r.op)
			assert.ErrorIs(t, r.err, io.EOF, r.op)
		case <-ctx.Done():
			t.Fatal("a pending call did not return after CloseWithError")
		}
	}
	written.Wait()

	// Later calls fail the same way.
	_, err := ch.Write([]byte("x"))
	assert.ErrorIs(t, err, cause)
	_, err = ch.Read(make([]byte, 10))
	assert.ErrorIs(t, err, cause)
	_, err = p.client.Ping(ctx)
	assert.ErrorIs(t, err, cause)
	_, err = p.client.CreateChannel(ctx, "late")
	assert.ErrorIs(t, err, cause)
	_, err = p.client.Accept(ctx)
	assert.ErrorIs(t, err, cause)
	assert.ErrorIs(t, p.client.AddSignal(Signal{Type: SignalEndOfCandidates}), cause)
	assert.ErrorIs(t, p.client.Err(), cause)
	assert.NoError(t, p.client.Close(), "a second close")
	assert.ErrorIs(t, p.client.Err(), cause, "a second close changes nothing")

	// The server sees the peer go.
	select {
	case <-p.server.Done():
	case <-ctx.Done():
		t.Fatal("server did not notice the client closing")
	}
	assert.ErrorIs(t, p.server.Err(), ErrClosedByPeer)
}

func TestRemoteCloseUnblocksRead(t *testing.T) {
	testutil.LeakCheck(t)
	p := newPair(t, nil)
	_, atServer := p.channelPair(t, "idle")

	errc := make(chan error, 1)
	go func() {
		_, err := atServer.Read(make([]byte, 1024))
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the Read block
	require.NoError(t, p.client.Close())

	ctx := testutil.Context(t, 10*time.Second)
	select {
	case err := <-errc:
		// Plain io.EOF if the peer's channel reset arrives first, an error
		// wrapping ErrClosedByPeer if the connection's end does.
		assert.ErrorIs(t, err, io.EOF)
	case <-ctx.Done():
		t.Fatal("pending Read did not return after the peer closed")
	}
	select {
	case <-p.server.Done():
	case <-ctx.Done():
		t.Fatal("server did not close after the peer closed")
	}
	assert.ErrorIs(t, p.server.Err(), ErrClosedByPeer)
	assert.Equal(t, StateClosed, p.server.State())
}

// TestPeerVanishes kills the server's only socket, so that the server goes
// silent without saying goodbye: the client must notice through ICE.
func TestPeerVanishes(t *testing.T) {
	testutil.LeakCheck(t)
	mux := loopbackUDPMux(t)

	p := newPair(t, func(cfg *Config) {
		switch cfg.Role {
		case Answerer:
			cfg.Native.UDPMux = mux
		case Offerer:
			// Short enough to keep the test quick, long enough that a loaded
			// machine does not look like a vanished peer.
			cfg.Native.ICEDisconnectedTimeout = time.Second
			cfg.Native.ICEFailedTimeout = time.Second
			cfg.Native.ICEKeepAliveInterval = 100 * time.Millisecond
		}
	})
	ctx := testutil.Context(t, 10*time.Second)
	_, err := p.client.Ping(ctx)
	require.NoError(t, err)

	start := time.Now()
	require.NoError(t, mux.Close())

	p.clientLog.waitFor(t, StateDisconnected, 5*time.Second)
	p.clientLog.waitFor(t, StateFailed, 5*time.Second)
	select {
	case <-p.client.Done():
	case <-ctx.Done():
		t.Fatal("client did not close after failing")
	}
	t.Logf("client reported failure %v after the peer vanished; states %v", time.Since(start), p.clientLog.get())
	assert.ErrorIs(t, p.client.Err(), ErrFailed)
	assert.ErrorIs(t, p.client.Err(), ErrClosed)
	_, err = p.client.Ping(ctx)
	assert.ErrorIs(t, err, ErrFailed)
	require.NoError(t, p.client.Close())
	assert.Equal(t, StateClosed, p.clientLog.get()[len(p.clientLog.get())-1])
}

func TestPingDisconnected(t *testing.T) {
	testutil.LeakCheck(t)
	p := newPair(t, nil)
	ctx := testutil.Context(t, 10*time.Second)
	_, err := p.client.Ping(ctx)
	require.NoError(t, err)

	// Pretend ICE reported disconnected: Ping fails fast, and works again
	// once the connection recovers.
	p.client.onPeerState(StateDisconnected)
	_, err = p.client.Ping(ctx)
	assert.ErrorIs(t, err, ErrDisconnected)
	p.client.onPeerState(StateConnected)
	_, err = p.client.Ping(ctx)
	assert.NoError(t, err)
}

// TestCloseFromCallback closes the Conn from OnStateChange, which runs on the
// goroutine Close would otherwise wait for.
func TestCloseFromCallback(t *testing.T) {
	testutil.LeakCheck(t)
	var server atomic.Pointer[Conn]
	closed := make(chan struct{})
	p := newPair(t, func(cfg *Config) {
		if cfg.Role != Answerer {
			return
		}
		record := cfg.OnStateChange
		cfg.OnStateChange = func(s State) {
			record(s)
			if s == StateConnected {
				assert.NoError(t, server.Load().Close())
				close(closed)
			}
		}
	})
	server.Store(p.server)

	ctx := testutil.Context(t, 10*time.Second)
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("the server never connected")
	}
	assert.ErrorIs(t, p.server.Err(), ErrClosed)
	select {
	case <-p.client.Done():
	case <-ctx.Done():
		t.Fatal("the client did not notice")
	}
	assert.ErrorIs(t, p.client.Err(), ErrClosedByPeer)
	p.serverLog.waitFor(t, StateClosed, 5*time.Second)
}
