package wire

import (
	"encoding/binary"
	"unicode/utf8"
)

// Field limits enforced by the decoders.
const (
	// MaxPath is the longest path, in bytes, a request may carry.
	MaxPath = 4096
	// MaxName is the longest directory entry name, in bytes (Linux NAME_MAX).
	MaxName = 255
	// MaxMessage is the longest human-readable message in END, ERROR and GOAWAY; encoders
	// truncate longer ones.
	MaxMessage = 1024
	// MaxETag is the longest ETag, in bytes (a one-byte length).
	MaxETag = 255
)

// Frame is one decoded frame payload. The stream id and flags travel in the Header.
type Frame interface {
	// Type returns the frame type written in the header.
	Type() Type
	// AppendPayload appends the frame's payload (without the header) to b.
	AppendPayload(b []byte) []byte
	// PayloadLen returns the number of bytes AppendPayload appends.
	PayloadLen() int
}

// AppendFrame appends the header and payload of f, sent on stream, to b.
func AppendFrame(b []byte, stream uint32, f Frame) []byte {
	b = AppendHeader(b, Header{Type: f.Type(), Stream: stream, Length: uint32(f.PayloadLen())})
	return f.AppendPayload(b)
}

// ParseFrame decodes one frame at the start of b and returns its header, the frame, and the
// number of bytes consumed. maxPayload caps the declared payload length (the agreed maximum
// frame size minus HeaderLen); it is checked before anything else is read.
//
// A frame of a type this version does not define decodes as *Unknown, so that the caller can
// skip it. DATA's Bytes alias b; every other field is copied.
func ParseFrame(b []byte, maxPayload uint32) (Header, Frame, int, error) {
	h, err := ParseHeader(b, maxPayload)
	if err != nil {
		return h, nil, 0, err
	}
	if uint64(h.Length) > uint64(len(b)-HeaderLen) {
		return h, nil, 0, &ParseError{Type: h.Type, Field: "payload", Err: ErrTruncated}
	}
	n := HeaderLen + int(h.Length)
	f, err := ParsePayload(h.Type, b[HeaderLen:n])
	if err != nil {
		return h, nil, 0, err
	}
	return h, f, n, nil
}

// ParseMessage decodes msg, one message of a message transport such as a DataChannel, which
// must hold exactly one frame (docs/PROTOCOL.md, "Header"). maxPayload is as for ParseFrame.
//
// A message shorter or longer than the frame its header declares fails with a *ParseError for
// the "payload length" field wrapping ErrTruncated or ErrTrailing, and a declared length above
// maxPayload with one wrapping ErrTooLarge; ParseError.Code reports all three as
// CodeFrameSize. The payload is decoded only once its length is known to be right. On a
// payload that does not decode, the header is returned with the error, so that the caller can
// answer on the frame's stream.
func ParseMessage(msg []byte, maxPayload uint32) (Header, Frame, error) {
	h, err := ParseHeader(msg, maxPayload)
	if err != nil {
		return h, nil, err
	}
	switch p := uint64(len(msg) - HeaderLen); {
	case uint64(h.Length) > p:
		return h, nil, &ParseError{Type: h.Type, Field: fieldPayloadLength, Err: ErrTruncated}
	case uint64(h.Length) < p:
		return h, nil, &ParseError{Type: h.Type, Field: fieldPayloadLength, Err: ErrTrailing}
	}
	f, err := ParsePayload(h.Type, msg[HeaderLen:])
	return h, f, err
}

