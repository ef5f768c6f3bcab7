package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// pionPair is the bare-pion baseline: two PeerConnections in this process with pion's
// default settings, except that loopback host candidates are allowed: in a loopback-only
// namespace there is no other address to connect on.
type pionPair struct {
	a, b   *webrtc.PeerConnection
	sendDC *webrtc.DataChannel
	recvDC *webrtc.DataChannel // guarded by mu

	mu      sync.Mutex
	onBytes func(n int, data []byte) // called for every message b receives
}

// newPionPair connects two PeerConnections and opens one DataChannel from a to b. It
// returns once the channel is open on both sides.
func newPionPair(ctx context.Context) (*pionPair, error) {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	p := &pionPair{}
	var err error
	if p.a, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, err
	}
	if p.b, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		p.a.Close()
		return nil, err
	}
	fail := func(err error) (*pionPair, error) { p.close(); return nil, err }

	openA := make(chan struct{})
	openB := make(chan struct{})
	p.b.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnOpen(func() { close(openB) })
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			p.mu.Lock()
			f := p.onBytes
			p.mu.Unlock()
			if f != nil {
				f(len(m.Data), m.Data)
			}
		})
		p.mu.Lock()
		p.recvDC = dc
		p.mu.Unlock()
	})
	if p.sendDC, err = p.a.CreateDataChannel("bench", nil); err != nil {
		return fail(err)
	}
	p.sendDC.OnOpen(func() { close(openA) })

	offerA, err := gatheredDescription(ctx, p.a, func() (webrtc.SessionDescription, error) { return p.a.CreateOffer(nil) })
	if err != nil {
		return fail(err)
	}
	if err := p.b.SetRemoteDescription(offerA); err != nil {
		return fail(err)
	}
	answerB, err := gatheredDescription(ctx, p.b, func() (webrtc.SessionDescription, error) { return p.b.CreateAnswer(nil) })
	if err != nil {
		return fail(err)
	}
	if err := p.a.SetRemoteDescription(answerB); err != nil {
		return fail(err)
	}
	if err := wait(ctx, openA); err != nil {
		return fail(fmt.Errorf("pion baseline: channel did not open: %w", err))
	}
	if err := wait(ctx, openB); err != nil {
		return fail(fmt.Errorf("pion baseline: channel did not open: %w", err))
	}
	return p, nil
}

func wait[T any](ctx context.Context, c <-chan T) error {
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (p *pionPair) close() {
	if p.a != nil {
		_ = p.a.Close()
	}
	if p.b != nil {
		_ = p.b.Close()
	}
}

// transfer sends total bytes from a to b in 64 KiB messages, keeping at most 4 MiB
// buffered (bufferedAmount backpressure, as a browser page would), and returns how long it
// took until b had received everything.
func (p *pionPair) transfer(ctx context.Context, total int64) (time.Duration, error) {
	const msg = 64 << 10
	const high, low = 4 << 20, 1 << 20
	var got atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	p.mu.Lock()
	p.onBytes = func(n int, _ []byte) {
		if got.Add(int64(n)) >= total {
			once.Do(func() { close(done) })
		}
	}
	p.mu.Unlock()
	drained := make(chan struct{}, 1)
	p.sendDC.SetBufferedAmountLowThreshold(low)
	p.sendDC.OnBufferedAmountLow(func() {
		select {
		case drained <- struct{}{}:
		default:
		}
	})
	buf := make([]byte, msg)
	start := time.Now()
	for sent := int64(0); sent < total; {
		for p.sendDC.BufferedAmount() > high {
			select {
			case <-drained:
			case <-time.After(50 * time.Millisecond): // re-check: the signal can race the check
			case <-ctx.Done():
				return 0, context.Cause(ctx)
			}
		}
		n := min(int64(msg), total-sent)
		if err := p.sendDC.Send(buf[:n]); err != nil {
			return 0, err
		}
		sent += n
	}
	if err := wait(ctx, done); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// echoRTTs measures n round trips of a 1-byte message a → b → a: the floor under any
// request/response over one DataChannel.
func (p *pionPair) echoRTTs(ctx context.Context, n int) ([]float64, error) {
	p.mu.Lock()
	rdc := p.recvDC
	p.onBytes = func(_ int, data []byte) {
		if rdc != nil {
			_ = rdc.Send(data)
		}
	}
	p.mu.Unlock()
	if rdc == nil {
		return nil, errors.New("pion baseline: no receiving channel")
	}
	back := make(chan struct{}, 1)
	p.sendDC.OnMessage(func(webrtc.DataChannelMessage) { back <- struct{}{} })
	out := make([]float64, 0, n)
	for range n {
		t0 := time.Now()
		if err := p.sendDC.Send([]byte{1}); err != nil {
			return nil, err
		}
		if err := wait(ctx, back); err != nil {
			return nil, err
		}
		out = append(out, float64(time.Since(t0))/float64(time.Millisecond))
	}
	return out, nil
}

// gatheredDescription creates pc's offer or answer with create, sets it, and returns the local
// description once gathering is complete (the baseline does not trickle).
func gatheredDescription(ctx context.Context, pc *webrtc.PeerConnection,
	create func() (webrtc.SessionDescription, error)) (webrtc.SessionDescription, error) {
	desc, err := create()
	if err != nil {
		return desc, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		return desc, err
	}
	if err := wait(ctx, gathered); err != nil {
		return desc, err
	}
	return *pc.LocalDescription(), nil
}
