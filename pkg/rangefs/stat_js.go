package rangefs

import (
	"io/fs"
	"syscall"
)

// fileIDOf returns the inode and change time Node's fs.stat reports; see stat_linux.go.
func fileIDOf(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{ino: uint64(st.Ino), ctime: st.Ctime*1e9 + st.CtimeNsec, unlinked: st.Nlink == 0} //nolint:unconvert // types vary by platform
	}
	return fileID{}
}
