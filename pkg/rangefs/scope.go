package rangefs

import (
	"context"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/rangecast/rangecast/pkg/wire"
)

// SessionOptions narrows one session (a share link's, pkg/share): what it may see, when it
// ends, and what it did. The zero value is the whole root.
type SessionOptions struct {
	// Scope is the one path the session may use: a file (only that path) or a directory
	// (it and everything under it); "" or "." is the whole root. Paths stay relative to the
	// server's root; any other is refused with wire.StatusForbidden. A directory scope is
	// served through an os.Root opened at it, a file scope through one opened at its parent,
	// so that no symbolic link leads out of it.
	Scope string
	// Revoked, when closed, ends the session at once with ERROR REVOKED.
	Revoked <-chan struct{}
	// Expires, if not zero, ends the session at that time with ERROR EXPIRED.
	Expires time.Time
	// OnAccess, if set, hears each path the session opens, reads by path or lists (op is
	// "open", "read" or "list"), once it succeeded.
	OnAccess func(op, name string)
	// OnRead, if set, is told of the file bytes sent, one DATA frame at a time.
	OnRead func(n int64)
}

// ServeSession is ServeTransport with the session narrowed by opts.
func (s *Server) ServeSession(ctx context.Context, t Transport, opts SessionOptions) error {
	ss := newServerSession(s, t)
	ss.sopts = opts
	sc, err := s.openScope(opts.Scope)
	if err != nil {
		_ = t.Close()
		return err
	}
	ss.scope = sc
	if sc != nil && sc.root != nil {
		defer sc.root.Close()
	}
	return ss.run(ctx)
}

// scope is a session's narrowed view of the root.
type scope struct {
	prefix string   // the scope's path under the server's root
	file   bool     // a single file: only prefix itself
	root   *os.Root // opened at prefix (directory) or its parent (file); nil if it is gone
}

// openScope resolves name at the session's start. A scope that does not exist (any more)
// makes a session that finds nothing.
func (s *Server) openScope(name string) (*scope, error) {
	name = strings.Trim(name, "/")
	if name == "" || name == "." {
		return nil, nil
	}
	if err := CheckPath("scope", name); err != nil {
		return nil, fmt.Errorf("rangefs: scope: %w", err)
	}
	sc := &scope{prefix: name}
	fi, err := s.root.Stat(name)
	if err != nil {
		return sc, nil
	}
	if fi.IsDir() {
		sc.root, _ = s.root.OpenRoot(name)
		return sc, nil
	}
	sc.file = true
	sc.root, _ = s.root.OpenRoot(path.Dir(name))
	return sc, nil
}

// errOutOfScope refuses a path outside the session's scope.
func errOutOfScope(op, name string) error {
	return &StatusError{Op: op, Path: name, Status: wire.StatusForbidden, Message: "outside the link's scope"}
}

// resolve checks name and maps it onto the root it is opened through and its name there.
func (ss *serverSession) resolve(op, name string) (*os.Root, string, error) {
	if err := CheckPath(op, name); err != nil {
		return nil, "", err
	}
	sc := ss.scope
	if sc == nil {
		return ss.srv.root, name, nil
	}
	rel := ""
	switch {
	case name == sc.prefix && sc.file:
		rel = path.Base(name)
	case name == sc.prefix:
		rel = "."
	case !sc.file && strings.HasPrefix(name, sc.prefix+"/"):
		rel = name[len(sc.prefix)+1:]
	default:
		return nil, "", errOutOfScope(op, name)
	}
	if sc.root == nil {
		return nil, "", &StatusError{Op: op, Path: name, Status: wire.StatusNotFound, Message: "the link's scope no longer exists"}
	}
	return sc.root, rel, nil
}

func (ss *serverSession) accessed(op, name string) {
	if ss.sopts.OnAccess != nil {
		ss.sopts.OnAccess(op, name)
	}
}
