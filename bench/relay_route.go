package main

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// reroute sends one peer connection through a relay by editing its signaling: the
// offerer's (client's) own candidates are dropped, so the answerer cannot reach it
// directly and learns it as a peer-reflexive address from the relay's upstream socket; the
// answerer's IPv4 loopback UDP host candidate is rewritten to the relay's listening
// address, and its other candidates (IPv6, mDNS names, other ports) are dropped. The relay
// starts at the first such candidate, with that candidate as its target.
type reroute struct {
	opts relayOptions

	mu      sync.Mutex
	r       *relay
	err     error
	dropped int // remote candidates dropped
}

func newReroute(o relayOptions) *reroute { return &reroute{opts: o} }

// remoteCandidate rewrites one of the answerer's candidate lines ("candidate:…" or
// "a=candidate:…"), or returns false to drop it.
func (rt *reroute) remoteCandidate(line string) (string, bool) {
	f := strings.Fields(line)
	// candidate:FOUNDATION COMPONENT TRANSPORT PRIORITY ADDRESS PORT typ TYPE …
	if len(f) < 8 || !strings.EqualFold(f[2], "udp") || f[6] != "typ" || f[7] != "host" {
		return rt.drop()
	}
	ip, err := netip.ParseAddr(f[4]) // an mDNS name (x.local) fails here
	port, err2 := strconv.ParseUint(f[5], 10, 16)
	if err != nil || err2 != nil || !ip.Is4() || !ip.IsLoopback() {
		return rt.drop()
	}
	target := netip.AddrPortFrom(ip, uint16(port))
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.r == nil && rt.err == nil {
		rt.r, rt.err = newRelay(target, rt.opts)
	}
	if rt.r == nil || rt.r.target != target {
		rt.dropped++
		return "", false
	}
	to := rt.r.addr()
	f[4], f[5] = to.Addr().String(), strconv.Itoa(int(to.Port()))
	return strings.Join(f, " "), true
}

func (rt *reroute) drop() (string, bool) {
	rt.mu.Lock()
	rt.dropped++
	rt.mu.Unlock()
	return "", false
}

// localSDP removes the candidate lines of the offerer's SDP.
func (rt *reroute) localSDP(sdp string) string {
	return editCandidateLines(sdp, func(string) (string, bool) { return "", false })
}

// remoteSDP rewrites the candidate lines of the answerer's SDP.
func (rt *reroute) remoteSDP(sdp string) string {
	return editCandidateLines(sdp, func(l string) (string, bool) {
		c, ok := rt.remoteCandidate(strings.TrimPrefix(l, "a="))
		return "a=" + c, ok
	})
}

// editCandidateLines replaces each a=candidate line of sdp by edit's result or drops it.
func editCandidateLines(sdp string, edit func(string) (string, bool)) string {
	lines := strings.SplitAfter(sdp, "\n")
	out := lines[:0]
	for _, l := range lines {
		body := strings.TrimRight(l, "\r\n")
		if !strings.HasPrefix(body, "a=candidate:") {
			out = append(out, l)
			continue
		}
		if e, ok := edit(body); ok {
			out = append(out, e+l[len(body):])
		}
	}
	return strings.Join(out, "")
}

// localSignal is a signaling.DialOptions.LocalSignal hook: it drops the client's candidates.
func (rt *reroute) localSignal(s peer.Signal) (peer.Signal, bool) {
	switch s.Type {
	case peer.SignalCandidate:
		return s, false
	case peer.SignalOffer:
		s.SDP = rt.localSDP(s.SDP)
	}
	return s, true
}

// remoteSignal is a signaling.DialOptions.RemoteSignal hook: it reroutes the daemon's
// candidates through the relay.
func (rt *reroute) remoteSignal(s peer.Signal) (peer.Signal, bool) {
	switch s.Type {
	case peer.SignalCandidate:
		if s.Candidate == nil {
			return s, false
		}
		line, ok := rt.remoteCandidate(s.Candidate.Candidate)
		if !ok {
			return s, false
		}
		c := *s.Candidate
		c.Candidate = line
		s.Candidate = &c
	case peer.SignalAnswer:
		s.SDP = rt.remoteSDP(s.SDP)
	}
	return s, true
}

// dialOptions sets both hooks.
func (rt *reroute) dialOptions(o *signaling.DialOptions) {
	o.LocalSignal, o.RemoteSignal = rt.localSignal, rt.remoteSignal
}

// relay returns the relay if one started, or why none did.
func (rt *reroute) relay() (*relay, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.r == nil && rt.err == nil {
		return nil, errNoRoute
	}
	return rt.r, rt.err
}

// close stops the relay, if any, and returns a summary of what it carried.
func (rt *reroute) close() string {
	rt.mu.Lock()
	r := rt.r
	dropped := rt.dropped
	rt.mu.Unlock()
	if r == nil {
		return "no relay"
	}
	r.close()
	up, down := r.stats()
	return "relay up: " + up.String() + "; down: " + down.String() +
		"; candidates dropped: " + strconv.Itoa(dropped)
}