// ParsePayload decodes the payload of a frame of type t. p must be exactly the payload.
func ParsePayload(t Type, p []byte) (Frame, error) {
	d := &decoder{t: t, b: p}
	var f Frame
	switch t {
	case TypeHello:
		f = parseHello(d)
	case TypePing:
		f = &Ping{Data: d.u64("data")}
	case TypePong:
		f = &Pong{Data: d.u64("data")}
	case TypeGoAway:
		f = &GoAway{LastStream: d.u32("last stream"), Code: ErrorCode(d.u16("code")), Message: d.str16("message", MaxMessage)}
	case TypeError:
		f = &ErrorFrame{Code: ErrorCode(d.u16("code")), FrameType: Type(d.u8("frame type")), Message: d.str16("message", MaxMessage)}
	case TypeCredit:
		f = &Credit{Increment: d.u32("increment")}
	case TypeCancel:
		f = &Cancel{}
	case TypeStat:
		f = &Stat{Path: d.str16("path", MaxPath)}
	case TypeOpen:
		f = &Open{Path: d.str16("path", MaxPath)}
	case TypeClose:
		f = &Close{Handle: d.u32("handle")}
	case TypeList:
		f = &List{Path: d.str16("path", MaxPath), After: d.str16("after", MaxName), Limit: d.u16("limit")}
	case TypeRead:
		f = parseRead(d)
	case TypeInfo:
		f = parseInfo(d)
	case TypeEntries:
		f = parseEntries(d)
	case TypeData:
		f = parseData(d)
	case TypeEnd:
		f = &End{Status: Status(d.u16("status")), Message: d.str16("message", MaxMessage)}
	default:
		return &Unknown{T: t, Payload: append([]byte(nil), p...)}, nil
	}
	if err := d.done(); err != nil {
		return nil, err
	}
	return f, nil
}

// Hello opens a session in each direction and states what the sender accepts. Both peers send
// HELLO first, on stream 0, and send nothing else until they have sent it.
type Hello struct {
	Version       uint16 // highest protocol version the sender speaks (1)
	MaxFrame      uint32 // largest frame, header included, the sender accepts
	StreamWindow  uint32 // initial DATA credit the sender grants per stream
	SessionWindow uint32 // initial DATA credit the sender grants for the whole session
	MaxStreams    uint32 // concurrent request streams the sender accepts (0: none, it is a client)
	Capabilities  uint64 // optional features; the session uses the intersection of both sets
}

const helloLen = 2 + 4 + 4 + 4 + 4 + 8

func parseHello(d *decoder) *Hello {
	return &Hello{
		Version: d.u16("version"), MaxFrame: d.u32("max frame"), StreamWindow: d.u32("stream window"),
		SessionWindow: d.u32("session window"), MaxStreams: d.u32("max streams"), Capabilities: d.u64("capabilities"),
	}
}

// Type returns TypeHello.
func (*Hello) Type() Type { return TypeHello }

// PayloadLen returns the fixed payload size.
func (*Hello) PayloadLen() int { return helloLen }

// AppendPayload appends the payload to b.
func (f *Hello) AppendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, f.Version)
	b = binary.BigEndian.AppendUint32(b, f.MaxFrame)
	b = binary.BigEndian.AppendUint32(b, f.StreamWindow)
	b = binary.BigEndian.AppendUint32(b, f.SessionWindow)
	b = binary.BigEndian.AppendUint32(b, f.MaxStreams)
	return binary.BigEndian.AppendUint64(b, f.Capabilities)
}

// Ping asks the peer to echo Data in a PONG. Sent on stream 0.
type Ping struct{ Data uint64 }

// Type returns TypePing.
func (*Ping) Type() Type { return TypePing }

// PayloadLen returns 8.
func (*Ping) PayloadLen() int { return 8 }

// AppendPayload appends the payload to b.
func (f *Ping) AppendPayload(b []byte) []byte { return binary.BigEndian.AppendUint64(b, f.Data) }

// Pong answers a PING with its Data.
type Pong struct{ Data uint64 }

// Type returns TypePong.
func (*Pong) Type() Type { return TypePong }

// PayloadLen returns 8.
func (*Pong) PayloadLen() int { return 8 }

// AppendPayload appends the payload to b.
func (f *Pong) AppendPayload(b []byte) []byte { return binary.BigEndian.AppendUint64(b, f.Data) }

// GoAway tells the peer the sender will start no new streams above LastStream; streams at or
// below it run to completion. The sender closes once they are done or a grace period ends.
type GoAway struct {
	LastStream uint32
	Code       ErrorCode
	Message    string
}

