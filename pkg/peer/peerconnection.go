//go:build !js

package peer

import (
	"net"
	"net/netip"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// target holds the per-target fields of a Conn: natively, pion's
// PeerConnection.
type target struct {
	pc   *webrtc.PeerConnection
	pace *pacer // if NativeOptions.Pacing
}

// pacer returns the Conn's pacer, or nil.
func (c *Conn) pacer() *pacer { return c.pace }

// newPeerConnection builds the SettingEngine from cfg.Native, creates the
// PeerConnection and hooks its events to the Conn.
func (c *Conn) newPeerConnection() error {
	o := c.cfg.Native
	var se webrtc.SettingEngine
	se.LoggerFactory = pionLoggers
	se.DetachDataChannels()
	se.SetSCTPMaxMessageSize(uint32(o.MaxReceiveMessageSize)) //nolint:gosec // bounded by withDefaults
	if o.SCTPReceiveBufferSize > 0 {
		se.SetSCTPMaxReceiveBufferSize(uint32(o.SCTPReceiveBufferSize)) //nolint:gosec // bounded by withDefaults
	}
	if o.SCTPCwndCAStep > 0 {
		se.SetSCTPCwndCAStep(o.SCTPCwndCAStep)
	}
	if o.SCTPFastRtxWnd > 0 {
		se.SetSCTPFastRtxWnd(o.SCTPFastRtxWnd)
	}
	if o.SCTPMinCwnd > 0 {
		se.SetSCTPMinCwnd(o.SCTPMinCwnd)
	}
	if o.SCTPRTOMax > 0 {
		se.SetSCTPRTOMax(o.SCTPRTOMax)
	}
	if o.IncludeLoopbackCandidate || o.LoopbackOnly {
		se.SetIncludeLoopbackCandidate(true)
	}
	if o.LoopbackOnly {
		loopback := func(ip net.IP) bool { return ip.IsLoopback() }
		se.SetIPFilter(loopback)
		se.SetRemoteIPFilter(loopback)
	}
	if o.DisableMulticastDNS || o.LoopbackOnly {
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if o.Pacing {
		// The closures read c.pc, which is set once pion has built it.
		c.pace = &pacer{
			pathRTT: o.PathRTT,
			buffered: func() int {
				if s := c.pc.SCTP(); s != nil {
					return s.BufferedAmount()
				}
				return 0
			},
			stats: func() (time.Duration, uint64) {
				if s := c.pc.SCTP(); s != nil {
					st := s.Stats()
					return time.Duration(st.SmoothedRoundTripTime * float64(time.Second)), st.BytesSent
				}
				return 0, 0
			},
		}
	}
	if o.UDPMux != nil {
		if c.pace != nil && o.PaceDatagrams {
			se.SetICEUDPMux(pacedMux{UDPMux: o.UDPMux, p: &c.pace.datagrams})
		} else {
			se.SetICEUDPMux(o.UDPMux)
		}
	} else if o.UDPBufferSize > 0 {
		n, err := newBufferedNet(o.UDPBufferSize)
		if err != nil {
			return err
		}
		se.SetNet(n)
	}
	if o.ICEDisconnectedTimeout > 0 || o.ICEFailedTimeout > 0 || o.ICEKeepAliveInterval > 0 {
		se.SetICETimeouts(
			orDefault(o.ICEDisconnectedTimeout, 5*time.Second),
			orDefault(o.ICEFailedTimeout, 25*time.Second),
			orDefault(o.ICEKeepAliveInterval, 2*time.Second),
		)
	}
	if o.SettingEngine != nil {
		o.SettingEngine(&se)
	}

	// A Conn carries DataChannels only: an empty MediaEngine and interceptor registry spare
	// each PeerConnection pion's default codecs and its four media interceptors (NACK, RTCP
	// reports, TWCC), each with a goroutine and buffers of its own.
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se),
		webrtc.WithMediaEngine(&webrtc.MediaEngine{}),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: pionICEServers(c.cfg.ICEServers)})
	if err != nil {
		return err
	}
	c.pc = pc
	// pion calls this on the ICE agent's goroutine, in order; nil means
	// gathering is complete.
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			c.onLocalCandidate(nil)
			return
		}
		init := cand.ToJSON()
		c.onLocalCandidate(&ICECandidateInit{
			Candidate: init.Candidate, SDPMid: init.SDPMid,
			SDPMLineIndex: init.SDPMLineIndex, UsernameFragment: init.UsernameFragment,
		})
		for _, s := range reflexiveCandidates(o.Reflexive, cand) {
			c.onLocalCandidate(&ICECandidateInit{
				Candidate: s, SDPMid: init.SDPMid,
				SDPMLineIndex: init.SDPMLineIndex, UsernameFragment: init.UsernameFragment,
			})
		}
	})
	// pion calls this on a new goroutine per change, so two changes can race:
	// read the current state rather than trust the argument, so that the
	// last handler to run records the latest state.
	pc.OnConnectionStateChange(func(webrtc.PeerConnectionState) {
		c.onPeerState(fromPeerConnectionState(pc.ConnectionState()))
	})
	// pion's SCTP accept loop waits for this handler, so it must not block.
	// A detached channel can only be detached once open.
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnOpen(func() {
			rw, err := dc.DetachWithDeadline()
			if err != nil {
				_ = dc.Close()
				return
			}
			c.onRemoteChannel(&detached{dc: dc, rw: rw})
		})
	})
	return nil
}

