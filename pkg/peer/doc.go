// Package peer wraps one WebRTC PeerConnection as a [Conn] with an [Offerer] and a
// [Answerer] role, and its DataChannels as message-oriented [Channel]s. The same
// exported API builds natively (pion/webrtc) and under GOOS=js, where it drives
// the browser's RTCPeerConnection through syscall/js and links no pion package.
//
// A Conn is signaling-agnostic: local session descriptions and trickled ICE
// candidates come out of [Config].OnSignal as [Signal] values, which marshal to
// JSON; the remote side's signals go in through [Conn.AddSignal]. The Offerer
// creates the offer as soon as it is constructed and the Answerer answers it.
// Nothing waits for ICE gathering to complete.
//
// Both roles create a pre-negotiated control channel at construction, which
// carries [Conn.Ping]. Application channels are opened with
// [Conn.CreateChannel] and received with [Conn.Accept]. A [Channel] is an
// io.ReadWriteCloser that keeps message boundaries: each Write sends one
// message, each Read returns one whole message, and Write blocks while too
// much data is buffered for sending.
//
// Errors: every operation on a closed Conn or Channel returns an error that
// wraps [ErrClosed] (and so io.EOF) and the cause given to
// [Conn.CloseWithError], if any. A connection whose ICE or DTLS transport
// fails closes itself with [ErrFailed]; one closed by the remote peer closes
// with [ErrClosedByPeer]. [ErrDisconnected] reports the transient ICE
// disconnected state.
//
// Natively, tuning that only pion exposes (loopback candidates, a shared UDP
// socket, SCTP buffers, ICE timeouts) lives in [NativeOptions]; in the browser,
// the receive queue bound lives in [BrowserOptions].
package peer
