package peer

import (
	"context"
	"errors"
	"syscall/js"
)

// Adopt takes over an RTCPeerConnection that the page set up before the wasm ran
// (web/boot.js), so that signaling and ICE overlap with loading the wasm: pc made the offer,
// has the daemon's answer and is connected or connecting; ctrl is its pre-negotiated control
// channel and dc one more channel it created; ctrlHeld and dcHeld are arrays of the messages
// each received before Go took it, queued first. Adopt returns the Conn, in the Offerer
// role, and dc as a Channel once it is open. cfg.Role is ignored and cfg.OnSignal may be
// nil: signaling is over, so no signal is emitted.
//
// Nothing is trusted on the strength of who set the connection up: the caller authenticates
// the peer over the channel as after a Dial (pkg/connect, bound to both DTLS fingerprints).
func Adopt(ctx context.Context, cfg Config, pc, ctrl, ctrlHeld, dc, dcHeld js.Value) (*Conn, *Channel, error) {
	if pc.Type() != js.TypeObject || ctrl.Type() != js.TypeObject || dc.Type() != js.TypeObject {
		return nil, nil, errors.New("peer: adopt: not a peer connection and its channels")
	}
	cfg.Role = Offerer
	if cfg.OnSignal == nil {
		cfg.OnSignal = func(Signal) {}
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, nil, err
	}
	c := newConn(cfg)
	c.attach(pc)
	c.mu.Lock()
	c.localSent = true
	c.mu.Unlock()
	c.signalMu.Lock()
	c.remoteSet = true
	c.signalMu.Unlock()
	c.startControl(c.wrapDataChannel(ctrl, ctrlHeld))
	p := c.wrapDataChannel(dc, dcHeld)
	// The state so far; later changes come through the handler attach installed.
	c.onPeerState(stateFromString(pc.Get("connectionState").String()))
	ch, err := c.opened(ctx, p)
	if err != nil {
		_ = c.CloseWithError(err)
		return nil, nil, err
	}
	return c, ch, nil
}