// pionICEServers converts the configured servers to pion's type.
func pionICEServers(servers []ICEServer) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(servers))
	for _, s := range servers {
		out = append(out, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}

// createLocalDescription creates the offer or answer and sets it as the local
// description, which starts gathering; it returns its SDP.
func (c *Conn) createLocalDescription(typ SignalType) (string, error) {
	var desc webrtc.SessionDescription
	var err error
	if typ == SignalOffer {
		desc, err = c.pc.CreateOffer(nil)
	} else {
		desc, err = c.pc.CreateAnswer(nil)
	}
	if err != nil {
		return "", err
	}
	if err := c.pc.SetLocalDescription(desc); err != nil {
		return "", err
	}
	return desc.SDP, nil
}

// setRemoteDescription applies the peer's offer or answer.
func (c *Conn) setRemoteDescription(typ SignalType, sdp string) error {
	t := webrtc.SDPTypeAnswer
	if typ == SignalOffer {
		t = webrtc.SDPTypeOffer
	}
	return c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: t, SDP: sdp})
}

// addICECandidate applies one remote candidate.
func (c *Conn) addICECandidate(cand ICECandidateInit) error {
	return c.pc.AddICECandidate(webrtc.ICECandidateInit{
		Candidate: cand.Candidate, SDPMid: cand.SDPMid,
		SDPMLineIndex: cand.SDPMLineIndex, UsernameFragment: cand.UsernameFragment,
	})
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func fromPeerConnectionState(s webrtc.PeerConnectionState) State {
	switch s {
	case webrtc.PeerConnectionStateConnecting:
		return StateConnecting
	case webrtc.PeerConnectionStateConnected:
		return StateConnected
	case webrtc.PeerConnectionStateDisconnected:
		return StateDisconnected
	case webrtc.PeerConnectionStateFailed:
		return StateFailed
	case webrtc.PeerConnectionStateClosed:
		return StateClosed
	default:
		return StateNew
	}
}

// newDataChannel creates a reliable, ordered channel; a non-nil id makes it
// pre-negotiated with that stream id.
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
	p := &pendingChannel{
		opened: make(chan struct{}),
		abort:  func() { _ = dc.Close() },
	}
	// OnOpen fires once; with detached channels pion fires it as soon as the
	// stream is dialed (or at SCTP start for a negotiated one).
	dc.OnOpen(func() {
		rw, err := dc.DetachWithDeadline()
		if err != nil {
			p.err = err
		} else {
			p.t = &detached{dc: dc, rw: rw}
		}
		close(p.opened)
	})
	return p, nil
}

// PacedMessageSize bounds the messages of a paced Conn's channels: a paced message still
// leaves in one burst, which must stay well under a bottleneck's queue.
const PacedMessageSize = 32 << 10

// sendCap is the largest message the Conn's channels send by its own choice (0: none):
// NativeOptions.MaxSendMessageSize, and at most PacedMessageSize when paced.
func (c *Conn) sendCap() int {
	n := c.cfg.Native.MaxSendMessageSize
	if c.pacer() != nil && (n == 0 || n > PacedMessageSize) {
		n = PacedMessageSize
	}
	return n
}

// sendLimit returns the largest message the peer accepts: pion's SCTP
// association takes it from the remote a=max-message-size (65535 when the
// remote states none).
func (c *Conn) sendLimit() int {
	var n int
	if sctp := c.pc.SCTP(); sctp != nil {
		n = int(sctp.GetCapabilities().MaxMessageSize)
	}
	return clampMessageSize(n)
}

// addEndOfCandidates tells pion that the peer has no more candidates; pion
// takes an empty candidate for that and does nothing with it.
func (c *Conn) addEndOfCandidates() {
	_ = c.pc.AddICECandidate(webrtc.ICECandidateInit{})
}

// closePeerConnection closes the PeerConnection and waits for the goroutines
// pion started for it.
func (c *Conn) closePeerConnection() {
	_ = c.pc.GracefulClose()
}

// localSDP returns the local description's SDP, or "" before there is one.
func (c *Conn) localSDP() string {
	if d := c.pc.LocalDescription(); d != nil {
		return d.SDP
	}
	return ""
}

// remoteSDP returns the remote description's SDP, or "" before there is one.
func (c *Conn) remoteSDP() string {
	if d := c.pc.RemoteDescription(); d != nil {
		return d.SDP
	}
	return ""
}

// reflexiveCandidates returns the srflx candidate lines (a=candidate values, with the
// "candidate:" prefix) that NativeOptions.Reflexive names for a UDP host candidate.
func reflexiveCandidates(reflexive func(netip.AddrPort) []netip.AddrPort, cand *webrtc.ICECandidate) []string {
	if reflexive == nil || cand.Typ != webrtc.ICECandidateTypeHost || cand.Protocol != webrtc.ICEProtocolUDP {
		return nil
	}
	ip, err := netip.ParseAddr(cand.Address)
	if err != nil {
		return nil // an mDNS name
	}
	local := netip.AddrPortFrom(ip.Unmap(), cand.Port)
	var out []string
	for _, a := range reflexive(local) {
		if a == local || a.Addr().Is4() != local.Addr().Is4() {
			continue
		}
		network := "udp4"
		if !a.Addr().Is4() {
			network = "udp6"
		}
		srflx, err := ice.NewCandidateServerReflexive(&ice.CandidateServerReflexiveConfig{
			Network: network, Address: a.Addr().String(), Port: int(a.Port()), Component: 1,
			RelAddr: local.Addr().String(), RelPort: int(local.Port()),
		})
		if err != nil {
			continue
		}
		out = append(out, "candidate:"+srflx.Marshal())
	}
	return out
}
