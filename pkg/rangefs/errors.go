package rangefs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/rangecast/rangecast/pkg/wire"
)

// Sentinel errors. StatusError and ProtocolError values match them with errors.Is where
// their meaning is the same.
var (
	// ErrChanged means the file changed since it was opened: its ETag no longer matches.
	// Bytes read before the change stay valid; nothing after it is mixed in.
	ErrChanged = errors.New("rangefs: file changed while being read")
	// ErrClosed means the session is closed; it wraps io.EOF.
	ErrClosed = fmt.Errorf("rangefs: session closed: %w", io.EOF)
	// ErrGoingAway means the server is shutting down and takes no new requests.
	ErrGoingAway = errors.New("rangefs: server is going away")
	// ErrReleased is DirectRead.Wait's answer when the session took the read back to make
	// room for another (its consumer was not waiting): a new DirectRead goes on from there.
	ErrReleased = errors.New("rangefs: direct read released to make room")
	// ErrInvalidPath means a path is not a valid slash-separated path below the root.
	ErrInvalidPath = errors.New("rangefs: invalid path")
)

// StatusError is a request that ended with a status other than wire.StatusOK. It ends one
// request; the session stays usable. The client returns it for an END that is not OK; the
// server returns it from the code serving a request, and its Status and Message become the
// END it sends.
type StatusError struct {
	Op      string // "stat", "open", "list", "read"; empty inside the server
	Path    string
	Status  wire.Status
	Message string // the server's explanation, may be empty
}

// Error returns the operation, the path and the status, with the server's message if it
// adds anything.
func (e *StatusError) Error() string {
	msg := e.Status.String()
	if e.Message != "" && e.Message != msg {
		msg += ": " + e.Message
	}
	if e.Op == "" {
		return "rangefs: " + msg
	}
	return fmt.Sprintf("rangefs: %s %q: %s", e.Op, e.Path, msg)
}

// Is maps statuses onto the io/fs and rangefs sentinels: fs.ErrNotExist, fs.ErrPermission,
// fs.ErrInvalid, ErrInvalidPath, ErrChanged, ErrGoingAway.
func (e *StatusError) Is(target error) bool {
	switch e.Status {
	case wire.StatusNotFound:
		return target == fs.ErrNotExist
	case wire.StatusForbidden:
		return target == fs.ErrPermission
	case wire.StatusInvalidPath:
		return target == fs.ErrInvalid || target == ErrInvalidPath
	case wire.StatusPreconditionFailed:
		return target == ErrChanged
	case wire.StatusGoingAway:
		return target == ErrGoingAway
	case wire.StatusBadRequest, wire.StatusTooLarge, wire.StatusRangeInvalid:
		return target == fs.ErrInvalid
	}
	return false
}

// ProtocolError ends a whole session: a peer broke the protocol, hit a session limit, or
// sent ERROR. Remote says which side detected it.
type ProtocolError struct {
	Code    wire.ErrorCode
	Frame   wire.Type // the frame that caused it, 0 if none
	Message string
	Remote  bool // true if the peer sent this in an ERROR frame
}

// Error says which side detected the failure, its code, the frame, and the message.
func (e *ProtocolError) Error() string {
	who := "local"
	if e.Remote {
		who = "remote"
	}
	s := fmt.Sprintf("rangefs: %s %v", who, e.Code)
	if e.Frame != 0 {
		s += fmt.Sprintf(" on %v frame", e.Frame)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is reports ErrClosed for every ProtocolError, since the session is over, and ErrGoingAway
// for a shutdown.
func (e *ProtocolError) Is(target error) bool {
	return target == ErrClosed || (target == ErrGoingAway && e.Code == wire.CodeShutdown)
}

// ClosedError is how a session ends when the transport fails or the peer closes it without
// an ERROR frame. It matches ErrClosed (and so io.EOF), and ErrGoingAway if the server had
// sent GOAWAY first.
type ClosedError struct {
	Cause     error // the transport's error
	GoingAway bool  // the server announced its shutdown first
}

// Error says how the session ended and the transport's error.
func (e *ClosedError) Error() string {
	if e.GoingAway {
		return fmt.Sprintf("rangefs: server went away: %v", e.Cause)
	}
	return fmt.Sprintf("rangefs: session closed: %v", e.Cause)
}

// Unwrap returns the transport's error.
func (e *ClosedError) Unwrap() error { return e.Cause }

// Is matches ErrClosed, and ErrGoingAway after GOAWAY.
func (e *ClosedError) Is(target error) bool {
	return target == ErrClosed || (target == ErrGoingAway && e.GoingAway)
}
