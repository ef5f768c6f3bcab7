package wire_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/wire"
)

// testMaxPayload is the payload limit the tests parse with: the largest frame any HELLO may
// announce, minus the header.
const testMaxPayload = wire.MaxFrameSize - wire.HeaderLen

// golden is one frame and its exact encoding, written as field groups in wire order.
type golden struct {
	name   string
	stream uint32
	frame  wire.Frame
	bytes  string
	// open is true for frames whose last field takes the rest of the payload (DATA, unknown
	// types): they accept any trailing bytes, and some payload prefixes are valid frames.
	open bool
}

// goldenFrames returns one or more encodings of every frame type, plus an unknown type. Every
// entry is written by hand from docs/PROTOCOL.md, not produced by the encoder under test.
//
// Frames whose decoded form holds an empty slice use []byte{} / []wire.Entry{}: the decoders
// return empty, non-nil slices there, and assert.Equal tells nil from empty.
func goldenFrames() []golden {
	return []golden{
		{
			name: "HELLO", stream: 0,
			frame: &wire.Hello{
				Version: 1, MaxFrame: 256 << 10, StreamWindow: 1 << 20, SessionWindow: 4 << 20,
				MaxStreams: 64, Capabilities: 3,
			},
			bytes: "\x01" + "\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x1a" +
				"\x00\x01" + // version
				"\x00\x04\x00\x00" + // max frame
				"\x00\x10\x00\x00" + // stream window
				"\x00\x40\x00\x00" + // session window
				"\x00\x00\x00\x40" + // max streams
				"\x00\x00\x00\x00\x00\x00\x00\x03", // capabilities
		},
		{
			name: "PING", stream: 0,
			frame: &wire.Ping{Data: 0x0102030405060708},
			bytes: "\x02" + "\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x08" +
				"\x01\x02\x03\x04\x05\x06\x07\x08",
		},
		{
			name: "PONG", stream: 0,
			frame: &wire.Pong{Data: 0xfffefdfcfbfaf9f8},
			bytes: "\x03" + "\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x08" +
				"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8",
		},
		{
			name: "GOAWAY", stream: 0,
			frame: &wire.GoAway{LastStream: 7, Code: wire.CodeShutdown, Message: "bye"},
			bytes: "\x04" + "\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x0b" +
				"\x00\x00\x00\x07" + // last stream
				"\x00\x07" + // code
				"\x00\x03" + "bye", // message
		},
		{
			name: "ERROR", stream: 0,
			frame: &wire.ErrorFrame{Code: wire.CodeProtocol, FrameType: wire.TypeRead, Message: "bad read"},
			bytes: "\x05" + "\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x0d" +
				"\x00\x01" + // code
				"\x14" + // frame type
				"\x00\x08" + "bad read", // message
		},
		{
			name: "ERROR empty message", stream: 0,
			frame: &wire.ErrorFrame{Code: wire.CodeNoError},
			bytes: "\x05" + "\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x05" +
				"\x00\x00" + // code
				"\x00" + // frame type
				"\x00\x00", // message
		},
		{
			name: "CREDIT", stream: 5,
			frame: &wire.Credit{Increment: 64 << 10},
			bytes: "\x06" + "\x00" + "\x00\x00\x00\x05" + "\x00\x00\x00\x04" +
				"\x00\x01\x00\x00",
		},
		{
			name: "CANCEL", stream: 9,
			frame: &wire.Cancel{},
			bytes: "\x07" + "\x00" + "\x00\x00\x00\x09" + "\x00\x00\x00\x00",
		},
		{
			name: "STAT", stream: 1,
			frame: &wire.Stat{Path: "a/b.txt"},
			bytes: "\x10" + "\x00" + "\x00\x00\x00\x01" + "\x00\x00\x00\x09" +
				"\x00\x07" + "a/b.txt",
		},
		{
			name: "OPEN", stream: 3,
			frame: &wire.Open{Path: "video.mp4"},
			bytes: "\x11" + "\x00" + "\x00\x00\x00\x03" + "\x00\x00\x00\x0b" +
				"\x00\x09" + "video.mp4",
		},
		{
			name: "CLOSE", stream: 0,
			frame: &wire.Close{Handle: 42},
			bytes: "\x12" + "\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x04" +
				"\x00\x00\x00\x2a",
		},
		{
			name: "LIST", stream: 11,
			frame: &wire.List{Path: "docs", After: "a.md", Limit: 100},
			bytes: "\x13" + "\x00" + "\x00\x00\x00\x0b" + "\x00\x00\x00\x0e" +
				"\x00\x04" + "docs" + // path
				"\x00\x04" + "a.md" + // after
				"\x00\x64", // limit
		},
		{
			name: "LIST root", stream: 13,
			frame: &wire.List{},
			bytes: "\x13" + "\x00" + "\x00\x00\x00\x0d" + "\x00\x00\x00\x06" +
				"\x00\x00" + // path
				"\x00\x00" + // after
				"\x00\x00", // limit
		},
		{
			name: "READ", stream: 7,
			frame: &wire.Read{Handle: 0, Offset: 0x1000, Length: 0x10000, IfMatch: "v1", Path: "a.bin"},
			bytes: "\x14" + "\x00" + "\x00\x00\x00\x07" + "\x00\x00\x00\x1e" +
				"\x00\x00\x00\x00" + // handle
				"\x00\x00\x00\x00\x00\x00\x10\x00" + // offset
				"\x00\x00\x00\x00\x00\x01\x00\x00" + // length
				"\x02" + "v1" + // if-match
				"\x00\x05" + "a.bin", // path
		},
		{
			name: "READ handle", stream: 0xfffffffe,
			frame: &wire.Read{Handle: 2, Offset: math.MaxUint64, Length: 0},
			bytes: "\x14" + "\x00" + "\xff\xff\xff\xfe" + "\x00\x00\x00\x17" +
				"\x00\x00\x00\x02" + // handle
				"\xff\xff\xff\xff\xff\xff\xff\xff" + // offset
				"\x00\x00\x00\x00\x00\x00\x00\x00" + // length
				"\x00" + // if-match
				"\x00\x00", // path
		},
		{
			name: "INFO", stream: 3,
			frame: &wire.Info{
				Handle: 1, Size: 1234, ModTime: 1700000000000000000, Mode: 0o644,
				ETag: "v1", MIME: "video/mp4", Name: "video.mp4",
			},
			bytes: "\x20" + "\x00" + "\x00\x00\x00\x03" + "\x00\x00\x00\x30" +
				"\x00\x00\x00\x01" + // handle
				"\x00\x00\x00\x00\x00\x00\x04\xd2" + // size
				"\x17\x97\x9c\xfe\x36\x2a\x00\x00" + // mtime
				"\x00\x00\x01\xa4" + // mode
				"\x02" + "v1" + // etag
				"\x09" + "video/mp4" + // mime
				"\x00\x09" + "video.mp4", // name
		},
		{
			name: "ENTRIES", stream: 11,
			frame: &wire.Entries{More: true, Entries: []wire.Entry{
				{Name: "a", Size: 1, ModTime: 2, Mode: 0o644},
				{Name: "sub", Size: 0, ModTime: -1, Mode: 1<<31 | 0o755},
			}},
			bytes: "\x21" + "\x00" + "\x00\x00\x00\x0b" + "\x00\x00\x00\x33" +
				"\x01" + // more
				"\x00\x02" + // count
				"\x00\x01" + "a" + // name
				"\x00\x00\x00\x00\x00\x00\x00\x01" + // size
				"\x00\x00\x00\x00\x00\x00\x00\x02" + // mtime
				"\x00\x00\x01\xa4" + // mode
				"\x00\x03" + "sub" + // name
				"\x00\x00\x00\x00\x00\x00\x00\x00" + // size
				"\xff\xff\xff\xff\xff\xff\xff\xff" + // mtime
				"\x80\x00\x01\xed", // mode
		},
		{
			name: "ENTRIES empty", stream: 11,
			frame: &wire.Entries{Entries: []wire.Entry{}},
			bytes: "\x21" + "\x00" + "\x00\x00\x00\x0b" + "\x00\x00\x00\x03" +
				"\x00" + // more
				"\x00\x00", // count
		},
		{
			name: "DATA", stream: 7, open: true,
			frame: &wire.Data{Offset: 0x1000, Bytes: []byte("hello")},
			bytes: "\x22" + "\x00" + "\x00\x00\x00\x07" + "\x00\x00\x00\x0d" +
				"\x00\x00\x00\x00\x00\x00\x10\x00" + // offset
				"hello", // bytes
		},
		{
			name: "DATA empty", stream: 7, open: true,
			frame: &wire.Data{Offset: 1 << 40, Bytes: []byte{}},
			bytes: "\x22" + "\x00" + "\x00\x00\x00\x07" + "\x00\x00\x00\x08" +
				"\x00\x00\x01\x00\x00\x00\x00\x00", // offset
		},
		{
			name: "END", stream: 7,
			frame: &wire.End{Status: wire.StatusPreconditionFailed, Message: "etag"},
			bytes: "\x23" + "\x00" + "\x00\x00\x00\x07" + "\x00\x00\x00\x08" +
				"\x00\x06" + // status
				"\x00\x04" + "etag", // message
		},
		{
			name: "END ok", stream: 1,
			frame: &wire.End{Status: wire.StatusOK},
			bytes: "\x23" + "\x00" + "\x00\x00\x00\x01" + "\x00\x00\x00\x04" +
				"\x00\x00" + // status
				"\x00\x00", // message
		},
		{
			name: "unknown", stream: 2, open: true,
			frame: &wire.Unknown{T: 0x7f, Payload: []byte("\xde\xad\xbe\xef")},
			bytes: "\x7f" + "\x00" + "\x00\x00\x00\x02" + "\x00\x00\x00\x04" +
				"\xde\xad\xbe\xef",
		},
		{
			name: "unknown type 0 empty", stream: 0, open: true,
			frame: &wire.Unknown{T: 0},
			bytes: "\x00" + "\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00",
		},
	}
}

