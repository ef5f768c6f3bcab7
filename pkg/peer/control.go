package peer

import (
	"encoding/binary"
	"errors"
	"io"
)

// The control channel is pre-negotiated (negotiated: true, id 0) by both
// roles at construction, so it needs no DCEP round trip and both sides have
// it before anything else opens. Its messages are one type byte followed by a
// body; unknown types are ignored so that later versions can add some.
// docs/PROTOCOL.md ("Peer connection") specifies it for other implementations:
// a peer that does not create it never answers Ping.
//
//	ping: 0x01, sequence number (8 bytes, big-endian)
//	pong: 0x02, the sequence number of the ping it answers
const (
	controlLabel = "rangecast-control"
	controlID    = uint16(0)

	controlPing byte = 0x01
	controlPong byte = 0x02

	// controlMaxMessage bounds a control message; a larger one is a protocol
	// error that closes the Conn.
	controlMaxMessage = 1024
)

// appendPing appends a ping or pong message (typ is controlPing or
// controlPong) carrying seq to b.
func appendPing(b []byte, typ byte, seq uint64) []byte {
	b = append(b, typ)
	return binary.BigEndian.AppendUint64(b, seq)
}

// controlLoop answers pings and completes pongs until the control channel
// fails. It runs on a goroutine tracked by c.wg.
func (c *Conn) controlLoop(ctrl *Channel) {
	buf := make([]byte, controlMaxMessage)
	var out []byte
	for {
		n, err := ctrl.Read(buf)
		if err != nil {
			if errors.Is(err, io.ErrShortBuffer) {
				go c.CloseWithError(errControlProtocol) //nolint:errcheck // Close's result carries nothing here.
				return
			}
			// The control channel only ends when a Conn closes: if this one is
			// not closing, the peer closed, or its SCTP association is gone.
			if c.Err() == nil {
				go c.CloseWithError(ErrClosedByPeer) //nolint:errcheck // as above
			}
			return
		}
		msg := buf[:n]
		if len(msg) != 9 {
			continue
		}
		seq := binary.BigEndian.Uint64(msg[1:])
		switch msg[0] {
		case controlPing:
			out = appendPing(out[:0], controlPong, seq)
			// A failed pong means the channel is closing; the next Read
			// reports it.
			_, _ = ctrl.Write(out)
		case controlPong:
			c.mu.Lock()
			if ch, ok := c.pings[seq]; ok {
				close(ch)
				delete(c.pings, seq)
			}
			c.mu.Unlock()
		}
	}
}
