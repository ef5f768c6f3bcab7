package peer

import (
	"math"
	"syscall/js"

	"github.com/pion/webrtc/v4"
)

// target holds the per-target fields of a Conn: the RTCPeerConnection and the
// event handlers installed on it, released on close.
//
// The Conn installs its own handlers instead of pion's On* methods, because
// pion runs each event on a new goroutine: candidates and state changes could
// be reordered, and a channel announced by ondatachannel could receive
// messages before a handler is attached. Handlers here run synchronously in
// the event and never block.
type target struct {
	pcv      js.Value
	handlers handlers
}

func (c *Conn) newPeerConnection() error {
	api := webrtc.NewAPI()
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: c.cfg.ICEServers})
	if err != nil {
		return err
	}
	c.pc = pc
	c.pcv = pc.JSValue()
	v := c.pcv

	c.handlers.set(v, "onicecandidate", func(args []js.Value) {
		cand := args[0].Get("candidate")
		if cand.IsNull() || cand.IsUndefined() {
			c.onLocalCandidate(nil)
			return
		}
		init := candidateInit(cand)
		// Some Chromium versions announce the end of a generation with an
		// empty candidate before the null one.
		if init.Candidate == "" {
			return
		}
		c.onLocalCandidate(&init)
	})
	c.handlers.set(v, "onconnectionstatechange", func([]js.Value) {
		c.onPeerState(stateFromString(v.Get("connectionState").String()))
	})
	c.handlers.set(v, "ondatachannel", func(args []js.Value) {
		b := newBrowserChannel(args[0].Get("channel"), c.cfg.Browser.ReceiveQueueSize)
		b.whenOpen(func(err error) {
			if err != nil {
				_ = b.close()
				return
			}
			c.onRemoteChannel(b)
		})
	})
	return nil
}

// candidateInit converts an RTCIceCandidate to its RTCIceCandidateInit form.
func candidateInit(v js.Value) webrtc.ICECandidateInit {
	init := webrtc.ICECandidateInit{Candidate: v.Get("candidate").String()}
	if mid := v.Get("sdpMid"); mid.Type() == js.TypeString {
		s := mid.String()
		init.SDPMid = &s
	}
	if idx := v.Get("sdpMLineIndex"); idx.Type() == js.TypeNumber {
		i := uint16(idx.Int()) //nolint:gosec // an m-line index
		init.SDPMLineIndex = &i
	}
	if uf := v.Get("usernameFragment"); uf.Type() == js.TypeString {
		s := uf.String()
		init.UsernameFragment = &s
	}
	return init
}

// newDataChannel creates a reliable, ordered channel; a non-nil id makes it
// pre-negotiated with that stream id. Its handlers are attached before this
// goroutine yields to the event loop, so no message is missed.
func (c *Conn) newDataChannel(label string, id *uint16) (*pendingChannel, error) {
	var init *webrtc.DataChannelInit
	if id != nil {
		negotiated := true
		init = &webrtc.DataChannelInit{Negotiated: &negotiated, ID: id}
	}
	dc, err := c.pc.CreateDataChannel(label, init)
	if err != nil {
		return nil, err
	}
	b := newBrowserChannel(dc.JSValue(), c.cfg.Browser.ReceiveQueueSize)
	p := &pendingChannel{
		opened: make(chan struct{}),
		abort:  func() { _ = b.close() },
	}
	b.whenOpen(func(err error) {
		if err != nil {
			p.err = err
		} else {
			p.t = b
		}
		close(p.opened)
	})
	return p, nil
}

// sendLimit returns RTCSctpTransport.maxMessageSize, which the browser sets
// from both sides' a=max-message-size (it may be Infinity).
func (c *Conn) sendLimit() int {
	sctp := c.pcv.Get("sctp")
	if sctp.IsNull() || sctp.IsUndefined() {
		return MinMessageSize
	}
	f := sctp.Get("maxMessageSize").Float()
	switch {
	case math.IsNaN(f) || f <= 0:
		return MinMessageSize
	case f > maxMessageSizeCap:
		return maxMessageSizeCap
	default:
		return clampMessageSize(int(f))
	}
}

// addEndOfCandidates passes {candidate: ""}, which the WebRTC spec defines as
// end of candidates for every m-line. It is only a hint, so a browser that
// rejects it is ignored.
func (c *Conn) addEndOfCandidates() {
	_ = c.pc.AddICECandidate(webrtc.ICECandidateInit{})
}

// closePeerConnection closes the RTCPeerConnection and releases the handlers.
func (c *Conn) closePeerConnection() {
	_ = c.pc.Close()
	c.handlers.release(c.pcv)
}

// handlers records js.Funcs installed as event handler properties of one
// object, so that they can be removed and released together.
type handlers struct {
	props []string
	funcs []js.Func
}

// set installs f as v[prop]. f runs inside the JavaScript event and must not
// block.
func (h *handlers) set(v js.Value, prop string, f func(args []js.Value)) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		f(args)
		return nil
	})
	v.Set(prop, fn)
	h.props = append(h.props, prop)
	h.funcs = append(h.funcs, fn)
}

// release removes the handlers from v before releasing them, so that no
// event can call a released function.
func (h *handlers) release(v js.Value) {
	for _, p := range h.props {
		v.Set(p, js.Null())
	}
	for _, f := range h.funcs {
		f.Release()
	}
	h.props, h.funcs = nil, nil
}

// stateFromString maps an RTCPeerConnectionState name to a State.
func stateFromString(s string) State {
	switch s {
	case "connecting":
		return StateConnecting
	case "connected":
		return StateConnected
	case "disconnected":
		return StateDisconnected
	case "failed":
		return StateFailed
	case "closed":
		return StateClosed
	default:
		return StateNew
	}
}