// TestGoldenCoversEveryType makes sure the golden table does not silently lose a frame type.
func TestGoldenCoversEveryType(t *testing.T) {
	seen := map[wire.Type]bool{}
	for _, g := range goldenFrames() {
		seen[g.frame.Type()] = true
	}
	for ty := range 256 {
		if wire.Type(ty).Known() {
			assert.True(t, seen[wire.Type(ty)], "no golden frame for %v", wire.Type(ty))
		}
	}
	assert.Len(t, seen, 16+2, "16 known types plus 2 unknown ones")
}

func TestAppendFrameGolden(t *testing.T) {
	junk := []byte("junk\x00\xff")
	for _, g := range goldenFrames() {
		t.Run(g.name, func(t *testing.T) {
			got := wire.AppendFrame(nil, g.stream, g.frame)
			assert.Equal(t, []byte(g.bytes), got)

			// AppendFrame appends: what is already in the buffer survives, untouched.
			buf := append([]byte(nil), junk...)
			got = wire.AppendFrame(buf, g.stream, g.frame)
			assert.Equal(t, junk, got[:len(junk)])
			assert.Equal(t, []byte(g.bytes), got[len(junk):])

			// PayloadLen is what AppendPayload appends, and AppendPayload appends too.
			payload := g.frame.AppendPayload(append([]byte(nil), junk...))
			assert.Equal(t, junk, payload[:len(junk)])
			assert.Equal(t, []byte(g.bytes[wire.HeaderLen:]), payload[len(junk):])
			assert.Equal(t, len(g.bytes)-wire.HeaderLen, g.frame.PayloadLen())
		})
	}
}

