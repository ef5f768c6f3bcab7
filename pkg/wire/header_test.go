package wire_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/wire"
)

func TestAppendHeader(t *testing.T) {
	h := wire.Header{Type: wire.TypeRead, Flags: 0x80, Stream: 0x01020304, Length: 0x0a0b0c0d}
	want := "\x14" + "\x80" + "\x01\x02\x03\x04" + "\x0a\x0b\x0c\x0d"

	assert.Equal(t, []byte(want), wire.AppendHeader(nil, h))
	got := wire.AppendHeader([]byte("junk"), h)
	assert.Equal(t, []byte("junk"+want), got)

	back, err := wire.ParseHeader([]byte(want), math.MaxUint32)
	require.NoError(t, err)
	assert.Equal(t, h, back)
}

func TestParseHeader(t *testing.T) {
	const max = 1000
	tests := []struct {
		name    string
		in      string
		want    wire.Header
		wantErr error
	}{
		{
			name:    "empty",
			in:      "",
			wantErr: wire.ErrTruncated,
		},
		{
			name:    "nine bytes",
			in:      "\x22" + "\x00" + "\x00\x00\x00\x01" + "\x00\x00\x00",
			wantErr: wire.ErrTruncated,
		},
		{
			name: "length at the limit, payload absent",
			in:   "\x22" + "\x00" + "\x00\x00\x00\x01" + "\x00\x00\x03\xe8",
			want: wire.Header{Type: wire.TypeData, Stream: 1, Length: max},
		},
		{
			name:    "length one over the limit",
			in:      "\x22" + "\x00" + "\x00\x00\x00\x01" + "\x00\x00\x03\xe9",
			want:    wire.Header{Type: wire.TypeData, Stream: 1, Length: max + 1},
			wantErr: wire.ErrTooLarge,
		},
		{
			name:    "length 4 GiB - 1",
			in:      "\x22" + "\x00" + "\x00\x00\x00\x01" + "\xff\xff\xff\xff",
			want:    wire.Header{Type: wire.TypeData, Stream: 1, Length: math.MaxUint32},
			wantErr: wire.ErrTooLarge,
		},
		{
			name: "extra bytes are not the header's business",
			in:   "\xee" + "\x01" + "\xff\xff\xff\xff" + "\x00\x00\x00\x00" + "\x01\x02",
			want: wire.Header{Type: 0xee, Flags: 1, Stream: math.MaxUint32},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := wire.ParseHeader([]byte(tt.in), max)
			if tt.wantErr != nil {
				requireParseError(t, tt.wantErr, err)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.want, h)
		})
	}
}

// TestParseFrameTooLargeFirst checks that an oversized declared length is refused from the
// header alone: the payload is never needed, so a receiver can reject the frame before
// buffering it.
func TestParseFrameTooLargeFirst(t *testing.T) {
	tests := []struct {
		name    string
		max     uint32
		length  uint32
		wantErr error
	}{
		{"one over", 100, 101, wire.ErrTooLarge},
		{"far over", wire.MinFrameSize - wire.HeaderLen, math.MaxUint32, wire.ErrTooLarge},
		{"zero limit", 0, 1, wire.ErrTooLarge},
		{"at the limit but absent", 100, 100, wire.ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := wire.AppendHeader(nil, wire.Header{Type: wire.TypeData, Stream: 3, Length: tt.length})
			h, f, n, err := wire.ParseFrame(in, tt.max)
			pe := requireParseError(t, tt.wantErr, err)
			assert.Equal(t, wire.TypeData, pe.Type)
			assert.Equal(t, tt.length, h.Length)
			assert.Nil(t, f)
			assert.Equal(t, 0, n)
		})
	}
}
