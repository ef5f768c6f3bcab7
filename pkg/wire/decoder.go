package wire

import (
	"encoding/binary"
	"math"
)

// decoder reads fields from one frame payload. The first failure sticks: later reads return
// zero values, and err reports the field that failed. Every read checks the remaining length
// before slicing.
type decoder struct {
	t   Type
	b   []byte
	err error
}

func (d *decoder) fail(field string, err error) {
	if d.err == nil {
		d.err = &ParseError{Type: d.t, Field: field, Err: err}
	}
}

func (d *decoder) take(n uint64, field string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(field, ErrTruncated)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8(field string) uint8 {
	if v := d.take(1, field); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u16(field string) uint16 {
	if v := d.take(2, field); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) u32(field string) uint32 {
	if v := d.take(4, field); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64(field string) uint64 {
	if v := d.take(8, field); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// str8 reads a string prefixed by a one-byte length.
func (d *decoder) str8(field string) string {
	n := d.u8(field + " length")
	return string(d.take(uint64(n), field))
}

// str16 reads a string prefixed by a two-byte length, refusing lengths above limit before
// looking at the bytes.
func (d *decoder) str16(field string, limit int) string {
	n := d.u16(field + " length")
	if d.err == nil && int(n) > limit {
		d.fail(field, ErrTooLarge)
		return ""
	}
	return string(d.take(uint64(n), field))
}

// done fails with ErrTrailing if bytes are left.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("end", ErrTrailing)
	}
	return d.err
}

func appendStr8(b []byte, s string) []byte {
	if len(s) > math.MaxUint8 {
		s = s[:math.MaxUint8]
	}
	return append(append(b, uint8(len(s))), s...)
}

func appendStr16(b []byte, s string) []byte {
	if len(s) > math.MaxUint16 {
		s = s[:math.MaxUint16]
	}
	return append(binary.BigEndian.AppendUint16(b, uint16(len(s))), s...)
}

// str8Len and str16Len return what appendStr8 and appendStr16 append for s, truncation
// included: PayloadLen must match AppendPayload byte for byte, or the header's length is wrong.
func str8Len(s string) int { return 1 + min(len(s), math.MaxUint8) }

func str16Len(s string) int { return 2 + min(len(s), math.MaxUint16) }
