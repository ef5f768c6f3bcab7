// Package wire defines rangecast's frames: the fixed header, every frame type, and their
// append-style encoders and bounds-checked decoders.
//
// A frame is a 10-byte big-endian header (type, flags, stream id, payload length) followed by
// the payload. On a message transport such as a WebRTC DataChannel each message carries exactly
// one frame. docs/PROTOCOL.md gives the byte layout of every frame; this package is its only
// implementation.
//
// Decoders never panic and never allocate more than the input justifies: every declared length
// is compared with what is left before slicing, offset+length sums are checked for overflow,
// and counts are capped before a slice is made. Failures are *ParseError values wrapping one of
// the sentinel errors (ErrTruncated, ErrTooLarge, ErrOverflow, ErrTrailing, ErrInvalid).
//
// The package uses the standard library only and builds for every GOOS, including js/wasm.
package wire
