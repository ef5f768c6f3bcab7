//go:build !js

package udpmux

import (
	"container/list"
	"context"
	"net"
	"net/netip"
	"time"
)

// Incoming describes a connectivity check for a local ufrag that no
// connection of the Mux has: someone wants to connect and knows, or guesses,
// a ufrag. Accept reports each such ufrag once. To take the connection, make
// an ICE agent with that local ufrag (and the password agreed out of band)
// on this Mux, for example with webrtc.SettingEngine.SetICECredentials, and
// its GetConn receives the checks held so far.
type Incoming struct {
	// Ufrag is the local ufrag the check asked for: the part of its
	// USERNAME before the colon.
	Ufrag string
	// RemoteUfrag is the sender's ufrag: the part after the colon.
	RemoteUfrag string
	// Remote is the address the first check came from.
	Remote netip.AddrPort
	// Local is the listen address it arrived on.
	Local net.Addr
	// Time is when it arrived.
	Time time.Time
}

// pendingUfrag is an unknown ufrag held for Accept and for the GetConn that
// claims it.
type pendingUfrag struct {
	in         Incoming
	held       []heldPacket
	age        *list.Element // in Mux.byAge
	unreported *list.Element // in Mux.unreported; nil once Accept returned it
}

type heldPacket struct {
	l *listener
	packet
}

// Accept waits for a ufrag that no connection has and returns it. A ufrag is
// reported once while it is pending, that is until GetConn claims it,
// RemoveConnByUfrag removes it, Options.PendingTTL passes, or more than
// Options.MaxPendingUfrags newer ones push it out; after that, checks for it
// make it new again. The ufrag of a connection that closed less than three
// PendingTTLs ago is not reported: its remote is only late to notice. Only STUN binding requests with a USERNAME of two
// ice-char ufrags and a correct FINGERPRINT count; their MESSAGE-INTEGRITY
// is not checked (the mux has no password), so an Incoming is a claim, not
// a proof. Accept returns ctx's error if ctx ends first, and ErrClosed once
// the Mux is closed.
func (m *Mux) Accept(ctx context.Context) (Incoming, error) {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return Incoming{}, ErrClosed
		}
		m.expireLocked(time.Now())
		if e := m.unreported.Front(); e != nil {
			p := e.Value.(*pendingUfrag) //nolint:forcetypeassert // the list holds nothing else
			m.unreported.Remove(e)
			p.unreported = nil
			if m.unreported.Len() > 0 {
				m.signalAcceptLocked()
			}
			m.mu.Unlock()
			return p.in, nil
		}
		m.mu.Unlock()
		select {
		case <-m.acceptable:
		case <-ctx.Done():
			return Incoming{}, ctx.Err()
		case <-m.done:
		}
	}
}

func (m *Mux) signalAcceptLocked() {
	select {
	case m.acceptable <- struct{}{}:
	default:
	}
}

// holdResult says what hold did with a datagram.
type holdResult int

const (
	holdRefused holdResult = iota // not a check for a ufrag: drop it
	holdHeld                      // kept for the ufrag
	holdDropped                   // a check for a pending ufrag whose held datagrams are full
	holdRouted                    // a connection for the ufrag appeared meanwhile: deliver to it
)

// hold handles a STUN message with a USERNAME for which l has no
// connection. A binding request with a valid FINGERPRINT makes its ufrag
// pending (reported by Accept) and is kept for the GetConn that claims the
// ufrag. When it returns holdRouted, r is the connection that appeared
// since the reader looked.
func (m *Mux) hold(l *listener, info stunInfo, p []byte, from netip.AddrPort) (holdResult, *route) {
	if info.msgType != stunBindingRequest || !info.fingerprint {
		return holdRefused, nil
	}
	local, remote, ok := splitUsername(info.username)
	if !ok {
		return holdRefused, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return holdRefused, nil
	}
	// GetConn adds routes under m.mu, so this second look is final.
	if r := l.ufrags[string(local)]; r != nil {
		return holdRouted, r
	}
	now := time.Now()
	m.expireLocked(now)
	if m.recent[string(local)] != nil {
		return holdRefused, nil
	}
	pu := m.pending[string(local)]
	if pu == nil {
		if len(m.pending) >= m.opts.MaxPendingUfrags {
			oldest := m.byAge.Front().Value.(*pendingUfrag) //nolint:forcetypeassert // the list holds nothing else
			m.dropPendingLocked(oldest)
			m.evicted++
		}
		pu = &pendingUfrag{in: Incoming{
			Ufrag:       string(local),
			RemoteUfrag: string(remote),
			Remote:      from,
			Local:       l.udpAddr(),
			Time:        now,
		}}
		pu.age = m.byAge.PushBack(pu)
		pu.unreported = m.unreported.PushBack(pu)
		m.pending[pu.in.Ufrag] = pu
		m.signalAcceptLocked()
	}
	if len(pu.held) >= maxHeld {
		return holdDropped, nil
	}
	pu.held = append(pu.held, heldPacket{l: l, packet: packet{buf: copyPacket(p), from: from}})
	return holdHeld, nil
}

