package relay

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
)

// The messages daemons and the relay exchange, one per binary WebSocket message. Every
// integer is big-endian; every string is a length followed by that many bytes. The layouts
// are drawn in docs/RELAY.md.
//
//	CHALLENGE  relay → daemon  type=1 | challenge[32]
//	REGISTER   daemon → relay  type=2 | idLen u8 | id | pubkey[32] | signature[64]
//	REGISTERED relay → daemon  type=3 | idLen u8 | id
//	REQUEST    relay → daemon  type=4 | req u32 | methodLen u8 | method | pathLen u16 | path
//	                           | queryLen u16 | query | clientLen u8 | client | body (the rest)
//	RESPONSE   daemon → relay  type=5 | req u32 | status u16 | nHeaders u8
//	                           | { nameLen u8 | name | valueLen u16 | value } × nHeaders | body (the rest)
//	CANCEL     relay → daemon  type=6 | req u32
//	ICESERVERS relay → daemon  type=7 | body: JSON {"iceServers": […], "expires": unix seconds}

// MsgType is a message's first byte.
type MsgType byte

// The message types.
const (
	MsgChallenge  MsgType = 1
	MsgRegister   MsgType = 2
	MsgRegistered MsgType = 3
	MsgRequest    MsgType = 4
	MsgResponse   MsgType = 5
	MsgCancel     MsgType = 6
	MsgICEServers MsgType = 7
)

func (t MsgType) String() string {
	switch t {
	case MsgChallenge:
		return "CHALLENGE"
	case MsgRegister:
		return "REGISTER"
	case MsgRegistered:
		return "REGISTERED"
	case MsgRequest:
		return "REQUEST"
	case MsgResponse:
		return "RESPONSE"
	case MsgCancel:
		return "CANCEL"
	case MsgICEServers:
		return "ICESERVERS"
	}
	return fmt.Sprintf("MsgType(%d)", byte(t))
}

// Limits of the message layer.
const (
	// MaxBody caps a forwarded request's or response's body: signaling bodies are capped at
	// 64 KiB by the daemon too (signaling.MaxBody).
	MaxBody = 64 << 10
	// MaxMessage caps one WebSocket message: a body and its request line or headers.
	MaxMessage = MaxBody + 8<<10
	// ChallengeSize is the size of the relay's random challenge.
	ChallengeSize = 32
	// maxPath and maxQuery cap a forwarded request's path and query.
	maxPath  = 1024
	maxQuery = 1024
	// maxHeaders caps a response's headers (only a few are forwarded).
	maxHeaders = 8
	// maxMethod caps a method's length.
	maxMethod = 16
)

// RegisterContext is the domain separator of the registration signature: the daemon signs
// RegisterContext || challenge || relay host.
const RegisterContext = "rangecast-relay-register-v1"

// ErrBadMessage is the error of every message that does not parse.
var ErrBadMessage = errors.New("relay: malformed message")

// Header is one forwarded response header.
type Header struct {
	Name, Value string
}

// Message is one relay message; which fields count depends on Type.
type Message struct {
	Type MsgType

	Challenge []byte            // CHALLENGE
	ID        string            // REGISTER, REGISTERED: the daemon id
	PublicKey ed25519.PublicKey // REGISTER
	Signature []byte            // REGISTER

	Req    uint32 // REQUEST, RESPONSE, CANCEL: the request id, chosen by the relay
	Method string // REQUEST
	Path   string // REQUEST: under /api/v1/, the /d/<id> prefix removed
	Query  string // REQUEST: the raw query, without "?"
	Client string // REQUEST: the client's IP, for the daemon's logs
	Status int    // RESPONSE
	Header []Header
	Body   []byte // REQUEST, RESPONSE, ICESERVERS (JSON: ICEConfig)
}

func badf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadMessage, fmt.Sprintf(format, args...))
}