func TestParseFrameGolden(t *testing.T) {
	for _, g := range goldenFrames() {
		t.Run(g.name, func(t *testing.T) {
			in := []byte(g.bytes)
			h, f, n, err := wire.ParseFrame(in, testMaxPayload)
			require.NoError(t, err)
			want := wire.Header{Type: g.frame.Type(), Stream: g.stream, Length: uint32(len(in) - wire.HeaderLen)}
			assert.Equal(t, want, h)
			assert.Equal(t, g.frame, f)
			assert.Equal(t, len(in), n)

			// ParsePayload on the bare payload agrees.
			f2, err := wire.ParsePayload(h.Type, in[wire.HeaderLen:])
			require.NoError(t, err)
			assert.Equal(t, g.frame, f2)

			// The header alone parses to the same header.
			h2, err := wire.ParseHeader(in[:wire.HeaderLen], testMaxPayload)
			require.NoError(t, err)
			assert.Equal(t, want, h2)
		})
	}
}

// TestParseFrameFlagsIgnored checks that receivers ignore flags, as version 1 requires: the
// frame decodes the same whatever the flags byte holds, and the header reports it.
func TestParseFrameFlagsIgnored(t *testing.T) {
	for _, g := range goldenFrames() {
		t.Run(g.name, func(t *testing.T) {
			in := []byte(g.bytes)
			in[1] = 0xa5
			h, f, n, err := wire.ParseFrame(in, testMaxPayload)
			require.NoError(t, err)
			assert.Equal(t, uint8(0xa5), h.Flags)
			assert.Equal(t, g.frame, f)
			assert.Equal(t, len(in), n)
		})
	}
}

