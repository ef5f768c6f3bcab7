package wire_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/wire"
)

// fuzzMaxPayload is the limit the fuzz targets parse with: the largest a HELLO may agree.
const fuzzMaxPayload = wire.MaxFrameSize - wire.HeaderLen

var sentinels = []error{wire.ErrTruncated, wire.ErrTooLarge, wire.ErrOverflow, wire.ErrTrailing, wire.ErrInvalid}

// checkParseError fails unless err is a *ParseError wrapping exactly one of the sentinels.
func checkParseError(t *testing.T, err error) {
	t.Helper()
	var pe *wire.ParseError
	require.ErrorAs(t, err, &pe)
	matched := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			matched++
		}
	}
	assert.Equal(t, 1, matched, "sentinels wrapped by %v", err)
}

// frameFrom builds a frame of a type chosen by sel from the given field values. The fuzz
// seeds and FuzzAppendFrame use it to reach every encoder with arbitrary values.
func frameFrom(sel uint8, u1, u2 uint64, s1, s2 string, b []byte) wire.Frame {
	switch sel % 17 {
	case 0:
		return &wire.Hello{
			Version: uint16(u1), MaxFrame: uint32(u1 >> 16), StreamWindow: uint32(u2),
			SessionWindow: uint32(u2 >> 32), MaxStreams: uint32(u1>>48) | uint32(u2<<16), Capabilities: u1 ^ u2,
		}
	case 1:
		return &wire.Ping{Data: u1}
	case 2:
		return &wire.Pong{Data: u2}
	case 3:
		return &wire.GoAway{LastStream: uint32(u1), Code: wire.ErrorCode(u2), Message: s1}
	case 4:
		return &wire.ErrorFrame{Code: wire.ErrorCode(u1), FrameType: wire.Type(u2), Message: s2}
	case 5:
		return &wire.Credit{Increment: uint32(u1)}
	case 6:
		return &wire.Cancel{}
	case 7:
		return &wire.Stat{Path: s1}
	case 8:
		return &wire.Open{Path: s2}
	case 9:
		return &wire.Close{Handle: uint32(u2)}
	case 10:
		return &wire.List{Path: s1, After: s2, Limit: uint16(u1)}
	case 11:
		return &wire.Read{Handle: uint32(u1 >> 32), Offset: u1, Length: u2, IfMatch: s1, Path: s2}
	case 12:
		return &wire.Info{
			Handle: uint32(u2), Size: u1, ModTime: int64(u2), Mode: uint32(u1 >> 32),
			ETag: s1, MIME: s2, Name: string(b),
		}
	case 13:
		f := &wire.Entries{More: u1&1 == 1}
		if s1 != "" {
			for i, name := range strings.Split(s1, "/") {
				f.Entries = append(f.Entries, wire.Entry{
					Name: name, Size: u1 + uint64(i), ModTime: int64(u2) - int64(i), Mode: uint32(u2 >> 32),
				})
			}
		}
		return f
	case 14:
		return &wire.Data{Offset: u1, Bytes: b}
	case 15:
		return &wire.End{Status: wire.Status(u1), Message: s1}
	default:
		// 0xf0–0xff are unassigned.
		return &wire.Unknown{T: wire.Type(0xf0 | sel&0x0f), Payload: b}
	}
}

// randomFrames returns n reproducible frames of every type with random-ish fields: long and
// empty strings, edge-of-range integers.
func randomFrames(n int) []wire.Frame {
	r := rand.New(rand.NewPCG(1, 2))
	u64 := func() uint64 {
		switch r.IntN(4) {
		case 0:
			return 0
		case 1:
			return math.MaxUint64 - r.Uint64N(3)
		default:
			return r.Uint64() >> r.UintN(64)
		}
	}
	str := func() string {
		const chars = "abc/._-é\x00"
		sb := strings.Builder{}
		for range r.IntN(3) * r.IntN(100) {
			sb.WriteByte(chars[r.IntN(len(chars))])
		}
		return sb.String()
	}
	frames := make([]wire.Frame, 0, n)
	for i := range n {
		b := make([]byte, r.IntN(3)*r.IntN(200))
		for j := range b {
			b[j] = byte(r.UintN(256))
		}
		frames = append(frames, frameFrom(uint8(i), u64(), u64(), str(), str(), b))
	}
	return frames
}

// FuzzParseFrame feeds arbitrary bytes to ParseFrame. A failure must be a clean *ParseError;
// a success must re-encode to exactly the bytes consumed (flags aside: senders write 0), and
// that encoding must decode to the same header and frame (decode → encode → decode).
func FuzzParseFrame(f *testing.F) {
	for _, g := range goldenFrames() {
		f.Add([]byte(g.bytes))
	}
	for i, fr := range randomFrames(64) {
		f.Add(wire.AppendFrame(nil, uint32(i)*0x01010101, fr))
	}
	// A few malformed ones, so the error paths are in the seed corpus too.
	f.Add([]byte("\x21\x00\x00\x00\x00\x01\x00\x00\x00\x03\x00\xff\xff"))                         // ENTRIES count 65535
	f.Add([]byte("\x10\x00\x00\x00\x00\x01\x00\x00\x00\x02\x10\x01"))                             // STAT path MaxPath+1
	f.Add([]byte("\x22\x00\x00\x00\x00\x01\x00\x00\x00\x09\xff\xff\xff\xff\xff\xff\xff\xff\x00")) // DATA overflow
	f.Add([]byte("\x22\x00\x00\x00\x00\x01\xff\xff\xff\xff"))                                     // too large

	f.Fuzz(func(t *testing.T, in []byte) {
		h, fr, n, err := wire.ParseFrame(in, fuzzMaxPayload)
		checkParseMessage(t, in, h, fr, n, err)
		if err != nil {
			checkParseError(t, err)
			assert.Nil(t, fr)
			assert.Equal(t, 0, n)
			return
		}
		require.NotNil(t, fr)
		require.LessOrEqual(t, n, len(in))
		assert.Equal(t, wire.HeaderLen+int(h.Length), n)
		assert.Equal(t, h.Type, fr.Type())
		assert.Equal(t, int(h.Length), fr.PayloadLen())

		enc := wire.AppendFrame(nil, h.Stream, fr)
		want := bytes.Clone(in[:n])
		want[1] = 0 // flags
		assert.Equal(t, want, enc, "re-encoding is not canonical")

		h2, fr2, n2, err := wire.ParseFrame(enc, fuzzMaxPayload)
		require.NoError(t, err)
		h.Flags = 0
		assert.Equal(t, h, h2)
		assert.Equal(t, fr, fr2)
		assert.Equal(t, len(enc), n2)
	})
}