// Marshal encodes m. It checks every length against the limits the decoder enforces, so
// what it returns always parses.
func (m *Message) Marshal() ([]byte, error) {
	b := []byte{byte(m.Type)}
	str8 := func(s, what string) error {
		if len(s) > 255 {
			return badf("%s longer than 255 bytes", what)
		}
		b = append(b, byte(len(s)))
		b = append(b, s...)
		return nil
	}
	str16 := func(s, what string, limit int) error {
		if len(s) > limit {
			return badf("%s longer than %d bytes", what, limit)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
		return nil
	}
	body := func() error {
		if len(m.Body) > MaxBody {
			return badf("body above %d bytes", MaxBody)
		}
		b = append(b, m.Body...)
		return nil
	}
	var err error
	switch m.Type {
	case MsgChallenge:
		if len(m.Challenge) != ChallengeSize {
			return nil, badf("challenge of %d bytes", len(m.Challenge))
		}
		b = append(b, m.Challenge...)
	case MsgRegister:
		if len(m.PublicKey) != ed25519.PublicKeySize || len(m.Signature) != ed25519.SignatureSize {
			return nil, badf("key or signature of the wrong size")
		}
		err = str8(m.ID, "id")
		b = append(b, m.PublicKey...)
		b = append(b, m.Signature...)
	case MsgRegistered:
		err = str8(m.ID, "id")
	case MsgRequest:
		b = binary.BigEndian.AppendUint32(b, m.Req)
		if len(m.Method) > maxMethod {
			return nil, badf("method longer than %d bytes", maxMethod)
		}
		err = errors.Join(str8(m.Method, "method"), str16(m.Path, "path", maxPath),
			str16(m.Query, "query", maxQuery), str8(m.Client, "client"), body())
	case MsgResponse:
		if m.Status < 100 || m.Status > 599 {
			return nil, badf("status %d", m.Status)
		}
		if len(m.Header) > maxHeaders {
			return nil, badf("more than %d headers", maxHeaders)
		}
		b = binary.BigEndian.AppendUint32(b, m.Req)
		b = binary.BigEndian.AppendUint16(b, uint16(m.Status))
		b = append(b, byte(len(m.Header)))
		for _, h := range m.Header {
			if err = errors.Join(str8(h.Name, "header name"), str16(h.Value, "header value", 1024)); err != nil {
				return nil, err
			}
		}
		err = body()
	case MsgCancel:
		b = binary.BigEndian.AppendUint32(b, m.Req)
	case MsgICEServers:
		if len(m.Body) == 0 {
			return nil, badf("empty ICESERVERS")
		}
		err = body()
	default:
		return nil, badf("unknown type %d", m.Type)
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

// reader decodes one message, checking each length before it slices.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = badf("%s: %d bytes declared, %d left", what, n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8(what string) int {
	v := r.take(1, what)
	if v == nil {
		return 0
	}
	return int(v[0])
}

func (r *reader) u16(what string) int {
	v := r.take(2, what)
	if v == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(v))
}

func (r *reader) u32(what string) uint32 {
	v := r.take(4, what)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (r *reader) str8(what string) string { return string(r.take(r.u8(what), what)) }

func (r *reader) str16(what string, limit int) string {
	n := r.u16(what)
	if r.err == nil && n > limit {
		r.err = badf("%s of %d bytes, above %d", what, n, limit)
		return ""
	}
	return string(r.take(n, what))
}

// rest returns what is left as a body, copied, nil when empty.
func (r *reader) rest() []byte {
	if r.err != nil || len(r.b) == 0 {
		return nil
	}
	if len(r.b) > MaxBody {
		r.err = badf("body of %d bytes, above %d", len(r.b), MaxBody)
		return nil
	}
	v := append([]byte(nil), r.b...)
	r.b = nil
	return v
}

// end fails if bytes are left.
func (r *reader) end() {
	if r.err == nil && len(r.b) != 0 {
		r.err = badf("%d trailing bytes", len(r.b))
	}
}

// ParseMessage decodes one message. It never panics: bad input gets an error wrapping
// ErrBadMessage.
func ParseMessage(b []byte) (Message, error) {
	if len(b) == 0 {
		return Message{}, badf("empty")
	}
	if len(b) > MaxMessage {
		return Message{}, badf("%d bytes, above %d", len(b), MaxMessage)
	}
	m := Message{Type: MsgType(b[0])}
	r := &reader{b: b[1:]}
	switch m.Type {
	case MsgChallenge:
		m.Challenge = append([]byte(nil), r.take(ChallengeSize, "challenge")...)
		r.end()
	case MsgRegister:
		m.ID = r.str8("id")
		m.PublicKey = append(ed25519.PublicKey(nil), r.take(ed25519.PublicKeySize, "public key")...)
		m.Signature = append([]byte(nil), r.take(ed25519.SignatureSize, "signature")...)
		r.end()
	case MsgRegistered:
		m.ID = r.str8("id")
		r.end()
	case MsgRequest:
		m.Req = r.u32("request id")
		m.Method = r.str8("method")
		if r.err == nil && (len(m.Method) == 0 || len(m.Method) > maxMethod) {
			r.err = badf("method of %d bytes", len(m.Method))
		}
		m.Path = r.str16("path", maxPath)
		m.Query = r.str16("query", maxQuery)
		m.Client = r.str8("client")
		m.Body = r.rest()
	case MsgResponse:
		m.Req = r.u32("request id")
		m.Status = r.u16("status")
		if r.err == nil && (m.Status < 100 || m.Status > 599) {
			r.err = badf("status %d", m.Status)
		}
		n := r.u8("header count")
		if r.err == nil && n > maxHeaders {
			r.err = badf("%d headers, above %d", n, maxHeaders)
		}
		for i := 0; i < n && r.err == nil; i++ {
			h := Header{Name: r.str8("header name")}
			h.Value = r.str16("header value", 1024)
			m.Header = append(m.Header, h)
		}
		m.Body = r.rest()
	case MsgCancel:
		m.Req = r.u32("request id")
		r.end()
	case MsgICEServers:
		m.Body = r.rest()
		if r.err == nil && len(m.Body) == 0 {
			r.err = badf("empty ICESERVERS")
		}
	default:
		return Message{}, badf("unknown type %d", b[0])
	}
	if r.err != nil {
		return Message{}, r.err
	}
	return m, nil
}
