package rangefs

import (
	"io/fs"
	"mime"
	"path"
	"strconv"
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