// TestParseFrameSequence parses every golden frame from one buffer, advancing by consumed, as
// a reader of a byte stream would.
func TestParseFrameSequence(t *testing.T) {
	var buf []byte
	gs := goldenFrames()
	for _, g := range gs {
		buf = append(buf, g.bytes...)
	}
	for _, g := range gs {
		h, f, n, err := wire.ParseFrame(buf, testMaxPayload)
		require.NoError(t, err, g.name)
		assert.Equal(t, g.stream, h.Stream, g.name)
		assert.Equal(t, g.frame, f, g.name)
		assert.Equal(t, len(g.bytes), n, g.name)
		buf = buf[n:]
	}
	assert.Empty(t, buf)
}

// requireParseError checks that err is a *ParseError wrapping want and returns it.
func requireParseError(t *testing.T, want, err error) *wire.ParseError {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, want)
	var pe *wire.ParseError
	require.ErrorAs(t, err, &pe)
	assert.NotEmpty(t, pe.Field)
	assert.NotEmpty(t, pe.Error())
	return pe
}

// TestParseFrameTruncated feeds every strict prefix of every golden frame to ParseFrame.
func TestParseFrameTruncated(t *testing.T) {
	for _, g := range goldenFrames() {
		t.Run(g.name, func(t *testing.T) {
			for i := range len(g.bytes) {
				// A fresh slice of exactly i bytes, so reading past it cannot hit the rest of
				// the golden string's backing array.
				in := []byte(g.bytes[:i])
				var (
					h   wire.Header
					f   wire.Frame
					n   int
					err error
				)
				require.NotPanics(t, func() { h, f, n, err = wire.ParseFrame(in, testMaxPayload) }, "prefix %d", i)
				pe := requireParseError(t, wire.ErrTruncated, err)
				assert.Nil(t, f, "prefix %d", i)
				assert.Equal(t, 0, n, "prefix %d", i)
				if i >= wire.HeaderLen {
					// The header was read: the error names the frame type.
					assert.Equal(t, g.frame.Type(), pe.Type, "prefix %d", i)
					assert.Equal(t, g.frame.Type(), h.Type, "prefix %d", i)
				}
			}
		})
	}
}

// TestParsePayloadTruncated cuts every payload short and fixes up the header's length to
// match, so the field decoders themselves (not ParseFrame's length check) meet the short input.
func TestParsePayloadTruncated(t *testing.T) {
	for _, g := range goldenFrames() {
		t.Run(g.name, func(t *testing.T) {
			payload := g.bytes[wire.HeaderLen:]
			for i := range len(payload) {
				in := []byte(g.bytes[:wire.HeaderLen] + payload[:i])
				binary.BigEndian.PutUint32(in[6:10], uint32(i))
				var (
					f   wire.Frame
					n   int
					err error
				)
				require.NotPanics(t, func() { _, f, n, err = wire.ParseFrame(in, testMaxPayload) }, "payload prefix %d", i)
				if g.open && (g.frame.Type() != wire.TypeData || i >= wire.DataOverhead) {
					// A shorter DATA or unknown frame is still a frame.
					require.NoError(t, err, "payload prefix %d", i)
					assert.Equal(t, len(in), n)
					assert.Equal(t, g.frame.Type(), f.Type())
					continue
				}
				pe := requireParseError(t, wire.ErrTruncated, err)
				assert.Equal(t, g.frame.Type(), pe.Type, "payload prefix %d", i)
				assert.Nil(t, f)
				assert.Equal(t, 0, n)
			}
		})
	}
}

// TestParsePayloadTrailing appends one byte to every payload (and to the header's length).
// Fixed-layout frames refuse it; DATA and unknown frames take it as part of their bytes.
func TestParsePayloadTrailing(t *testing.T) {
	for _, g := range goldenFrames() {
		t.Run(g.name, func(t *testing.T) {
			in := []byte(g.bytes + "\x5a")
			binary.BigEndian.PutUint32(in[6:10], uint32(len(in)-wire.HeaderLen))
			_, f, n, err := wire.ParseFrame(in, testMaxPayload)
			if !g.open {
				pe := requireParseError(t, wire.ErrTrailing, err)
				assert.Equal(t, g.frame.Type(), pe.Type)
				assert.Nil(t, f)
				assert.Equal(t, 0, n)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, len(in), n)
			switch f := f.(type) {
			case *wire.Data:
				assert.Equal(t, append(g.frame.(*wire.Data).Bytes, 0x5a), f.Bytes)
			case *wire.Unknown:
				assert.Equal(t, append(g.frame.(*wire.Unknown).Payload, 0x5a), f.Payload)
			default:
				t.Fatalf("open frame decoded as %T", f)
			}
		})
	}
}

