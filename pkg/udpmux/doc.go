//go:build !js

// Package udpmux carries every ICE connection of a process on one UDP port.
//
// A [Mux] implements pion's ice.UDPMux: give the same Mux to every
// PeerConnection (webrtc.SettingEngine.SetICEUDPMux, or
// peer.NativeOptions.UDPMux) and all their ICE, DTLS and SCTP traffic uses
// its socket. The Mux routes each datagram it reads to a connection: a
// connectivity check by the local ufrag in its USERNAME attribute (the part
// before the colon), anything else by its source address, which a
// connection claims when it first sends there. Every listen address has its own tables, so
// IPv4 and IPv6 are never mixed.
//
// Where pion's own UDPMuxDefault is weak, it differs:
//
//   - Reading scales over cores: on Linux each address has several sockets
//     bound with SO_REUSEPORT, each drained by its own goroutine, and each
//     reads up to a batch of datagrams per system call (recvmmsg).
//   - Each connection's queue is bounded and drops when full, as a socket
//     buffer would; pion's grows without limit while a reader is slow.
//   - A connectivity check for a ufrag no connection has is not just
//     dropped: the ufrag is reported once by [Mux.Accept], and its checks
//     are held for the connection that claims it, which is what lets a
//     daemon accept a connection without signaling.
//   - All state a stranger can create is bounded: pending ufrags
//     ([Options].MaxPendingUfrags, [Options].PendingTTL), datagrams held per
//     pending ufrag, remote addresses per connection
//     ([Options].MaxAddrsPerUfrag). A flood of made-up ufrags costs a fixed
//     amount of memory.
//
// Closing a connection, or pion's RemoveConnByUfrag when its agent closes,
// removes everything the Mux kept for it; [Mux.Stats] shows what is left.
// [Mux.Close] closes the sockets and so ends every goroutine the Mux started.
//
// The package is native only: it does not build under GOOS=js.
package udpmux
