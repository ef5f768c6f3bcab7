package wire_test

import (
	"encoding/binary"
	"math"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/wire"
)

// frameBytes returns a frame of type t on stream 1 with the given payload.
func frameBytes(t wire.Type, payload string) []byte {
	b := wire.AppendHeader(nil, wire.Header{Type: t, Stream: 1, Length: uint32(len(payload))})
	return append(b, payload...)
}

func be16(v uint16) string { return string(binary.BigEndian.AppendUint16(nil, v)) }
func be64(v uint64) string { return string(binary.BigEndian.AppendUint64(nil, v)) }

// TestStringLimits checks every two-byte-length string field against its limit: the limit
// itself decodes, one more is ErrTooLarge, and the limit is checked from the length field
// alone, before the string's bytes are needed.
func TestStringLimits(t *testing.T) {
	zeros := func(n int) string { return strings.Repeat("\x00", n) }
	tests := []struct {
		name   string
		typ    wire.Type
		prefix string // fields before the string's length
		suffix string // fields after the string
		limit  int
		field  string
	}{
		{"STAT path", wire.TypeStat, "", "", wire.MaxPath, "path"},
		{"OPEN path", wire.TypeOpen, "", "", wire.MaxPath, "path"},
		{"LIST path", wire.TypeList, "", zeros(2 + 2), wire.MaxPath, "path"},
		{"LIST after", wire.TypeList, zeros(2), zeros(2), wire.MaxName, "after"},
		{"READ path", wire.TypeRead, zeros(4 + 8 + 8 + 1), "", wire.MaxPath, "path"},
		{"INFO name", wire.TypeInfo, zeros(4 + 8 + 8 + 4 + 1 + 1), "", wire.MaxName, "name"},
		{"ENTRIES name", wire.TypeEntries, "\x00" + "\x00\x01", zeros(8 + 8 + 4), wire.MaxName, "name"},
		{"END message", wire.TypeEnd, zeros(2), "", wire.MaxMessage, "message"},
		{"ERROR message", wire.TypeError, zeros(2 + 1), "", wire.MaxMessage, "message"},
		{"GOAWAY message", wire.TypeGoAway, zeros(4 + 2), "", wire.MaxMessage, "message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := strings.Repeat("a", tt.limit)
			payload := tt.prefix + be16(uint16(tt.limit)) + at + tt.suffix
			_, f, _, err := wire.ParseFrame(frameBytes(tt.typ, payload), testMaxPayload)
			require.NoError(t, err, "a string of exactly the limit decodes")
			assert.Equal(t, payload, string(f.AppendPayload(nil)))

			over := []struct {
				name    string
				payload string
			}{
				{"limit+1 with bytes", tt.prefix + be16(uint16(tt.limit+1)) + at + "a" + tt.suffix},
				{"limit+1 without bytes", tt.prefix + be16(uint16(tt.limit+1)) + tt.suffix},
				{"65535 without bytes", tt.prefix + be16(math.MaxUint16) + tt.suffix},
			}
			for _, o := range over {
				_, f, n, err := wire.ParseFrame(frameBytes(tt.typ, o.payload), testMaxPayload)
				pe := requireParseError(t, wire.ErrTooLarge, err)
				assert.Equal(t, wire.ParseError{Type: tt.typ, Field: tt.field, Err: wire.ErrTooLarge}, *pe, o.name)
				assert.Nil(t, f, o.name)
				assert.Equal(t, 0, n, o.name)
			}
		})
	}
}

// TestString8Fields checks the one-byte-length strings: 255 bytes, the most the length can
// say, decodes.
func TestString8Fields(t *testing.T) {
	s := strings.Repeat("e", wire.MaxETag)
	for _, f := range []wire.Frame{
		&wire.Info{ETag: s, MIME: s, Name: "n"},
		&wire.Read{IfMatch: s, Path: "p"},
	} {
		t.Run(f.Type().String(), func(t *testing.T) {
			_, got, _, err := wire.ParseFrame(wire.AppendFrame(nil, 1, f), testMaxPayload)
			require.NoError(t, err)
			assert.Equal(t, f, got)
		})
	}
}

