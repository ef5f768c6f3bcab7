package rangefs

import (
	"io/fs"
	"time"

	"github.com/rangecast/rangecast/pkg/wire"
)

// FileInfo describes a remote file or directory. It implements fs.FileInfo.
type FileInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
	etag    string
	mime    string
}

func newFileInfo(inf *wire.Info) *FileInfo {
	return &FileInfo{
		name: inf.Name, size: int64(min(inf.Size, 1<<63-1)), mode: fs.FileMode(inf.Mode),
		modTime: time.Unix(0, inf.ModTime), etag: inf.ETag, mime: inf.MIME,
	}
}

func entryInfo(e wire.Entry) *FileInfo {
	return &FileInfo{name: e.Name, size: int64(min(e.Size, 1<<63-1)), mode: fs.FileMode(e.Mode), modTime: time.Unix(0, e.ModTime)}
}

// Name returns the base name.
func (fi *FileInfo) Name() string { return fi.name }

// Size returns the length in bytes of a regular file, 0 otherwise.
func (fi *FileInfo) Size() int64 { return fi.size }

// Mode returns the file mode bits.
func (fi *FileInfo) Mode() fs.FileMode { return fi.mode }

// ModTime returns the modification time.
func (fi *FileInfo) ModTime() time.Time { return fi.modTime }

// IsDir reports whether the entry is a directory.
func (fi *FileInfo) IsDir() bool { return fi.mode.IsDir() }

// Sys returns nil.
func (fi *FileInfo) Sys() any { return nil }

// ETag returns the server's opaque version tag ("" for directories and list entries).
func (fi *FileInfo) ETag() string { return fi.etag }

// MIMEType returns the media type the server guessed from the name ("" for directories).
func (fi *FileInfo) MIMEType() string { return fi.mime }
