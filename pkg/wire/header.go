package wire

import "encoding/binary"

// fieldPayloadLength names the header's length field in a *ParseError. ParseError.Code
// relies on it: every failure of that field is a frame-size error.
const fieldPayloadLength = "payload length"

// HeaderLen is the size of the fixed frame header in bytes.
const HeaderLen = 10

// Frame size limits. The agreed maximum frame size (header included) is the smaller of the two
// peers' HELLO MaxFrame values, clamped to [MinFrameSize, MaxFrameSize].
const (
	// MinFrameSize is the frame size every peer must accept, before and after HELLO: 16 KiB is the
	// DataChannel message size every WebRTC stack accepts.
	MinFrameSize = 16 << 10
	// MaxFrameSize caps what any HELLO may announce: 16 MiB.
	MaxFrameSize = 16 << 20
)

// Header is the fixed 10-byte frame header.
//
//	+--------+--------+-----------------------------------+-----------------------------------+
//	| type 8 | flags 8|          stream id 32             |        payload length 32          |
//	+--------+--------+-----------------------------------+-----------------------------------+
type Header struct {
	Type   Type
	Flags  uint8 // no flags are defined in version 1; senders write 0, receivers ignore them
	Stream uint32
	Length uint32 // payload bytes after the header
}

// AppendHeader appends h to b.
func AppendHeader(b []byte, h Header) []byte {
	b = append(b, byte(h.Type), h.Flags)
	b = binary.BigEndian.AppendUint32(b, h.Stream)
	return binary.BigEndian.AppendUint32(b, h.Length)
}

// ParseHeader decodes the header at the start of b. It fails with ErrTruncated if b is shorter
// than HeaderLen and with ErrTooLarge if the declared payload exceeds maxPayload; it does not
// require the payload to be present.
func ParseHeader(b []byte, maxPayload uint32) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, &ParseError{Field: "header", Err: ErrTruncated}
	}
	h := Header{
		Type:   Type(b[0]),
		Flags:  b[1],
		Stream: binary.BigEndian.Uint32(b[2:6]),
		Length: binary.BigEndian.Uint32(b[6:10]),
	}
	if h.Length > maxPayload {
		return h, &ParseError{Type: h.Type, Field: fieldPayloadLength, Err: ErrTooLarge}
	}
	return h, nil
}
