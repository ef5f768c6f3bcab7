package rangefs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"

	"github.com/rangecast/rangecast/pkg/wire"
)

// serveStat answers STAT with INFO. Symbolic links are followed within the root.
func (ss *serverSession) serveStat(st *sstream, f *wire.Stat) (wire.Status, string) {
	if err := CheckPath("stat", f.Path); err != nil {
		return wire.StatusInvalidPath, err.(*StatusError).Message
	}
	fi, err := ss.srv.root.Stat(f.Path)
	if err != nil {
		return statusOf(err)
	}
	if err := ss.fr.writeFrame(st.id, infoFrame(f.Path, fi, 0)); err != nil {
		return wire.StatusIO, "write failed"
	}
	return wire.StatusOK, ""
}

// openRegular opens name for reading and makes sure it is a regular file. The open cannot
// hang on a FIFO (see openFlags).
func (ss *serverSession) openRegular(name string) (*os.File, fs.FileInfo, wire.Status, string) {
	if err := CheckPath("open", name); err != nil {
		return nil, nil, wire.StatusInvalidPath, err.(*StatusError).Message
	}
	// Look before opening: open(2) of a socket fails with ENXIO, and opening a device can
	// have side effects. The check after opening stays, for what changes in between.
	if fi, err := ss.srv.root.Stat(name); err != nil {
		s, m := statusOf(err)
		return nil, nil, s, m
	} else if !fi.Mode().IsRegular() {
		return nil, nil, wire.StatusNotRegular, notRegular(fi.Mode())
	}
	f, err := ss.srv.root.OpenFile(name, os.O_RDONLY|openFlags, 0)
	if err != nil {
		s, m := statusOf(err)
		return nil, nil, s, m
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		s, m := statusOf(err)
		return nil, nil, s, m
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, nil, wire.StatusNotRegular, notRegular(fi.Mode())
	}
	return f, fi, wire.StatusOK, ""
}

func notRegular(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory, not a file"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO, not a regular file"
	case m&fs.ModeSocket != 0:
		return "a socket, not a regular file"
	case m&fs.ModeDevice != 0:
		return "a device, not a regular file"
	}
	return "not a regular file"
}

// serveOpen answers OPEN with INFO carrying a new handle.
func (ss *serverSession) serveOpen(st *sstream, req *wire.Open) (wire.Status, string) {
	f, fi, status, msg := ss.openRegular(req.Path)
	if status != wire.StatusOK {
		return status, msg
	}
	ss.mu.Lock()
	if len(ss.handles) >= ss.opts.MaxHandles {
		ss.mu.Unlock()
		_ = f.Close()
		return wire.StatusTooManyHandles, fmt.Sprintf("at most %d open files per session", ss.opts.MaxHandles)
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
	if err := ss.fr.writeFrame(st.id, infoFrame(req.Path, fi, id)); err != nil {
		// The client never learns the handle; the session is failing anyway and closes it.
		return wire.StatusIO, "write failed"
	}
	return wire.StatusOK, ""
}

// serveList answers LIST with one ENTRIES page: names after req.After in byte order, as many
// as fit in a frame and the page limit.
func (ss *serverSession) serveList(st *sstream, req *wire.List) (wire.Status, string) {
	if err := CheckPath("list", req.Path); err != nil {
		return wire.StatusInvalidPath, err.(*StatusError).Message
	}
	if fi, err := ss.srv.root.Stat(req.Path); err != nil {
		return statusOf(err)
	} else if !fi.IsDir() {
		return wire.StatusNotDirectory, "not a directory"
	}
	dir, err := ss.srv.root.OpenFile(req.Path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return statusOf(err)
	}
	fi, err := dir.Stat()
	if err != nil {
		_ = dir.Close()
		return statusOf(err)
	}
	if !fi.IsDir() {
		_ = dir.Close()
		return wire.StatusNotDirectory, "not a directory"
	}
	names, err := dir.Readdirnames(-1)
	_ = dir.Close()
	if err != nil && err != io.EOF {
		return statusOf(err)
	}
	slices.Sort(names)
	start, _ := slices.BinarySearch(names, req.After)
	if start < len(names) && names[start] == req.After && req.After != "" {
		start++
	}
	limit := ss.opts.ListPage
	if req.Limit != 0 {
		limit = min(limit, int(req.Limit))
	}
	budget := ss.fr.sendMax - wire.HeaderLen - wire.EntriesOverhead
	page := &wire.Entries{}
	for i := start; i < len(names); i++ {
		name := names[i]
		if len(name) > wire.MaxName {
			continue // cannot be encoded; Linux never produces one
		}
		e := wire.Entry{Name: name}
		full := path.Join(req.Path, name)
		efi, err := ss.srv.root.Stat(full)
		if err != nil {
			// A dangling symlink, or one leading out of the root: list the link itself.
			efi, err = ss.srv.root.Lstat(full)
		}
		if err == nil {
			e.Mode = uint32(efi.Mode())
			e.ModTime = efi.ModTime().UnixNano()
			if efi.Mode().IsRegular() {
				e.Size = uint64(efi.Size())
			}
		}
		n := wire.EntryLen(&e)
		if len(page.Entries) == limit || n > budget {
			page.More = true
			break
		}
		budget -= n
		page.Entries = append(page.Entries, e)
	}
	if err := ss.fr.writeFrame(st.id, page); err != nil {
		return wire.StatusIO, "write failed"
	}
	return wire.StatusOK, ""
}