// checkParseMessage checks that ParseMessage agrees with ParseFrame on in, taken as one
// message: the same header error; a frame-size error when the message is longer or shorter
// than the frame its header declares; otherwise the same frame, or the same payload error.
func checkParseMessage(t *testing.T, in []byte, h wire.Header, fr wire.Frame, n int, frameErr error) {
	t.Helper()
	mh, mfr, err := wire.ParseMessage(in, fuzzMaxPayload)
	_, headerErr := wire.ParseHeader(in, fuzzMaxPayload)
	switch {
	case headerErr != nil:
		assert.Equal(t, headerErr, err)
		assert.Nil(t, mfr)
	case wire.HeaderLen+int(h.Length) != len(in):
		checkParseError(t, err)
		var pe *wire.ParseError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, wire.CodeFrameSize, pe.Code(), "%v", err)
		assert.Equal(t, h, mh)
		assert.Nil(t, mfr)
	case frameErr != nil:
		assert.Equal(t, frameErr, err)
		assert.Equal(t, h, mh)
		assert.Nil(t, mfr)
	default:
		require.NoError(t, err)
		assert.Equal(t, len(in), n)
		assert.Equal(t, h, mh)
		assert.Equal(t, fr, mfr)
	}
}

// FuzzParseHeader checks ParseHeader against the layout directly: ten bytes in, the same ten
// bytes back out of AppendHeader, and ErrTooLarge exactly when the length exceeds the limit.
func FuzzParseHeader(f *testing.F) {
	for _, g := range goldenFrames() {
		f.Add([]byte(g.bytes[:wire.HeaderLen]), uint32(fuzzMaxPayload))
	}
	f.Add([]byte("\x22\x00\x00\x00\x00\x01\x00\x00\x01\x00"), uint32(0xff))
	f.Add([]byte("\x22\x00\x00"), uint32(0))

	f.Fuzz(func(t *testing.T, in []byte, maxPayload uint32) {
		h, err := wire.ParseHeader(in, maxPayload)
		if len(in) < wire.HeaderLen {
			requireParseError(t, wire.ErrTruncated, err)
			assert.Equal(t, wire.Header{}, h)
			return
		}
		assert.Equal(t, in[:wire.HeaderLen], wire.AppendHeader(nil, h))
		if h.Length > maxPayload {
			requireParseError(t, wire.ErrTooLarge, err)
		} else {
			assert.NoError(t, err)
		}
	})
}

// FuzzAppendFrame drives the encoders with arbitrary field values. PayloadLen must match what
// AppendPayload writes whatever the values (the header's length depends on it), and the
// encoding must either decode and re-encode to itself or fail only because a value is beyond
// a decoder limit (a long path or name, which callers must refuse) or overflows (READ, DATA).
func FuzzAppendFrame(f *testing.F) {
	f.Add(uint8(11), uint64(1), uint64(2), "etag", "a/b", []byte("x"))
	f.Add(uint8(13), uint64(1), uint64(math.MaxUint64), "a/bb/ccc", "", []byte(nil))
	f.Add(uint8(14), uint64(math.MaxUint64), uint64(0), "", "", []byte("overflow"))
	f.Add(uint8(12), uint64(0), uint64(0), strings.Repeat("e", 300), "", []byte("name"))

	f.Fuzz(func(t *testing.T, sel uint8, u1, u2 uint64, s1, s2 string, b []byte) {
		fr := frameFrom(sel, u1, u2, s1, s2, b)
		p := fr.AppendPayload([]byte("junk"))
		require.Equal(t, "junk", string(p[:4]))
		assert.Equal(t, len(p)-4, fr.PayloadLen())

		enc := wire.AppendFrame(nil, uint32(u2), fr)
		h, got, n, err := wire.ParseFrame(enc, math.MaxUint32)
		if err != nil {
			checkParseError(t, err)
			if !errors.Is(err, wire.ErrTooLarge) && !errors.Is(err, wire.ErrOverflow) {
				t.Fatalf("%T encodes to a frame that fails with %v", fr, err)
			}
			return
		}
		assert.Equal(t, len(enc), n)
		assert.Equal(t, wire.Header{Type: fr.Type(), Stream: uint32(u2), Length: uint32(len(p) - 4)}, h)
		assert.Equal(t, enc, wire.AppendFrame(nil, uint32(u2), got))
	})
}
