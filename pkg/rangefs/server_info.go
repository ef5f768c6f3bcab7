package rangefs

import (
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/rangecast/rangecast/pkg/wire"
)

// fileID is what the platform tells of a file's identity beyond size and mtime (see
// fileIDOf); its zero value means it tells nothing.
type fileID struct {
	ino      uint64
	ctime    int64 // inode change time in nanoseconds
	unlinked bool  // no name left: it was deleted or replaced by a rename
}

// etagOf derives a file's ETag from what changes when its content may have: inode, size,
// modification time and change time (ctime), in nanoseconds. A rewrite in place changes mtime
// and ctime (and usually size); a replacement by rename changes the inode; an edit whose mtime
// is set back afterwards (touch -d, rsync --times) still changes ctime, which no system call
// can set back.
//
// The traps: timestamps have the kernel's granularity (a jiffy, 1-4 ms, for file systems that
// use the coarse clock, unless the kernel has multigrain timestamps), so two writes within one
// tick that keep the size are indistinguishable; only hashing the content would tell them
// apart (docs/PROTOCOL.md, INFO, says why the daemon does not). And ctime also moves on chmod,
// chown, link and unlink, which change no byte: etagMatches forgives the unlink, the others
// cost a spurious ErrChanged, never mixed bytes.
func etagOf(fi fs.FileInfo) string {
	return string(appendETag(nil, fi, true))
}

// appendETag appends fi's ETag, or only the part before its ctime (without the closing quote)
// if whole is false.
func appendETag(b []byte, fi fs.FileInfo, whole bool) []byte {
	id := fileIDOf(fi)
	b = append(b, '"')
	b = strconv.AppendUint(b, id.ino, 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.Size(), 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.ModTime().UnixNano(), 36)
	b = append(b, '-')
	if !whole {
		return b
	}
	b = strconv.AppendInt(b, id.ctime, 36)
	return append(b, '"')
}

// etagMatches reports whether fi, a fresh fstat of an open file, is still the version whose
// ETag is want. The one difference it forgives is ctime on a file that has no name left:
// replacing a file by rename (how editors and rsync save) or deleting it moves the old inode's
// ctime, but the open handle still reads the old bytes, unchanged — and a file without a name
// can only be written through a descriptor opened before.
func etagMatches(want string, fi fs.FileInfo) bool {
	if etagOf(fi) == want {
		return true
	}
	if !fileIDOf(fi).unlinked {
		return false
	}
	prefix := appendETag(make([]byte, 0, 64), fi, false)
	return strings.HasPrefix(want, string(prefix)) && !strings.Contains(want[len(prefix):], "-")
}

// mimeOf guesses a media type from the file name, as an HTTP server would.
func mimeOf(name string, mode fs.FileMode) string {
	if mode.IsDir() {
		return ""
	}
	if t := typeByExtension(path.Ext(name)); t != "" && len(t) <= wire.MaxETag {
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
