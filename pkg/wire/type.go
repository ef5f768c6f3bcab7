package wire

import "fmt"

// Type identifies a frame. Values below 0x10 are connection control frames, 0x10–0x1f are
// client requests, and 0x20–0x2f are server responses.
type Type uint8

// Frame types. docs/PROTOCOL.md gives the layout of each.
const (
	TypeHello   Type = 0x01 // both directions, first frame of a session
	TypePing    Type = 0x02 // both directions
	TypePong    Type = 0x03 // answer to PING
	TypeGoAway  Type = 0x04 // sender will accept no new streams
	TypeError   Type = 0x05 // fatal connection error; the sender closes
	TypeCredit  Type = 0x06 // flow-control credit for a stream or the session
	TypeCancel  Type = 0x07 // client abandons a stream
	TypeStat    Type = 0x10 // request: metadata of a path
	TypeOpen    Type = 0x11 // request: open a file, get a handle
	TypeClose   Type = 0x12 // release a handle
	TypeList    Type = 0x13 // request: one page of a directory
	TypeRead    Type = 0x14 // request: a byte range
	TypeInfo    Type = 0x20 // response to STAT and OPEN
	TypeEntries Type = 0x21 // response to LIST
	TypeData    Type = 0x22 // response to READ: bytes at an absolute offset
	TypeEnd     Type = 0x23 // last frame of every request stream, with a status
)

var typeNames = map[Type]string{
	TypeHello: "HELLO", TypePing: "PING", TypePong: "PONG", TypeGoAway: "GOAWAY",
	TypeError: "ERROR", TypeCredit: "CREDIT", TypeCancel: "CANCEL", TypeStat: "STAT",
	TypeOpen: "OPEN", TypeClose: "CLOSE", TypeList: "LIST", TypeRead: "READ",
	TypeInfo: "INFO", TypeEntries: "ENTRIES", TypeData: "DATA", TypeEnd: "END",
}

// String returns the frame type's name as docs/PROTOCOL.md spells it.
func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("Type(0x%02x)", uint8(t))
}

// Known reports whether this version of the protocol defines t.
func (t Type) Known() bool {
	_, ok := typeNames[t]
	return ok
}

// IsRequest reports whether t opens a request stream (STAT, OPEN, LIST, READ).
func (t Type) IsRequest() bool {
	return t == TypeStat || t == TypeOpen || t == TypeList || t == TypeRead
}