// TestEntriesCountCapped sends ENTRIES claiming 65535 entries in a 3-byte payload. The decoder
// must refuse it from the count and the remaining length, without making room for 65535
// entries first (65535 * sizeof(Entry) is over 2.5 MB).
func TestEntriesCountCapped(t *testing.T) {
	in := frameBytes(wire.TypeEntries, "\x00"+"\xff\xff")
	parse := func() {
		_, f, _, err := wire.ParseFrame(in, testMaxPayload)
		if err == nil || f != nil {
			panic("ENTRIES with 65535 entries in 3 bytes decoded")
		}
	}

	_, _, _, err := wire.ParseFrame(in, testMaxPayload)
	pe := requireParseError(t, wire.ErrTruncated, err)
	assert.Equal(t, wire.ParseError{Type: wire.TypeEntries, Field: "count", Err: wire.ErrTruncated}, *pe)

	allocs := testing.AllocsPerRun(100, parse)
	assert.LessOrEqual(t, allocs, 4.0, "allocations per parse")

	const runs = 100
	parse() // warm up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		parse()
	}
	runtime.ReadMemStats(&after)
	perRun := (after.TotalAlloc - before.TotalAlloc) / runs
	assert.Less(t, perRun, uint64(1024), "bytes allocated per parse")
}

// TestEntriesCountAgainstBytes covers counts that the minimum entry size allows but the
// entries present do not fill.
func TestEntriesCountAgainstBytes(t *testing.T) {
	entry := func(name string) string {
		return be16(uint16(len(name))) + name + be64(1) + be64(2) + "\x00\x00\x01\xa4"
	}
	tests := []struct {
		name    string
		payload string
		field   string
	}{
		{"count 2, one entry", "\x00" + be16(2) + entry("a"), "count"},
		{"count 2, one long entry", "\x00" + be16(2) + entry(strings.Repeat("n", 40)), "name length"},
		{"count 1, entry cut in mode", "\x00" + be16(1) + entry("abc")[:2+3+8+8+2], "mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, f, n, err := wire.ParseFrame(frameBytes(wire.TypeEntries, tt.payload), testMaxPayload)
			pe := requireParseError(t, wire.ErrTruncated, err)
			assert.Equal(t, tt.field, pe.Field)
			assert.Nil(t, f)
			assert.Equal(t, 0, n)
		})
	}
}

func TestEntriesMore(t *testing.T) {
	tests := []struct {
		name    string
		more    byte
		want    bool
		wantErr error
	}{
		{"0 is false", 0, false, nil},
		{"1 is true", 1, true, nil},
		{"2 is invalid", 2, false, wire.ErrInvalid},
		{"0xff is invalid", 0xff, false, wire.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, f, _, err := wire.ParseFrame(frameBytes(wire.TypeEntries, string(tt.more)+"\x00\x00"), testMaxPayload)
			if tt.wantErr != nil {
				pe := requireParseError(t, tt.wantErr, err)
				assert.Equal(t, wire.ParseError{Type: wire.TypeEntries, Field: "more", Err: tt.wantErr}, *pe)
				assert.Nil(t, f)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, &wire.Entries{More: tt.want, Entries: []wire.Entry{}}, f)
		})
	}
}

// TestReadOverflow checks that a READ whose range end does not fit in 64 bits is refused.
func TestReadOverflow(t *testing.T) {
	tests := []struct {
		name           string
		offset, length uint64
		wantErr        error
	}{
		{"end is max", math.MaxUint64 - 1, 1, nil},
		{"max offset, no length", math.MaxUint64, 0, nil},
		{"zero offset, max length", 0, math.MaxUint64, nil},
		{"max offset, one byte", math.MaxUint64, 1, wire.ErrOverflow},
		{"one byte offset, max length", 1, math.MaxUint64, wire.ErrOverflow},
		{"both max", math.MaxUint64, math.MaxUint64, wire.ErrOverflow},
		{"both half", 1 << 63, 1 << 63, wire.ErrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := "\x00\x00\x00\x01" + be64(tt.offset) + be64(tt.length) + "\x00" + "\x00\x01" + "p"
			_, f, _, err := wire.ParseFrame(frameBytes(wire.TypeRead, payload), testMaxPayload)
			if tt.wantErr != nil {
				pe := requireParseError(t, tt.wantErr, err)
				assert.Equal(t, wire.ParseError{Type: wire.TypeRead, Field: "length", Err: wire.ErrOverflow}, *pe)
				assert.Nil(t, f)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, &wire.Read{Handle: 1, Offset: tt.offset, Length: tt.length, Path: "p"}, f)
		})
	}
}

