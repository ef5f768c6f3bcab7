package wire

import (
	"errors"
	"fmt"
)

// Sentinel decoding errors. Decoders wrap them in a *ParseError naming the frame and field.
var (
	// ErrTruncated means a declared length or fixed field runs past the end of the input.
	ErrTruncated = errors.New("truncated")
	// ErrTooLarge means a declared length exceeds a limit (frame payload, path, count).
	ErrTooLarge = errors.New("too large")
	// ErrOverflow means offset+length does not fit in 64 bits.
	ErrOverflow = errors.New("offset+length overflows")
	// ErrTrailing means a frame's payload has bytes after its last field.
	ErrTrailing = errors.New("trailing bytes")
	// ErrInvalid means a field holds a value this version does not allow.
	ErrInvalid = errors.New("invalid value")
)

// ParseError reports a frame that could not be decoded.
type ParseError struct {
	Type  Type   // the frame type from the header; zero if the header itself failed
	Field string // the field being decoded, e.g. "path"
	Err   error  // one of the sentinel errors above
}

// Error names the frame type, the field and the failure.
func (e *ParseError) Error() string {
	if e.Type == 0 {
		return fmt.Sprintf("wire: %s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("wire: %v frame: %s: %v", e.Type, e.Field, e.Err)
}

// Unwrap returns the sentinel error.
func (e *ParseError) Unwrap() error { return e.Err }

// Code returns the connection error code a receiver sends in ERROR for this failure:
// CodeFrameSize when the header's payload length is above the agreed maximum or, for
// ParseMessage, differs from what the message holds; CodeProtocol for every other failure.
func (e *ParseError) Code() ErrorCode {
	if e.Field == fieldPayloadLength {
		return CodeFrameSize
	}
	return CodeProtocol
}