// TestParseFrameIgnoresFollowingBytes checks that bytes after the declared payload belong to
// the next frame: they are not consumed and do not count as trailing.
func TestParseFrameIgnoresFollowingBytes(t *testing.T) {
	for _, g := range goldenFrames() {
		t.Run(g.name, func(t *testing.T) {
			in := []byte(g.bytes + "\x01\x02\x03")
			_, f, n, err := wire.ParseFrame(in, testMaxPayload)
			require.NoError(t, err)
			assert.Equal(t, g.frame, f)
			assert.Equal(t, len(g.bytes), n)
		})
	}
}

// TestParseAliasing pins down the documented ownership: DATA's Bytes alias the input (no copy
// on the hot path), everything else is copied.
func TestParseAliasing(t *testing.T) {
	for _, g := range goldenFrames() {
		t.Run(g.name, func(t *testing.T) {
			in := []byte(g.bytes)
			_, f, _, err := wire.ParseFrame(in, testMaxPayload)
			require.NoError(t, err)
			for i := wire.HeaderLen; i < len(in); i++ {
				in[i] ^= 0xff
			}
			if d, ok := f.(*wire.Data); ok && len(d.Bytes) > 0 {
				assert.Equal(t, []byte(g.bytes[wire.HeaderLen+wire.DataOverhead:]), bytesXorFF(d.Bytes))
				return
			}
			assert.Equal(t, g.frame, f)
		})
	}
}

func bytesXorFF(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = c ^ 0xff
	}
	return out
}

func TestParseErrorMessage(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    wire.ParseError
		message string
	}{
		{
			name: "short header",
			in:   "\x10\x00\x00",
			want: wire.ParseError{Field: "header", Err: wire.ErrTruncated},
		},
		{
			name:    "path too long",
			in:      "\x10" + "\x00" + "\x00\x00\x00\x01" + "\x00\x00\x00\x02" + "\x10\x01",
			want:    wire.ParseError{Type: wire.TypeStat, Field: "path", Err: wire.ErrTooLarge},
			message: "wire: STAT frame: path: too large",
		},
		{
			name:    "short fixed field",
			in:      "\x06" + "\x00" + "\x00\x00\x00\x01" + "\x00\x00\x00\x02" + "\x00\x01",
			want:    wire.ParseError{Type: wire.TypeCredit, Field: "increment", Err: wire.ErrTruncated},
			message: "wire: CREDIT frame: increment: truncated",
		},
		{
			name:    "trailing",
			in:      "\x07" + "\x00" + "\x00\x00\x00\x01" + "\x00\x00\x00\x01" + "\x00",
			want:    wire.ParseError{Type: wire.TypeCancel, Field: "end", Err: wire.ErrTrailing},
			message: "wire: CANCEL frame: end: trailing bytes",
		},
		{
			name:    "unknown type too large",
			in:      "\x7f" + "\x00" + "\x00\x00\x00\x01" + "\xff\xff\xff\xff",
			want:    wire.ParseError{Type: 0x7f, Field: "payload length", Err: wire.ErrTooLarge},
			message: "wire: Type(0x7f) frame: payload length: too large",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := wire.ParseFrame([]byte(tt.in), testMaxPayload)
			var pe *wire.ParseError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.want, *pe)
			if tt.message != "" {
				assert.Equal(t, tt.message, err.Error())
			}
			assert.True(t, strings.HasPrefix(err.Error(), "wire: "), err.Error())
		})
	}
}

