//go:build !js

package udpmux

import "time"

// Stats is a snapshot of a Mux's counters and table sizes. The counters
// start at zero with the Mux and only grow; datagrams read equal the sum of
// the datagrams delivered, held and dropped, give or take those in flight.
type Stats struct {
	// PacketsIn counts the datagrams read from the sockets.
	PacketsIn uint64
	// Delivered counts the datagrams queued to a connection.
	Delivered uint64
	// Held counts the connectivity checks kept for a pending ufrag. They are
	// delivered if GetConn claims the ufrag, and freed otherwise.
	Held uint64
	// DroppedQueueFull counts the datagrams dropped because their
	// connection's queue was full.
	DroppedQueueFull uint64
	// DroppedUnknown counts the datagrams that matched no connection and
	// were not held: from an unmapped address and not STUN, STUN without a
	// USERNAME, a check for a pending ufrag that holds enough already, or
	// for a connection that closed meanwhile.
	DroppedUnknown uint64
	// DroppedMalformed counts the datagrams larger than 8 KiB, and those
	// that looked like STUN but were not well formed and matched no
	// connection by address.
	DroppedMalformed uint64
	// PendingEvicted counts the pending ufrags forgotten before GetConn
	// claimed them: past Options.MaxPendingUfrags or Options.PendingTTL.
	PendingEvicted uint64
	// AddrsEvicted counts the remote addresses unmapped from a connection
	// past Options.MaxAddrsPerUfrag.
	AddrsEvicted uint64

	// Conns is the number of live connections: distinct (ufrag, listen
	// address) pairs that GetConn created and that are not yet closed or
	// removed.
	Conns int
	// Addrs is the number of remote addresses mapped to connections.
	Addrs int
	// PendingUfrags is the number of ufrags pending, whether or not Accept
	// has returned them.
	PendingUfrags int
	// ClosedUfrags is the number of ufrags of removed connections whose
	// late checks are dropped rather than made pending (see Accept): at most
	// 4,096, each for three PendingTTLs.
	ClosedUfrags int
	// Queued is the number of datagrams waiting in connections' queues.
	Queued int
	// Readers is the number of sockets, each with a reader goroutine.
	Readers int
}

// Stats returns the current counters. It first forgets the pending and
// closed ufrags whose time has passed, so that their counts are current.
func (m *Mux) Stats() Stats {
	var s Stats
	for _, rd := range m.readers {
		s.PacketsIn += rd.st.in.Load()
		s.Delivered += rd.st.delivered.Load()
		s.Held += rd.st.held.Load()
		s.DroppedQueueFull += rd.st.full.Load()
		s.DroppedUnknown += rd.st.unknown.Load()
		s.DroppedMalformed += rd.st.malformed.Load()
	}
	s.Readers = len(m.readers)
	s.AddrsEvicted = m.addrsEvicted.Load()

	m.mu.Lock()
	if !m.closed {
		m.expireLocked(time.Now())
	}
	s.PendingEvicted = m.evicted
	s.PendingUfrags = len(m.pending)
	s.ClosedUfrags = len(m.recent)
	for _, l := range m.listeners {
		l.mu.RLock()
		s.Conns += len(l.ufrags)
		s.Addrs += len(l.addrs)
		for _, r := range l.ufrags {
			s.Queued += r.q.len()
		}
		l.mu.RUnlock()
	}
	m.mu.Unlock()
	return s
}