// Type returns TypeGoAway.
func (*GoAway) Type() Type { return TypeGoAway }

// PayloadLen returns the payload size.
func (f *GoAway) PayloadLen() int { return 4 + 2 + 2 + msgLen(f.Message) }

// AppendPayload appends the payload to b.
func (f *GoAway) AppendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, f.LastStream)
	b = binary.BigEndian.AppendUint16(b, uint16(f.Code))
	return appendStr16(b, truncMsg(f.Message))
}

// ErrorFrame is a fatal connection error: the sender closes the transport after sending it.
// FrameType names the frame that caused it (0 if none).
type ErrorFrame struct {
	Code      ErrorCode
	FrameType Type
	Message   string
}

// Type returns TypeError.
func (*ErrorFrame) Type() Type { return TypeError }

// PayloadLen returns the payload size.
func (f *ErrorFrame) PayloadLen() int { return 2 + 1 + 2 + msgLen(f.Message) }

// AppendPayload appends the payload to b.
func (f *ErrorFrame) AppendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(f.Code))
	b = append(b, byte(f.FrameType))
	return appendStr16(b, truncMsg(f.Message))
}

// Credit grants the DATA sender Increment more payload bytes on the header's stream, or on the
// whole session when the stream id is 0.
type Credit struct{ Increment uint32 }

// Type returns TypeCredit.
func (*Credit) Type() Type { return TypeCredit }

// PayloadLen returns 4.
func (*Credit) PayloadLen() int { return 4 }

// AppendPayload appends the payload to b.
func (f *Credit) AppendPayload(b []byte) []byte { return binary.BigEndian.AppendUint32(b, f.Increment) }

// Cancel abandons the request on the header's stream. The server stops work and answers END
// with StatusCanceled unless the stream has already ended. It has no payload.
type Cancel struct{}

// Type returns TypeCancel.
func (*Cancel) Type() Type { return TypeCancel }

// PayloadLen returns 0.
func (*Cancel) PayloadLen() int { return 0 }

// AppendPayload appends nothing.
func (*Cancel) AppendPayload(b []byte) []byte { return b }

// Stat asks for the metadata of Path; the answer is INFO (Handle 0) then END.
type Stat struct{ Path string }

// Type returns TypeStat.
func (*Stat) Type() Type { return TypeStat }

// PayloadLen returns the payload size.
func (f *Stat) PayloadLen() int { return str16Len(f.Path) }

// AppendPayload appends the payload to b. Paths longer than MaxPath must be refused by the
// caller; the decoder rejects them.
func (f *Stat) AppendPayload(b []byte) []byte { return appendStr16(b, f.Path) }

// Open opens the regular file at Path and returns a handle in INFO, then END. The handle
// pins the file (and its ETag) until CLOSE or the end of the session.
type Open struct{ Path string }

// Type returns TypeOpen.
func (*Open) Type() Type { return TypeOpen }

// PayloadLen returns the payload size.
func (f *Open) PayloadLen() int { return str16Len(f.Path) }

// AppendPayload appends the payload to b.
func (f *Open) AppendPayload(b []byte) []byte { return appendStr16(b, f.Path) }

// Close releases Handle. Sent on stream 0; there is no answer.
type Close struct{ Handle uint32 }

// Type returns TypeClose.
func (*Close) Type() Type { return TypeClose }

// PayloadLen returns 4.
func (*Close) PayloadLen() int { return 4 }

// AppendPayload appends the payload to b.
func (f *Close) AppendPayload(b []byte) []byte { return binary.BigEndian.AppendUint32(b, f.Handle) }

// List asks for one page of the directory at Path: entries whose names sort after After
// (byte order), at most Limit of them (0: the server's default). The answer is ENTRIES then END.
type List struct {
	Path  string
	After string
	Limit uint16
}

// Type returns TypeList.
func (*List) Type() Type { return TypeList }

// PayloadLen returns the payload size.
func (f *List) PayloadLen() int { return str16Len(f.Path) + str16Len(f.After) + 2 }

