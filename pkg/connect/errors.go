package connect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/signaling"
	"github.com/rangecast/rangecast/pkg/wire"
)

// Code is a stable, machine-readable name for what went wrong: the code property of the
// JavaScript API's errors (web/api.d.ts lists them as ErrorCode: change both together), and
// what the native client explains. Match on codes, not on messages.
type Code string

// The codes.
const (
	CodeBadLink      Code = "bad_link"       // the link is not http(s)://host/#t=TOKEN or #s=SHARE
	CodeUnauthorized Code = "unauthorized"   // the daemon refused the token, or a forged or another daemon's share link
	CodeLinkExpired  Code = "link_expired"   // the share link is past its expiry
	CodeLinkRevoked  Code = "link_revoked"   // the share link was revoked (also ends its open sessions)
	CodeTooManyPeers Code = "too_many_peers" // the daemon is at its peer limit
	CodeUnreachable  Code = "unreachable"    // no rangecast daemon answers, or ICE failed
	CodeSetupTimeout Code = "setup_timeout"  // connection setup took longer than the timeout
	CodeNotFound     Code = "not_found"
	CodeForbidden    Code = "forbidden"
	CodeInvalidPath  Code = "invalid_path"
	CodeNotRegular   Code = "not_regular"   // open/read of a directory or special file
	CodeNotDirectory Code = "not_directory" // list of something that is not a directory
	CodeChanged      Code = "changed"       // the file's ETag no longer matches
	CodeRange        Code = "range"         // offset beyond the end of the file
	CodeCanceled     Code = "canceled"      // the caller canceled the request
	CodeClosed       Code = "closed"        // the connection (or file) is closed
	CodeGoingAway    Code = "going_away"    // the daemon is shutting down
	CodeProtocol     Code = "protocol"      // the daemon broke the protocol
	CodeBusy         Code = "busy"          // the daemon is out of a shared resource: retry later
	CodeBadArgument  Code = "bad_argument"  // a wrong argument (the JavaScript bridge's)
	CodeInternal     Code = "internal"      // a bug: a panic, or an error nothing above explains
)

// Error is an error whose code was decided where it happened.
type Error struct {
	Code Code
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf makes a new error with a code.
func Errorf(code Code, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf("rangecast: "+format, args...)}
}

// WithCode gives err the code unless it already carries one.
func WithCode(code Code, err error) error {
	var ce *Error
	if errors.As(err, &ce) {
		return err
	}
	return &Error{Code: code, Err: err}
}

// CodeOf maps an error from any layer onto its code: the one table of them. The order
// matters: a ProtocolError and a ClosedError after GOAWAY both match rangefs.ErrClosed, and
// are told apart first. nil has the empty code.
func CodeOf(err error) Code {
	var (
		ce *Error
		se *rangefs.StatusError
		pe *rangefs.ProtocolError
		ae *signaling.APIError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ce):
		return ce.Code
	case errors.Is(err, signaling.ErrBadLink):
		return CodeBadLink
	case errors.Is(err, signaling.ErrUnauthorized):
		return CodeUnauthorized
	case errors.Is(err, signaling.ErrTooManyPeers):
		return CodeTooManyPeers
	case errors.Is(err, signaling.ErrShuttingDown):
		return CodeGoingAway
	case errors.Is(err, signaling.ErrSetupTimeout):
		return CodeSetupTimeout
	case errors.As(err, &se):
		return statusCode(se.Status)
	case errors.Is(err, rangefs.ErrInvalidPath):
		return CodeInvalidPath
	case errors.Is(err, rangefs.ErrChanged):
		return CodeChanged
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	case errors.As(err, &pe) && pe.Code == wire.CodeRevoked:
		return CodeLinkRevoked
	case errors.As(err, &pe) && pe.Code == wire.CodeExpired:
		return CodeLinkExpired
	case errors.Is(err, rangefs.ErrGoingAway):
		return CodeGoingAway
	case errors.As(err, &pe):
		return CodeProtocol
	case errors.Is(err, rangefs.ErrClosed), errors.Is(err, peer.ErrClosed), errors.Is(err, fs.ErrClosed):
		return CodeClosed
	case errors.As(err, &ae):
		switch {
		case ae.Code == signaling.CodeTimeout:
			return CodeSetupTimeout
		case ae.Code == signaling.CodeDaemonOffline:
			return CodeUnreachable // a relay answered: the daemon is not registered there
		case strings.HasPrefix(ae.Code, "http_"):
			// Something answered that is not a rangecast daemon.
			return CodeUnreachable
		}
		return CodeProtocol
	}
	return CodeInternal
}

// statusCode maps a request's status onto a code.
func statusCode(s wire.Status) Code {
	switch s {
	case wire.StatusNotFound:
		return CodeNotFound
	case wire.StatusForbidden:
		return CodeForbidden
	case wire.StatusInvalidPath:
		return CodeInvalidPath
	case wire.StatusNotRegular:
		return CodeNotRegular
	case wire.StatusNotDirectory:
		return CodeNotDirectory
	case wire.StatusPreconditionFailed:
		return CodeChanged
	case wire.StatusRangeInvalid:
		return CodeRange
	case wire.StatusCanceled:
		return CodeCanceled
	case wire.StatusGoingAway:
		return CodeGoingAway
	case wire.StatusBadRequest, wire.StatusTooLarge:
		return CodeBadArgument
	case wire.StatusTooManyStreams, wire.StatusTooManyHandles:
		return CodeBusy
	}
	// StatusIO, StatusBadHandle: nothing the caller can fix.
	return CodeInternal
}

// DialCodeOf maps a failure to connect. What the signaling client cannot name — a request
// that failed (the browser says only "TypeError: Failed to fetch"), an answer that is not
// JSON, ICE failing, the connection closing during setup — means that no rangecast daemon is
// reachable at the link's address.
func DialCodeOf(err error) Code {
	switch c := CodeOf(err); c {
	case CodeInternal, CodeClosed:
		var ce *Error
		if errors.As(err, &ce) {
			return c // decided on purpose (a panic, say): keep it
		}
		return CodeUnreachable
	default:
		return c
	}
}
