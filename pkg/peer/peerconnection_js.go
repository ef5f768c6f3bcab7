package peer

import (
	"errors"
	"fmt"
	"math"
	"syscall/js"

	"github.com/rangecast/rangecast/internal/jsutil"
)

// target holds the per-target fields of a Conn: the browser's
// RTCPeerConnection and the event handlers installed on it, released on
// close.
//
// The browser build drives RTCPeerConnection directly through syscall/js
// rather than through pion's js bindings: those only forward to the same
// browser API, but linking them pulls pion's ICE, DTLS, SCTP and TURN packages
// into the wasm (over 3 MB raw). The handlers run synchronously in the event,
// in order, and never block; pion's ran each event on a new goroutine, free
// to reorder candidates and state changes.
type target struct {
	pcv      js.Value
	handlers handlers
}

// pacer returns nil: the browser paces its own SCTP.
func (c *Conn) pacer() *pacer { return nil }

// datagramPacer is native only (pacedmux.go): a browser's datagrams are its own.
type datagramPacer struct{}

func (*datagramPacer) setRate(float64) {}

func (c *Conn) newPeerConnection() (err error) {
	ctor := js.Global().Get("RTCPeerConnection")
	if ctor.Type() != js.TypeFunction {
		return errors.New("peer: this JavaScript environment has no RTCPeerConnection")
	}
	servers := make([]any, 0, len(c.cfg.ICEServers))
	for _, s := range c.cfg.ICEServers {
		urls := make([]any, len(s.URLs))
		for i, u := range s.URLs {
			urls[i] = u
		}
		srv := map[string]any{"urls": urls}
		if s.Username != "" {
			srv["username"] = s.Username
		}
		if s.Credential != "" {
			srv["credential"] = s.Credential
		}
		servers = append(servers, srv)
	}
	v, err := jsutil.Try(func() js.Value { return ctor.New(map[string]any{"iceServers": servers}) })
	if err != nil {
		return fmt.Errorf("peer: new RTCPeerConnection: %w", err)
	}
	c.attach(v)
	return nil
}

// attach makes v the Conn's RTCPeerConnection and installs its event handlers.
func (c *Conn) attach(v js.Value) {
	c.pcv = v

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
}

// createLocalDescription creates the offer or answer and sets it as the local
// description, which starts gathering; it returns its SDP.
func (c *Conn) createLocalDescription(typ SignalType) (string, error) {
	method := "createAnswer"
	if typ == SignalOffer {
		method = "createOffer"
	}
	desc, err := jsutil.AwaitCall(c.pcv, method)
	if err != nil {
		return "", err
	}
	if _, err := jsutil.AwaitCall(c.pcv, "setLocalDescription", desc); err != nil {
		return "", err
	}
	return desc.Get("sdp").String(), nil
}

// setRemoteDescription applies the peer's offer or answer.
func (c *Conn) setRemoteDescription(typ SignalType, sdp string) error {
	_, err := jsutil.AwaitCall(c.pcv, "setRemoteDescription", map[string]any{"type": string(typ), "sdp": sdp})
	return err
}

// addICECandidate applies one remote candidate.
func (c *Conn) addICECandidate(cand ICECandidateInit) error {
	_, err := jsutil.AwaitCall(c.pcv, "addIceCandidate", cand.JSInit())
	return err
}

// JSInit returns c as the browser's RTCIceCandidateInit, for js.ValueOf: what
// addIceCandidate takes, and the candidate's JSON form in signaling (a field c
// lacks is null, as encoding/json writes it).
func (c ICECandidateInit) JSInit() map[string]any {
	init := map[string]any{"candidate": c.Candidate, "sdpMid": nil, "sdpMLineIndex": nil, "usernameFragment": nil}
	if c.SDPMid != nil {
		init["sdpMid"] = *c.SDPMid
	}
	if c.SDPMLineIndex != nil {
		init["sdpMLineIndex"] = int(*c.SDPMLineIndex)
	}
	if c.UsernameFragment != nil {
		init["usernameFragment"] = *c.UsernameFragment
	}
	return init
}

// candidateInit converts an RTCIceCandidate to its RTCIceCandidateInit form.
func candidateInit(v js.Value) ICECandidateInit {
	init := ICECandidateInit{Candidate: v.Get("candidate").String()}
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
	var init any = js.Undefined()
	if id != nil {
		init = map[string]any{"negotiated": true, "id": int(*id)}
	}
	dc, err := jsutil.Call(c.pcv, "createDataChannel", label, init)
	if err != nil {
		return nil, err
	}
	return c.wrapDataChannel(dc, js.Undefined()), nil
}

// wrapDataChannel takes an RTCDataChannel over; held, if not undefined, is an array of the
// messages it received before (web/boot.js keeps them), which are queued first. This runs
// without yielding to the event loop, so no message comes in between.
func (c *Conn) wrapDataChannel(dc, held js.Value) *pendingChannel {
	b := newBrowserChannel(dc, c.cfg.Browser.ReceiveQueueSize)
	if held.Type() == js.TypeObject {
		for i, n := 0, held.Length(); i < n; i++ {
			b.push(held.Index(i))
		}
		held.Set("length", 0)
	}
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
	return p
}

// sendCap: a browser Conn sends messages as large as the peer accepts.
func (c *Conn) sendCap() int { return 0 }

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
	_, _ = jsutil.AwaitCall(c.pcv, "addIceCandidate", map[string]any{"candidate": ""})
}

// closePeerConnection closes the RTCPeerConnection and releases the handlers.
func (c *Conn) closePeerConnection() {
	_, _ = jsutil.Call(c.pcv, "close")
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

// localSDP returns localDescription.sdp, or "" before there is one.
func (c *Conn) localSDP() string { return descriptionSDP(c.pcv.Get("localDescription")) }

// remoteSDP returns remoteDescription.sdp, or "" before there is one.
func (c *Conn) remoteSDP() string { return descriptionSDP(c.pcv.Get("remoteDescription")) }

func descriptionSDP(d js.Value) string {
	if d.Type() != js.TypeObject {
		return ""
	}
	if s := d.Get("sdp"); s.Type() == js.TypeString {
		return s.String()
	}
	return ""
}
