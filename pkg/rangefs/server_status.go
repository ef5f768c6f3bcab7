package rangefs

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"

	"github.com/rangecast/rangecast/pkg/wire"
)

// A request the server serves ends with an error: nil for StatusOK, a *StatusError (made by
// statusErrorf, or by CheckPath) for a refusal the server decided on, or the file system's own
// error, which fsStatus maps. statusOf is the one place that turns any of them into what END
// carries.

// errWriteFailed ends a request whose answer could not be written; the session is failing
// anyway, so the END carrying it is rarely delivered.
var errWriteFailed = statusErrorf(wire.StatusIO, "write failed")

// statusErrorf returns a *StatusError ending a request with status and a message formatted as
// by fmt.Sprintf. The message goes to the client: it must not name server paths.
func statusErrorf(status wire.Status, format string, args ...any) error {
	return &StatusError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// statusOf returns the status and message END carries for a request that ended with err.
func statusOf(err error) (wire.Status, string) {
	if err == nil {
		return wire.StatusOK, ""
	}
	if se, ok := errors.AsType[*StatusError](err); ok {
		return se.Status, se.Message
	}
	return fsStatus(err)
}

// endFrame returns the END frame for a request that ended with err.
func endFrame(err error) *wire.End {
	status, msg := statusOf(err)
	return &wire.End{Status: status, Message: msg}
}

// fsStatus maps a file system error to the status the client sees and a message that does not
// leak the server's absolute paths. Errors it does not recognise are StatusIO.
func fsStatus(err error) (wire.Status, string) {
	var errno syscall.Errno
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return wire.StatusNotFound, "no such file or directory"
	case errors.Is(err, fs.ErrPermission):
		return wire.StatusForbidden, "permission denied"
	case errors.As(err, &errno) && errno == syscall.ENOTDIR:
		return wire.StatusNotFound, "a path element is not a directory"
	case errors.As(err, &errno) && errno == syscall.ENAMETOOLONG:
		return wire.StatusInvalidPath, "name too long"
	case errors.As(err, &errno) && errno == syscall.ELOOP:
		return wire.StatusForbidden, "too many levels of symbolic links"
	case strings.Contains(err.Error(), "path escapes from parent"):
		// os.Root's error for ".." and symlinks leading out of the root is unexported
		// (os.errPathEscapes, Go 1.26), so its text is the only handle on it.
		return wire.StatusForbidden, "path escapes the root"
	}
	return wire.StatusIO, "i/o error"
}