// TestDataOverflow checks that DATA whose last byte would lie beyond offset 2^64-1 is refused.
func TestDataOverflow(t *testing.T) {
	tests := []struct {
		name    string
		offset  uint64
		bytes   string
		wantErr error
	}{
		{"max offset, no bytes", math.MaxUint64, "", nil},
		{"end is max", math.MaxUint64 - 4, "abcd", nil},
		{"end is 2^64", math.MaxUint64 - 4, "abcde", wire.ErrOverflow},
		{"max offset, one byte", math.MaxUint64, "a", wire.ErrOverflow},
		{"max offset, 4 KiB", math.MaxUint64, strings.Repeat("z", 4096), wire.ErrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, f, _, err := wire.ParseFrame(frameBytes(wire.TypeData, be64(tt.offset)+tt.bytes), testMaxPayload)
			if tt.wantErr != nil {
				pe := requireParseError(t, tt.wantErr, err)
				assert.Equal(t, wire.ParseError{Type: wire.TypeData, Field: "bytes", Err: wire.ErrOverflow}, *pe)
				assert.Nil(t, f)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, &wire.Data{Offset: tt.offset, Bytes: []byte(tt.bytes)}, f)
		})
	}
}

// TestMessageTruncatedOnEncode checks that END, ERROR and GOAWAY cut messages at MaxMessage
// bytes when encoding, so what they send always decodes.
func TestMessageTruncatedOnEncode(t *testing.T) {
	// Two-byte runes, so the cut is in bytes and may split a rune: the wire carries bytes.
	long := strings.Repeat("é", wire.MaxMessage)
	exact := strings.Repeat("m", wire.MaxMessage)
	tests := []struct {
		name  string
		frame wire.Frame
		want  wire.Frame
		fixed int // payload bytes before the message's length
	}{
		{"END long", &wire.End{Status: wire.StatusIO, Message: long}, &wire.End{Status: wire.StatusIO, Message: long[:wire.MaxMessage]}, 2},
		{"END exact", &wire.End{Status: wire.StatusIO, Message: exact}, &wire.End{Status: wire.StatusIO, Message: exact}, 2},
		{
			"ERROR long",
			&wire.ErrorFrame{Code: wire.CodeInternal, FrameType: wire.TypeData, Message: long},
			&wire.ErrorFrame{Code: wire.CodeInternal, FrameType: wire.TypeData, Message: long[:wire.MaxMessage]},
			3,
		},
		{
			"GOAWAY long",
			&wire.GoAway{LastStream: 9, Code: wire.CodeShutdown, Message: long + long},
			&wire.GoAway{LastStream: 9, Code: wire.CodeShutdown, Message: long[:wire.MaxMessage]},
			6,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := wire.AppendFrame(nil, 1, tt.frame)
			assert.Len(t, b, wire.HeaderLen+tt.fixed+2+wire.MaxMessage)
			assert.Equal(t, tt.fixed+2+wire.MaxMessage, tt.frame.PayloadLen())

			_, f, n, err := wire.ParseFrame(b, testMaxPayload)
			require.NoError(t, err)
			assert.Equal(t, tt.want, f)
			assert.Equal(t, len(b), n)
		})
	}
}

// TestAppendDataNoAllocs checks that encoding DATA into a buffer with room does not allocate:
// it is the per-chunk hot path of every READ.
func TestAppendDataNoAllocs(t *testing.T) {
	d := &wire.Data{Offset: 1 << 20, Bytes: make([]byte, 16<<10)}
	buf := make([]byte, 0, wire.HeaderLen+d.PayloadLen())
	var f wire.Frame = d
	allocs := testing.AllocsPerRun(100, func() { buf = wire.AppendFrame(buf[:0], 1, f) })
	assert.Equal(t, 0.0, allocs)
}

// A message cut to MaxMessage keeps whole UTF-8 characters.
func TestMessageTruncationKeepsUTF8(t *testing.T) {
	msg := strings.Repeat("a", wire.MaxMessage-1) + "é" + "tail" // é straddles the limit
	b := wire.AppendFrame(nil, 1, &wire.End{Status: wire.StatusIO, Message: msg})
	_, f, _, err := wire.ParseFrame(b, wire.MaxFrameSize)
	require.NoError(t, err)
	got := f.(*wire.End).Message
	assert.Equal(t, strings.Repeat("a", wire.MaxMessage-1), got)
	assert.True(t, utf8.ValidString(got))
}