// claimLocked hands what is held for ufrag to r, the connection GetConn just
// made, and forgets the pending ufrag. Datagrams that arrived on another
// listener are dropped; the remote repeats its checks. m.mu is held.
func (m *Mux) claimLocked(ufrag string, r *route) {
	pu := m.pending[ufrag]
	if pu == nil {
		return
	}
	for i, h := range pu.held {
		if h.l == r.l {
			r.q.pushBuf(h.packet)
		} else {
			freePacket(h.buf)
		}
		pu.held[i] = heldPacket{}
	}
	pu.held = nil
	m.dropPendingLocked(pu)
}

// dropPendingLocked forgets a pending ufrag and frees what it holds. m.mu
// is held.
func (m *Mux) dropPendingLocked(pu *pendingUfrag) {
	for _, h := range pu.held {
		freePacket(h.buf)
	}
	pu.held = nil
	m.byAge.Remove(pu.age)
	if pu.unreported != nil {
		m.unreported.Remove(pu.unreported)
		pu.unreported = nil
	}
	delete(m.pending, pu.in.Ufrag)
}

// expireLocked forgets the pending ufrags older than PendingTTL and the
// closed ones older than closedTTL. m.mu is held.
func (m *Mux) expireLocked(now time.Time) {
	for e := m.byAge.Front(); e != nil; e = m.byAge.Front() {
		pu := e.Value.(*pendingUfrag) //nolint:forcetypeassert // the list holds nothing else
		if now.Sub(pu.in.Time) < m.opts.PendingTTL {
			break
		}
		m.dropPendingLocked(pu)
		m.evicted++
	}
	for e := m.recentAge.Front(); e != nil; e = m.recentAge.Front() {
		c := e.Value.(closedUfrag) //nolint:forcetypeassert // the list holds nothing else
		if now.Sub(c.at) < m.closedTTL() {
			break
		}
		m.recentAge.Remove(e)
		delete(m.recent, c.ufrag)
	}
}

// closedUfrag is the ufrag of a removed connection, whose remote may still
// be checking: a remote learns that a session ended (DTLS close_notify, an
// SCTP ABORT) before its ICE agent stops, and one that did not learn keeps
// checking until its consent expires (RFC 7675 §5.1: 30 s). Such checks
// are not someone new, so they are dropped rather than made pending.
type closedUfrag struct {
	ufrag string
	at    time.Time
}

// maxClosedUfrags bounds the ufrags of removed connections remembered. Only
// GetConn creates them, so a stranger cannot fill the set; past the bound
// the oldest is forgotten, and a late check for it becomes pending.
const maxClosedUfrags = 4096

// closedTTL is how long the ufrag of a removed connection is remembered:
// three times PendingTTL, 30 s by default, as long as consent lasts.
func (m *Mux) closedTTL() time.Duration { return 3 * m.opts.PendingTTL }

// rememberClosedLocked notes that ufrag's connection was removed at now.
// m.mu is held.
func (m *Mux) rememberClosedLocked(ufrag string, now time.Time) {
	if e := m.recent[ufrag]; e != nil {
		m.recentAge.Remove(e)
	} else if len(m.recent) >= maxClosedUfrags {
		oldest := m.recentAge.Front()
		m.recentAge.Remove(oldest)
		delete(m.recent, oldest.Value.(closedUfrag).ufrag) //nolint:forcetypeassert // the list holds nothing else
	}
	m.recent[ufrag] = m.recentAge.PushBack(closedUfrag{ufrag: ufrag, at: now})
}

// forgetClosedLocked forgets that ufrag's connection was removed, because
// GetConn made it again. m.mu is held.
func (m *Mux) forgetClosedLocked(ufrag string) {
	if e := m.recent[ufrag]; e != nil {
		m.recentAge.Remove(e)
		delete(m.recent, ufrag)
	}
}
