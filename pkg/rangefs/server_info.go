package rangefs

import (
	"errors"
	"io/fs"
	"mime"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/rangecast/rangecast/pkg/wire"
)

// etagOf derives a file's ETag from what changes when its content may have: inode, size and
// modification time in nanoseconds. A rewrite in place changes mtime (and usually size); a
// replacement by rename changes the inode.
//
// The trap: mtime has the kernel's timestamp granularity (a few ms on Linux for some file
// systems), so two writes within one tick that keep the size are indistinguishable. No
// cheaper signal exists without hashing the file.
func etagOf(fi fs.FileInfo) string {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = uint64(st.Ino)
	}
	b := make([]byte, 0, 48)
	b = append(b, '"')
	b = strconv.AppendUint(b, ino, 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.Size(), 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.ModTime().UnixNano(), 36)
	return string(append(b, '"'))
}

// mimeOf guesses a media type from the file name, as an HTTP server would.
func mimeOf(name string, mode fs.FileMode) string {
	if mode.IsDir() {
		return ""
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" && len(t) <= wire.MaxETag {
		return t
	}
	return "application/octet-stream"
}

func infoFrame(name string, fi fs.FileInfo, handle uint32) *wire.Info {
	inf := &wire.Info{
		Handle:  handle,
		ModTime: fi.ModTime().UnixNano(),
		Mode:    uint32(fi.Mode()),
		Name:    path.Base(name),
		MIME:    mimeOf(name, fi.Mode()),
	}
	if fi.Mode().IsRegular() {
		inf.Size = uint64(fi.Size())
		inf.ETag = etagOf(fi)
	}
	if name == "." {
		inf.Name = "."
	}
	return inf
}

// statusOf maps a file system error to the status the client sees and a message that does not
// leak the server's absolute paths.
func statusOf(err error) (wire.Status, string) {
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
