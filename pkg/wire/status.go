package wire

import "fmt"

// Status is the outcome of one request stream, carried by END. It ends one stream and leaves
// the session and every other stream alone.
type Status uint16

// Stream statuses.
const (
	StatusOK                 Status = 0  // request done; for READ, every byte in range (to EOF) was sent
	StatusNotFound           Status = 1  // no such file or directory
	StatusForbidden          Status = 2  // the path escapes the root or may not be read
	StatusInvalidPath        Status = 3  // the path is not a valid slash-separated relative path
	StatusNotRegular         Status = 4  // OPEN/READ of a directory, FIFO, device or socket
	StatusNotDirectory       Status = 5  // LIST of something that is not a directory
	StatusPreconditionFailed Status = 6  // If-Match ETag differs: the file changed
	StatusRangeInvalid       Status = 7  // READ offset beyond the end of the file
	StatusTooManyStreams     Status = 8  // the session's stream limit is reached
	StatusTooManyHandles     Status = 9  // the session's handle limit is reached
	StatusBadHandle          Status = 10 // READ names a handle that is not open
	StatusCanceled           Status = 11 // the client sent CANCEL
	StatusTooLarge           Status = 12 // a request field exceeds a limit
	StatusIO                 Status = 13 // the server's read failed
	StatusGoingAway          Status = 14 // the server is shutting down
	StatusBadRequest         Status = 15 // a request that cannot be parsed or is not allowed
)

var statusNames = [...]string{
	"ok", "not found", "forbidden", "invalid path", "not a regular file", "not a directory",
	"precondition failed (file changed)", "range not satisfiable", "too many streams",
	"too many handles", "bad handle", "canceled", "request too large", "i/o error",
	"going away", "bad request",
}

// String returns a short lower-case description of s.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint16(s))
}

// ErrorCode says why a connection ends, carried by ERROR and GOAWAY.
type ErrorCode uint16

// Connection error codes.
const (
	CodeNoError       ErrorCode = 0  // graceful shutdown
	CodeProtocol      ErrorCode = 1  // a frame that is malformed or not allowed in this state
	CodeFrameSize     ErrorCode = 2  // a frame above the agreed maximum
	CodeFlowControl   ErrorCode = 3  // DATA beyond the credit granted
	CodeStreamState   ErrorCode = 4  // a request on a stream id already in use
	CodeVersion       ErrorCode = 5  // no protocol version in common
	CodeInternal      ErrorCode = 6  // the sender hit a bug or resource failure
	CodeShutdown      ErrorCode = 7  // the sender is shutting down
	CodeLimitExceeded ErrorCode = 8  // the peer exceeded a limit that is not per stream
	CodeRevoked       ErrorCode = 9  // the session's share link was revoked
	CodeExpired       ErrorCode = 10 // the session's share link expired
)

var codeNames = [...]string{
	"no error", "protocol error", "frame size error", "flow control error", "stream state error",
	"version mismatch", "internal error", "shutdown", "limit exceeded", "revoked",
	"expired",
}

// String returns a short lower-case description of c.
func (c ErrorCode) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", uint16(c))
}
