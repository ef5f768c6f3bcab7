//go:build !unix && !js

package rangefs

import "io/fs"

// fileIDOf knows neither inode nor change time on this platform (Windows, Plan 9, WASI): the ETag
// rests on size and mtime alone, and misses a replacement or an edit that keeps both.
func fileIDOf(fs.FileInfo) fileID { return fileID{} }
