package rangefs

import (
	"io/fs"
	"os"

	"github.com/rangecast/rangecast/pkg/wire"
)

// serveStat answers STAT with INFO. Symbolic links are followed within the root.
func (ss *serverSession) serveStat(st *sstream, f *wire.Stat) error {
	root, name, err := ss.resolve("stat", f.Path)
	if err != nil {
		return err
	}
	fi, err := root.Stat(name)
	if err != nil {
		return err
	}
	if err := ss.fr.writeFrame(st.id, infoFrame(f.Path, fi, 0)); err != nil {
		return errWriteFailed
	}
	return nil
}

// openRegular opens name for reading and makes sure it is a regular file. The open cannot
// hang on a FIFO (see openFlags).
func (ss *serverSession) openRegular(full string) (*os.File, fs.FileInfo, error) {
	root, name, err := ss.resolve("open", full)
	if err != nil {
		return nil, nil, err
	}
	// Look before opening: open(2) of a socket fails with ENXIO, and opening a device can
	// have side effects. The check after opening stays, for what changes in between.
	if fi, err := root.Stat(name); err != nil {
		return nil, nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, nil, notRegular(fi.Mode())
	}
	f, err := root.OpenFile(name, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, nil, notRegular(fi.Mode())
	}
	return f, fi, nil
}

// notRegular refuses to open or read a file of mode m, saying what it is instead.
func notRegular(m fs.FileMode) error {
	what := "not a regular file"
	switch {
	case m.IsDir():
		what = "a directory, not a file"
	case m&fs.ModeNamedPipe != 0:
		what = "a FIFO, not a regular file"
	case m&fs.ModeSocket != 0:
		what = "a socket, not a regular file"
	case m&fs.ModeDevice != 0:
		what = "a device, not a regular file"
	}
	return statusErrorf(wire.StatusNotRegular, "%s", what)
}

// serveOpen answers OPEN with INFO carrying a new handle.
func (ss *serverSession) serveOpen(st *sstream, req *wire.Open) error {
	if err := CheckPath("open", req.Path); err != nil {
		return err
	}
	if err := ss.takeFD(); err != nil {
		return err
	}
	f, fi, err := ss.openRegular(req.Path)
	if err != nil {
		ss.giveFD()
		return err
	}
	ss.mu.Lock()
	if len(ss.handles) >= ss.opts.MaxHandles {
		ss.mu.Unlock()
		_ = f.Close()
		ss.giveFD()
		return statusErrorf(wire.StatusTooManyHandles, "at most %d open files per session", ss.opts.MaxHandles)
	}
	for {
		ss.nextHandle++
		if ss.nextHandle != 0 && ss.handles[ss.nextHandle] == nil {
			break
		}
	}
	id := ss.nextHandle
	ss.handles[id] = &handle{f: f, name: req.Path, refs: 1}
	ss.mu.Unlock()
	ss.accessed("open", req.Path)
	if err := ss.fr.writeFrame(st.id, infoFrame(req.Path, fi, id)); err != nil {
		// The client never learns the handle; the session is failing anyway and closes it.
		return errWriteFailed
	}
	return nil
}
