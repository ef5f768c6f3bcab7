//go:build unix && !linux && !darwin && !freebsd && !netbsd

package rangefs

import (
	"io/fs"
	"syscall"
)

// fileIDOf returns the inode only: this package does not name the change time's field on this
// platform, so the ETag misses an edit that keeps the size and restores mtime (see
// stat_linux.go).
func fileIDOf(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{ino: uint64(st.Ino), ctime: 0, unlinked: st.Nlink == 0} //nolint:unconvert // types vary by platform
	}
	return fileID{}
}