// TestPayloadLenMatchesAppend checks the AppendFrame contract for frames whose fields exceed
// what their length prefixes can say: the header's length must equal the bytes appended, or
// every later frame on a byte stream is misread.
func TestPayloadLenMatchesAppend(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	many := make([]wire.Entry, 0x10000)
	for i := range many {
		many[i].Name = fmt.Sprint(i)
	}
	tests := []struct {
		name  string
		frame wire.Frame
	}{
		{"STAT path over 64 KiB", &wire.Stat{Path: long(0x10005)}},
		{"OPEN path over 64 KiB", &wire.Open{Path: long(0x10005)}},
		{"LIST after over 64 KiB", &wire.List{Path: "p", After: long(0x10005)}},
		{"READ if-match over 255", &wire.Read{IfMatch: long(300), Path: "p"}},
		{"READ path over 64 KiB", &wire.Read{Path: long(0x10005)}},
		{"INFO etag over 255", &wire.Info{ETag: long(300)}},
		{"INFO mime over 255", &wire.Info{MIME: long(256)}},
		{"INFO name over 64 KiB", &wire.Info{Name: long(0x10000)}},
		{"ENTRIES name over 64 KiB", &wire.Entries{Entries: []wire.Entry{{Name: long(0x10001)}}}},
		{"ENTRIES over 65535 entries", &wire.Entries{Entries: many}},
		{"END message over MaxMessage", &wire.End{Message: long(wire.MaxMessage + 1)}},
		{"ERROR message over MaxMessage", &wire.ErrorFrame{Message: long(wire.MaxMessage * 3)}},
		{"GOAWAY message over MaxMessage", &wire.GoAway{Message: long(wire.MaxMessage * 70)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.frame.AppendPayload(nil)
			assert.Equal(t, len(p), tt.frame.PayloadLen())
			b := wire.AppendFrame(nil, 1, tt.frame)
			h, err := wire.ParseHeader(b, math.MaxUint32)
			require.NoError(t, err)
			assert.Equal(t, uint32(len(b)-wire.HeaderLen), h.Length)
		})
	}
	// EntryLen is the per-entry share of PayloadLen.
	e := wire.Entry{Name: long(0x10001)}
	ents := &wire.Entries{Entries: []wire.Entry{e}}
	assert.Equal(t, ents.PayloadLen()-wire.EntriesOverhead, wire.EntryLen(&e))
}

// TestParseErrorsAreParseErrors makes sure a decoder failure on the very first field is
// wrapped too, and names that field.
func TestParseErrorsAreParseErrors(t *testing.T) {
	_, err := wire.ParsePayload(wire.TypeHello, nil)
	pe := requireParseError(t, wire.ErrTruncated, err)
	assert.Equal(t, wire.ParseError{Type: wire.TypeHello, Field: "version", Err: wire.ErrTruncated}, *pe)
}

// TestParseMessage checks the message-transport rule: one message, exactly one frame.
func TestParseMessage(t *testing.T) {
	ping := "\x02" + "\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x08" + "\x00\x00\x00\x00\x00\x00\x00\x05"
	tests := []struct {
		name     string
		in       string
		want     wire.Frame
		wantErr  *wire.ParseError
		wantCode wire.ErrorCode
	}{
		{name: "exact", in: ping, want: &wire.Ping{Data: 5}},
		{
			name:     "one byte more",
			in:       ping + "\x00",
			wantErr:  &wire.ParseError{Type: wire.TypePing, Field: "payload length", Err: wire.ErrTrailing},
			wantCode: wire.CodeFrameSize,
		},
		{
			name:     "one byte less",
			in:       ping[:len(ping)-1],
			wantErr:  &wire.ParseError{Type: wire.TypePing, Field: "payload length", Err: wire.ErrTruncated},
			wantCode: wire.CodeFrameSize,
		},
		{
			name:     "above the limit",
			in:       "\x22" + "\x00" + "\x00\x00\x00\x01" + "\x00\x00\x01\x00",
			wantErr:  &wire.ParseError{Type: wire.TypeData, Field: "payload length", Err: wire.ErrTooLarge},
			wantCode: wire.CodeFrameSize,
		},
		{
			name:     "short header",
			in:       "\x02\x00\x00",
			wantErr:  &wire.ParseError{Field: "header", Err: wire.ErrTruncated},
			wantCode: wire.CodeProtocol,
		},
		{
			name:     "payload does not decode",
			in:       "\x06" + "\x00" + "\x00\x00\x00\x01" + "\x00\x00\x00\x02" + "\x00\x01",
			wantErr:  &wire.ParseError{Type: wire.TypeCredit, Field: "increment", Err: wire.ErrTruncated},
			wantCode: wire.CodeProtocol,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, f, err := wire.ParseMessage([]byte(tt.in), 0xff)
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, tt.want, f)
				assert.Equal(t, wire.Header{Type: tt.want.Type(), Length: uint32(tt.want.PayloadLen())}, h)
				return
			}
			var pe *wire.ParseError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, *tt.wantErr, *pe)
			assert.Equal(t, tt.wantCode, pe.Code())
			assert.Nil(t, f)
			assert.Equal(t, tt.wantErr.Type, h.Type, "the header comes back with the error")
		})
	}
}
