package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/signal"
	"github.com/rangecast/rangecast/pkg/wire"
)

// The stable error codes a rejection's Error carries in its code property. web/api.d.ts lists
// them as the ErrorCode union: change both together.
const (
	codeBadLink      = "bad_link"       // the link is not http(s)://host/#t=TOKEN
	codeUnauthorized = "unauthorized"   // the daemon refused the token
	codeTooManyPeers = "too_many_peers" // the daemon is at its peer limit (or shutting down)
	codeUnreachable  = "unreachable"    // fetch failed, no rangecast daemon answers, or ICE failed
	codeSetupTimeout = "setup_timeout"  // connection setup took longer than the timeout
	codeNotFound     = "not_found"
	codeForbidden    = "forbidden"
	codeInvalidPath  = "invalid_path"
	codeNotRegular   = "not_regular"   // open/read of a directory or special file
	codeNotDirectory = "not_directory" // list of something that is not a directory
	codeChanged      = "changed"       // the file's ETag no longer matches
	codeRange        = "range"         // offset beyond the end of the file
	codeCanceled     = "canceled"      // an AbortSignal fired or a stream was canceled
	codeClosed       = "closed"        // the session (or file) is closed: daemon gone or closed
	codeGoingAway    = "going_away"    // the daemon is shutting down
	codeProtocol     = "protocol"      // the daemon broke the protocol
	codeBadArgument  = "bad_argument"  // wrong JavaScript argument count or type
	codeInternal     = "internal"      // a bug: a panic, or an error nothing above explains
)

// codedError is an error whose code is decided where it happens.
type codedError struct {
	code string
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// withCode gives err the code unless it already has one.
func withCode(code string, err error) error {
	var ce *codedError
	if errors.As(err, &ce) {
		return err
	}
	return &codedError{code: code, err: err}
}

// codeErrorf makes a new error with a code.
func codeErrorf(code, format string, args ...any) error {
	return &codedError{code: code, err: fmt.Errorf("rangecast: "+format, args...)}
}

// badArgf reports a wrong argument.
func badArgf(format string, args ...any) error { return codeErrorf(codeBadArgument, format, args...) }

// errorCode maps a Go error onto a stable code. The order matters: a ProtocolError and a
// ClosedError after GOAWAY both match rangefs.ErrClosed, and are told apart first.
func errorCode(err error) string {
	var (
		ce *codedError
		se *rangefs.StatusError
		pe *rangefs.ProtocolError
		ae *signal.APIError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, signal.ErrBadLink):
		return codeBadLink
	case errors.Is(err, signal.ErrUnauthorized):
		return codeUnauthorized
	case errors.Is(err, signal.ErrTooManyPeers):
		return codeTooManyPeers
	case errors.Is(err, signal.ErrSetupTimeout):
		return codeSetupTimeout
	case errors.As(err, &se):
		return statusCode(se.Status)
	case errors.Is(err, rangefs.ErrInvalidPath):
		return codeInvalidPath
	case errors.Is(err, rangefs.ErrChanged):
		return codeChanged
	case errors.Is(err, context.Canceled):
		return codeCanceled
	case errors.Is(err, rangefs.ErrGoingAway):
		return codeGoingAway
	case errors.As(err, &pe):
		return codeProtocol
	case errors.Is(err, rangefs.ErrClosed), errors.Is(err, peer.ErrClosed), errors.Is(err, fs.ErrClosed):
		return codeClosed
	case errors.As(err, &ae):
		switch {
		case ae.Code == signal.CodeTimeout:
			return codeSetupTimeout
		case strings.HasPrefix(ae.Code, "http_"):
			// Something answered that is not a rangecast daemon.
			return codeUnreachable
		}
		return codeProtocol
	}
	return codeInternal
}

// statusCode maps a request's status onto a code.
func statusCode(s wire.Status) string {
	switch s {
	case wire.StatusNotFound:
		return codeNotFound
	case wire.StatusForbidden:
		return codeForbidden
	case wire.StatusInvalidPath:
		return codeInvalidPath
	case wire.StatusNotRegular:
		return codeNotRegular
	case wire.StatusNotDirectory:
		return codeNotDirectory
	case wire.StatusPreconditionFailed:
		return codeChanged
	case wire.StatusRangeInvalid:
		return codeRange
	case wire.StatusCanceled:
		return codeCanceled
	case wire.StatusGoingAway:
		return codeGoingAway
	case wire.StatusBadRequest, wire.StatusTooLarge:
		return codeBadArgument
	}
	// StatusIO, StatusTooManyStreams/Handles, StatusBadHandle: nothing the caller can fix.
	return codeInternal
}

// connectCode maps a failure to connect. What the signaling client cannot name — fetch
// rejected (the browser says only "TypeError: Failed to fetch"), an answer that is not JSON,
// ICE failing, the connection closing during setup — means that no rangecast daemon is
// reachable at the link's address.
func connectCode(err error) string {
	switch c := errorCode(err); c {
	case codeInternal, codeClosed:
		var ce *codedError
		if errors.As(err, &ce) {
			return c // decided on purpose (a panic, say): keep it
		}
		return codeUnreachable
	default:
		return c
	}
}
