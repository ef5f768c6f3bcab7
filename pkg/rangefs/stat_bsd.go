//go:build darwin || freebsd || netbsd

package rangefs

import (
	"io/fs"
	"syscall"
)

// fileIDOf returns the inode and the inode change time (st_ctimespec); see stat_linux.go.
func fileIDOf(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{ino: uint64(st.Ino), ctime: st.Ctimespec.Nano(), unlinked: st.Nlink == 0} //nolint:unconvert // types vary by platform
	}
	return fileID{}
}