// AppendPayload appends the payload to b.
func (f *List) AppendPayload(b []byte) []byte {
	b = appendStr16(b, f.Path)
	b = appendStr16(b, f.After)
	return binary.BigEndian.AppendUint16(b, f.Limit)
}

// Read asks for Length bytes at Offset of an open Handle, or of Path when Handle is 0. If
// IfMatch is not empty the server answers END with StatusPreconditionFailed unless the file's
// current ETag equals it, checked before the first and after every read from disk. The answer
// is DATA frames in offset order, then END. A range running past the end of the file is cut
// at the end; an Offset beyond it is StatusRangeInvalid.
type Read struct {
	Handle  uint32
	Offset  uint64
	Length  uint64
	IfMatch string
	Path    string
}

func parseRead(d *decoder) *Read {
	f := &Read{Handle: d.u32("handle"), Offset: d.u64("offset"), Length: d.u64("length")}
	f.IfMatch = d.str8("if-match")
	f.Path = d.str16("path", MaxPath)
	if d.err == nil && f.Offset+f.Length < f.Offset {
		d.fail("length", ErrOverflow)
	}
	return f
}

// Type returns TypeRead.
func (*Read) Type() Type { return TypeRead }

// PayloadLen returns the payload size.
func (f *Read) PayloadLen() int { return 4 + 8 + 8 + str8Len(f.IfMatch) + str16Len(f.Path) }

// AppendPayload appends the payload to b.
func (f *Read) AppendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, f.Handle)
	b = binary.BigEndian.AppendUint64(b, f.Offset)
	b = binary.BigEndian.AppendUint64(b, f.Length)
	b = appendStr8(b, f.IfMatch)
	return appendStr16(b, f.Path)
}

// Info describes a file or directory, answering STAT (Handle 0) and OPEN (Handle != 0).
type Info struct {
	Handle  uint32
	Size    uint64
	ModTime int64  // Unix nanoseconds
	Mode    uint32 // io/fs.FileMode bits
	ETag    string // opaque; changes whenever the content may have changed
	MIME    string // media type guessed from the name, "" for directories
	Name    string // base name
}

func parseInfo(d *decoder) *Info {
	return &Info{
		Handle: d.u32("handle"), Size: d.u64("size"), ModTime: int64(d.u64("mtime")), Mode: d.u32("mode"),
		ETag: d.str8("etag"), MIME: d.str8("mime"), Name: d.str16("name", MaxName),
	}
}

// Type returns TypeInfo.
func (*Info) Type() Type { return TypeInfo }

// PayloadLen returns the payload size.
func (f *Info) PayloadLen() int {
	return 4 + 8 + 8 + 4 + str8Len(f.ETag) + str8Len(f.MIME) + str16Len(f.Name)
}

// AppendPayload appends the payload to b.
func (f *Info) AppendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, f.Handle)
	b = binary.BigEndian.AppendUint64(b, f.Size)
	b = binary.BigEndian.AppendUint64(b, uint64(f.ModTime))
	b = binary.BigEndian.AppendUint32(b, f.Mode)
	b = appendStr8(b, f.ETag)
	b = appendStr8(b, f.MIME)
	return appendStr16(b, f.Name)
}

// Entry is one directory entry in ENTRIES.
type Entry struct {
	Name    string
	Size    uint64
	ModTime int64  // Unix nanoseconds
	Mode    uint32 // io/fs.FileMode bits
}

const entryMinLen = 2 + 8 + 8 + 4

// EntryLen returns the encoded size of e.
func EntryLen(e *Entry) int { return entryMinLen - 2 + str16Len(e.Name) }

// Entries is one page of a directory listing, in name order. More says whether entries after
// the last one remain; the client asks for them with List.After set to the last name.
type Entries struct {
	More    bool
	Entries []Entry
}

// EntriesOverhead is the size of an ENTRIES payload holding no entries.
const EntriesOverhead = 1 + 2

