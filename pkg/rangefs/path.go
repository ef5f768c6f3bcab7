package rangefs

import (
	"io/fs"
	"strings"
	"unicode/utf8"

	"github.com/rangecast/rangecast/pkg/wire"
)

// CheckPath reports whether name is a path the server accepts: the io/fs.ValidPath form
// (slash-separated, relative, no "." or ".." elements, no empty elements; "." is the root),
// valid UTF-8, no NUL byte or backslash, at most wire.MaxPath bytes, and no element longer
// than wire.MaxName. It returns a *StatusError with wire.StatusInvalidPath otherwise.
//
// Backslashes are refused although Linux allows them in names, so that a path means the same
// thing on every platform the daemon runs on.
func CheckPath(op, name string) error {
	bad := func(why string) error {
		return &StatusError{Op: op, Path: name, Status: wire.StatusInvalidPath, Message: why}
	}
	switch {
	case len(name) > wire.MaxPath:
		return bad("path longer than 4096 bytes")
	case !utf8.ValidString(name):
		return bad("path is not valid UTF-8")
	case strings.IndexByte(name, 0) >= 0:
		return bad("path contains a NUL byte")
	case strings.IndexByte(name, '\\') >= 0:
		return bad("path contains a backslash")
	case !fs.ValidPath(name):
		return bad("path must be relative, slash-separated, without . or .. elements")
	}
	for elem := range strings.SplitSeq(name, "/") {
		if len(elem) > wire.MaxName {
			return bad("path element longer than 255 bytes")
		}
	}
	return nil
}

// cleanClientPath turns the forms people type ("/", "/a/b/", "") into the wire form, then
// checks it.
func cleanClientPath(op, name string) (string, error) {
	p := strings.Trim(name, "/")
	if p == "" {
		p = "."
	}
	if err := CheckPath(op, p); err != nil {
		return "", err
	}
	return p, nil
}
