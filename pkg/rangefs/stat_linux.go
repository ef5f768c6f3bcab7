package rangefs

import (
	"io/fs"
	"syscall"
)

// fileIDOf returns what identifies a version of a file beyond size and mtime: its inode, its
// inode change time (st_ctim) and whether it is unlinked. Every write, truncate, chmod or
// utimes sets ctime to the current time and no system call sets it back, so an edit that
// restores mtime (touch -d, rsync --times, a tar extract) still moves it.
func fileIDOf(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{ino: st.Ino, ctime: st.Ctim.Nano(), unlinked: st.Nlink == 0} //nolint:unconvert // types vary by platform
	}
	return fileID{}
}
