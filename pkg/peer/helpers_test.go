//go:build !js

package peer

import (
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/testutil"
)

// loopbackUDPMux is pion's own UDPMux on a socket of its own on 127.0.0.1, closed when the
// test ends.
func loopbackUDPMux(t *testing.T) *ice.UDPMuxDefault {
	t.Helper()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: udp})
	t.Cleanup(func() { _ = mux.Close() })
	return mux
}

// baseConfig restricts ICE to loopback: no packet leaves lo, and there is no
// STUN or TURN server.
func baseConfig(role Role) Config {
	return Config{Role: role, Native: NativeOptions{LoopbackOnly: true}}
}

// stateLog records the states a Conn reports.
type stateLog struct {
	mu     sync.Mutex
	states []State
	ch     chan State
}

func newStateLog() *stateLog { return &stateLog{ch: make(chan State, 64)} }

func (l *stateLog) record(s State) {
	l.mu.Lock()
	l.states = append(l.states, s)
	l.mu.Unlock()
	select {
	case l.ch <- s:
	default:
	}
}

func (l *stateLog) get() []State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]State(nil), l.states...)
}

// waitFor waits until the Conn has reported want.
func (l *stateLog) waitFor(t *testing.T, want State, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for _, s := range l.get() {
		if s == want {
			return
		}
	}
	for {
		select {
		case s := <-l.ch:
			if s == want {
				return
			}
		case <-timer.C:
			t.Fatalf("state %v not reported within %v; got %v", want, d, l.get())
		}
	}
}

// pair is two Conns wired to each other's signals in-process.
type pair struct {
	client, server       *Conn
	clientLog, serverLog *stateLog
}

// newPair connects a Offerer and a Answerer on loopback. mod, if given, adjusts
// each side's Config before New. Signals pass through JSON, and every
// candidate is checked to be a loopback address.
func newPair(t *testing.T, mod func(*Config)) *pair {
	t.Helper()
	p := &pair{clientLog: newStateLog(), serverLog: newStateLog()}
	toServer := make(chan Signal, 256)
	toClient := make(chan Signal, 256)
	stop := make(chan struct{})
	send := func(ch chan Signal) func(Signal) {
		return func(s Signal) {
			select {
			case ch <- s:
			case <-stop:
			}
		}
	}

	ccfg := baseConfig(Offerer)
	ccfg.OnSignal = send(toServer)
	ccfg.OnStateChange = p.clientLog.record
	scfg := baseConfig(Answerer)
	scfg.OnSignal = send(toClient)
	scfg.OnStateChange = p.serverLog.record
	if mod != nil {
		mod(&ccfg)
		mod(&scfg)
	}

	var err error
	p.client, err = New(ccfg)
	require.NoError(t, err)
	p.server, err = New(scfg)
	if err != nil {
		_ = p.client.Close()
	}
	require.NoError(t, err)

	var wg sync.WaitGroup
	forward := func(in chan Signal, to *Conn) {
		defer wg.Done()
		for {
			select {
			case s := <-in:
				s = jsonRoundTrip(t, s)
				checkLoopback(t, s)
				if err := to.AddSignal(s); err != nil && to.Err() == nil {
					t.Errorf("AddSignal(%v): %v", s, err)
				}
			case <-stop:
				return
			}
		}
	}
	wg.Add(2)
	go forward(toServer, p.server)
	go forward(toClient, p.client)
	t.Cleanup(func() {
		assert.NoError(t, p.client.Close())
		assert.NoError(t, p.server.Close())
		close(stop)
		wg.Wait()
	})
	return p
}

func jsonRoundTrip(t *testing.T, s Signal) Signal {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Errorf("marshal %v: %v", s, err)
		return s
	}
	var out Signal
	if err := json.Unmarshal(b, &out); err != nil {
		t.Errorf("unmarshal %s: %v", b, err)
		return s
	}
	return out
}

// checkLoopback fails the test for a candidate whose address is not
// loopback: the network rule allows no other traffic.
func checkLoopback(t *testing.T, s Signal) {
	t.Helper()
	if s.Type != SignalCandidate || s.Candidate == nil {
		return
	}
	// candidate:<foundation> <component> <transport> <priority> <address> <port> typ ...
	f := strings.Fields(strings.TrimPrefix(s.Candidate.Candidate, "candidate:"))
	if len(f) < 5 {
		t.Errorf("malformed candidate %q", s.Candidate.Candidate)
		return
	}
	if ip := net.ParseIP(f[4]); ip == nil || !ip.IsLoopback() {
		t.Errorf("candidate address %q is not loopback", f[4])
	}
}

// channelPair opens a channel from the client and accepts it on the server.
func (p *pair) channelPair(t *testing.T, label string) (fromClient, atServer *Channel) {
	t.Helper()
	ctx := testutil.Context(t, 10*time.Second)
	fromClient, err := p.client.CreateChannel(ctx, label)
	require.NoError(t, err)
	atServer, err = p.server.Accept(ctx)
	require.NoError(t, err)
	require.Equal(t, label, atServer.Label())
	t.Cleanup(func() {
		_ = fromClient.Close()
		_ = atServer.Close()
	})
	return fromClient, atServer
}