func parseEntries(d *decoder) *Entries {
	f := &Entries{}
	switch d.u8("more") {
	case 0:
	case 1:
		f.More = true
	default:
		d.fail("more", ErrInvalid)
	}
	n := d.u16("count")
	// Cap the allocation by what the remaining bytes can hold.
	if d.err == nil && uint64(n)*entryMinLen > uint64(len(d.b)) {
		d.fail("count", ErrTruncated)
	}
	if d.err != nil {
		return f
	}
	f.Entries = make([]Entry, 0, n)
	for range n {
		e := Entry{Name: d.str16("name", MaxName), Size: d.u64("size"), ModTime: int64(d.u64("mtime")), Mode: d.u32("mode")}
		if d.err != nil {
			return f
		}
		f.Entries = append(f.Entries, e)
	}
	return f
}

// Type returns TypeEntries.
func (*Entries) Type() Type { return TypeEntries }

// PayloadLen returns the payload size.
func (f *Entries) PayloadLen() int {
	n := EntriesOverhead
	for i := range min(len(f.Entries), 0xffff) { // as many as AppendPayload writes
		n += EntryLen(&f.Entries[i])
	}
	return n
}

// AppendPayload appends the payload to b. At most 65535 entries are written.
func (f *Entries) AppendPayload(b []byte) []byte {
	more := byte(0)
	if f.More {
		more = 1
	}
	es := f.Entries
	if len(es) > 0xffff {
		es = es[:0xffff]
	}
	b = append(b, more)
	b = binary.BigEndian.AppendUint16(b, uint16(len(es)))
	for i := range es {
		e := &es[i]
		b = appendStr16(b, e.Name)
		b = binary.BigEndian.AppendUint64(b, e.Size)
		b = binary.BigEndian.AppendUint64(b, uint64(e.ModTime))
		b = binary.BigEndian.AppendUint32(b, e.Mode)
	}
	return b
}

// Data carries the bytes of a READ at their absolute file Offset. Its payload length minus 8
// counts against the stream's and the session's credit.
type Data struct {
	Offset uint64
	Bytes  []byte
}

// DataOverhead is the size of a DATA payload's fixed part.
const DataOverhead = 8

func parseData(d *decoder) *Data {
	f := &Data{Offset: d.u64("offset")}
	if d.err != nil {
		return f
	}
	f.Bytes, d.b = d.b, nil
	if f.Offset+uint64(len(f.Bytes)) < f.Offset {
		d.fail("bytes", ErrOverflow)
	}
	return f
}

// Type returns TypeData.
func (*Data) Type() Type { return TypeData }

// PayloadLen returns the payload size.
func (f *Data) PayloadLen() int { return DataOverhead + len(f.Bytes) }

// AppendPayload appends the payload to b.
func (f *Data) AppendPayload(b []byte) []byte {
	return append(binary.BigEndian.AppendUint64(b, f.Offset), f.Bytes...)
}

// End is the last frame of every request stream. Status says how the request ended; Message
// explains a failure to a person.
type End struct {
	Status  Status
	Message string
}

// Type returns TypeEnd.
func (*End) Type() Type { return TypeEnd }

// PayloadLen returns the payload size.
func (f *End) PayloadLen() int { return 2 + 2 + msgLen(f.Message) }

// AppendPayload appends the payload to b.
func (f *End) AppendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(f.Status))
	return appendStr16(b, truncMsg(f.Message))
}

// Unknown is a frame of a type this version does not define. Receivers skip it (see
// docs/PROTOCOL.md, "Unknown frames").
type Unknown struct {
	T       Type
	Payload []byte
}

// Type returns the unknown type.
func (f *Unknown) Type() Type { return f.T }

// PayloadLen returns len(Payload).
func (f *Unknown) PayloadLen() int { return len(f.Payload) }

// AppendPayload appends Payload to b.
func (f *Unknown) AppendPayload(b []byte) []byte { return append(b, f.Payload...) }

// truncMsg cuts a message to MaxMessage bytes, at a UTF-8 character boundary.
func truncMsg(s string) string {
	if len(s) <= MaxMessage {
		return s
	}
	cut := MaxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func msgLen(s string) int { return len(truncMsg(s)) }
