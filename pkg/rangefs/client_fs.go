package rangefs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
)

// FS returns the remote root as an io/fs.FS, so that fs.WalkDir, fs.ReadFile, http.FS and
// io.Copy work on it. Every call uses ctx. Opened files implement io.ReaderAt and io.Seeker;
// directories implement fs.ReadDirFile. Errors are *fs.PathError values whose Err matches
// fs.ErrNotExist, fs.ErrPermission and fs.ErrInvalid as the io/fs contract asks.
func (c *Client) FS(ctx context.Context) fs.FS { return &remoteFS{c: c, ctx: ctx} }

type remoteFS struct {
	c   *Client
	ctx context.Context
}

var (
	_ fs.StatFS    = (*remoteFS)(nil)
	_ fs.ReadDirFS = (*remoteFS)(nil)
)

func pathErr(op, name string, err error) error {
	// StatusError.Is makes fs.ErrNotExist and friends reachable through the PathError.
	if errors.Is(err, ErrInvalidPath) {
		// A name that io/fs accepts but the server refuses (NUL, a backslash) names no file
		// of this file system: it does not exist here, which lets http.FS answer 404, not 500.
		err = &invalidNameError{err}
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// invalidNameError is a refused name in the io/fs view: it matches fs.ErrNotExist as well as
// what it wraps.
type invalidNameError struct{ err error }

func (e *invalidNameError) Error() string        { return e.err.Error() }
func (e *invalidNameError) Unwrap() error        { return e.err }
func (e *invalidNameError) Is(target error) bool { return target == fs.ErrNotExist }

// Open opens name, a file or a directory.
func (r *remoteFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	fi, err := r.c.Stat(r.ctx, name)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	if fi.IsDir() {
		if name == "." {
			fi.name = "."
		}
		return &dirFile{fs: r, name: name, info: fi}, nil
	}
	f, err := r.c.Open(r.ctx, name)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	return &fsFile{File: f, ctx: r.ctx}, nil
}

// Stat returns the metadata of name.
func (r *remoteFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	fi, err := r.c.Stat(r.ctx, name)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	if name == "." {
		fi.name = "."
	}
	return fi, nil
}

// ReadDir returns the entries of the directory name, sorted by name.
func (r *remoteFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	es, err := r.c.ReadDir(r.ctx, name)
	if err != nil {
		return nil, pathErr("readdir", name, err)
	}
	return es, nil
}

// fsFile adapts File to fs.File with the FS's context.
type fsFile struct {
	*File
	ctx context.Context
}

func (f *fsFile) Read(p []byte) (int, error) { return f.File.ReadContext(f.ctx, p) }

func (f *fsFile) ReadAt(p []byte, off int64) (int, error) {
	return f.File.ReadAtContext(f.ctx, p, off)
}

// dirFile is an open remote directory. ReadDir fetches pages lazily.
type dirFile struct {
	fs      *remoteFS
	name    string
	info    *FileInfo
	after   string // last name returned
	pending []fs.DirEntry
	eof     bool
	closed  bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }

func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}

func (d *dirFile) Close() error {
	if d.closed {
		return &fs.PathError{Op: "close", Path: d.name, Err: fs.ErrClosed}
	}
	d.closed = true
	return nil
}

// ReadDir follows the fs.ReadDirFile contract: n > 0 returns at most n entries and io.EOF
// at the end; n <= 0 returns all that remain.
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.closed {
		return nil, &fs.PathError{Op: "readdir", Path: d.name, Err: fs.ErrClosed}
	}
	for !d.eof && (n <= 0 || len(d.pending) < n) {
		page, more, err := d.fs.c.ListPage(d.fs.ctx, d.name, d.after, 0)
		if err != nil {
			return nil, pathErr("readdir", d.name, err)
		}
		for _, fi := range page {
			d.pending = append(d.pending, fs.FileInfoToDirEntry(fi))
		}
		if len(page) > 0 {
			d.after = page[len(page)-1].Name()
		}
		d.eof = !more || len(page) == 0
	}
	if n <= 0 {
		out := d.pending
		d.pending = nil
		return out, nil
	}
	if len(d.pending) == 0 {
		return nil, io.EOF
	}
	k := min(n, len(d.pending))
	out := slices.Clone(d.pending[:k])
	d.pending = d.pending[k:]
	return out, nil
}
