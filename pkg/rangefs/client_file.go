package rangefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"github.com/rangecast/rangecast/pkg/wire"
)

// File is an open remote file. ReadAt is safe for concurrent use; Read and Seek share a
// position and must not be called concurrently with each other. Every read carries the ETag
// seen at Open, so a file that changes afterwards fails with ErrChanged instead of returning
// bytes from two versions.
type File struct {
	c      *Client
	path   string
	info   *FileInfo
	handle uint32 // 0 for a Clone: its READs name the path

	mu     sync.Mutex // guards pos, seq, closed
	pos    int64
	seq    *seqReader
	closed bool
}

// Name returns the path the file was opened with.
func (f *File) Name() string { return f.path }

// Stat returns the metadata seen at Open.
func (f *File) Stat() (fs.FileInfo, error) { return f.info, nil }

// Info returns the metadata seen at Open, with ETag and MIME type.
func (f *File) Info() *FileInfo { return f.info }

// Size returns the size seen at Open.
func (f *File) Size() int64 { return f.info.size }

var errFileClosed = fmt.Errorf("rangefs: %w", fs.ErrClosed)

// Clone returns another File on the same file, with a position and a read-ahead of its own
// (a second sequential reader: a media element's range request), without a round trip: its
// READs name the path, with the ETag seen at Open, instead of a handle. So it reads the same
// version or fails with ErrChanged, like f; unlike f it does not keep a file replaced by
// rename readable. It holds nothing on the server; Close it to stop its read-ahead.
func (f *File) Clone() *File {
	return &File{c: f.c, path: f.path, info: f.info}
}

// Close releases the server's handle and stops any read-ahead.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errFileClosed
	}
	f.closed = true
	if f.seq != nil {
		f.seq.stop()
		f.seq = nil
	}
	select {
	case <-f.c.done:
		return nil
	default:
	}
	if f.handle == 0 {
		return nil // a Clone
	}
	if err := f.c.fr.writeFrame(0, &wire.Close{Handle: f.handle}); err != nil {
		return f.c.sessionErr(err)
	}
	return nil
}

func (f *File) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// ReadAt reads len(p) bytes at off, as io.ReaderAt: a short read returns io.EOF.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	return f.ReadAtContext(context.Background(), p, off)
}

// ReadAtContext is ReadAt with a context: when ctx ends the request is canceled on the server
// and the bytes read so far are returned with ctx's error.
func (f *File) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	return f.ReadAtProgress(ctx, p, off, nil)
}

// ReadAtProgress is ReadAtContext that calls progress, if not nil, with the number of bytes
// of p filled so far each time more of them arrive (the bytes come in order), before it
// returns: a caller can hand on the start of p while the rest is still on its way, so that
// one request for a large range costs a reader that needs only its first bytes no more than
// a request for those bytes alone. progress runs on the calling goroutine; p[:n] is not
// written again after progress(n).
func (f *File) ReadAtProgress(ctx context.Context, p []byte, off int64, progress func(n int)) (int, error) {
	if f.isClosed() {
		return 0, errFileClosed
	}
	if off < 0 {
		return 0, &StatusError{Op: "read", Path: f.path, Status: wire.StatusRangeInvalid, Message: "negative offset"}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off >= f.info.size {
		return 0, io.EOF
	}
	s, err := f.startRead(ctx, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	n := 0
	for n < len(p) {
		it, end, err := s.next(ctx)
		if err != nil {
			s.abandon()
			return n, err
		}
		if end != nil {
			if err := f.endErr(end); err != nil {
				return n, err
			}
			break
		}
		d, ok := it.f.(*wire.Data)
		if !ok || d.Offset != uint64(off)+uint64(n) || len(d.Bytes) > len(p)-n {
			s.abandon()
			return n, f.c.protocolFailure(it.f)
		}
		n += copy(p[n:], d.Bytes)
		s.consume(it, int64(len(d.Bytes)))
		if progress != nil {
			progress(n)
		}
	}
	if n == len(p) {
		// END follows the last byte; the read loop frees the stream when it arrives.
		s.release()
		return n, nil
	}
	return n, io.EOF
}

func (f *File) startRead(ctx context.Context, off, length int64) (*cstream, error) {
	return f.c.request(ctx, f.readFrame(off, length))
}

// readFrame is the READ of length bytes at off: by handle, or by path for a Clone, with the
// ETag seen at Open.
func (f *File) readFrame(off, length int64) *wire.Read {
	r := &wire.Read{Handle: f.handle, Offset: uint64(off), Length: uint64(length), IfMatch: f.info.etag}
	if f.handle == 0 {
		r.Path = f.path
	}
	return r
}

func (f *File) endErr(end *wire.End) error {
	if end.Status == wire.StatusOK {
		return nil
	}
	return &StatusError{Op: "read", Path: f.path, Status: end.Status, Message: end.Message}
}

// protocolFailure ends the session because the server sent a frame out of place.
func (c *Client) protocolFailure(fr wire.Frame) error {
	var t wire.Type
	if fr != nil {
		t = fr.Type()
	}
	err := &ProtocolError{Code: wire.CodeProtocol, Frame: t, Message: "frame out of order in READ answer"}
	c.fail(err)
	return err
}

// Read reads from the current position. Sequential reads share one READ stream to the end of
// the file, so the server keeps a window of data (ClientOptions.StreamWindow) in flight ahead
// of the reader.
func (f *File) Read(p []byte) (int, error) {
	return f.ReadContext(context.Background(), p)
}

// ReadContext is Read with a context.
func (f *File) ReadContext(ctx context.Context, p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, errFileClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.pos >= f.info.size {
		return 0, io.EOF
	}
	if f.seq != nil && !f.seq.canReach(f.pos, int64(f.c.opts.StreamWindow)) {
		f.seq.stop()
		f.seq = nil
	}
	if f.seq == nil {
		s, err := f.startRead(ctx, f.pos, f.info.size-f.pos)
		if err != nil {
			return 0, err
		}
		f.seq = &seqReader{f: f, s: s, next: f.pos}
		f.c.mu.Lock()
		s.readAhead = f.seq // the session may reclaim it while this File is not being read
		f.c.mu.Unlock()
	}
	n, err := f.seq.read(ctx, p, f.pos)
	f.pos += int64(n)
	if err != nil {
		f.seq.stop()
		f.seq = nil
		if err == io.EOF && n > 0 {
			err = nil
		}
	}
	return n, err
}

// Buffered returns how many bytes from the current position have arrived and not been read:
// a Read of up to that many returns them without waiting for the network. A consumer that pays
// per Read (a browser stream's chunk) can take everything that arrived in one.
func (f *File) Buffered() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.seq
	if f.closed || r == nil || f.pos != r.next {
		return 0
	}
	n := int64(len(r.rest))
	if !r.done {
		f.c.mu.Lock()
		n += r.s.buffered // the frames queued, and the one being read until it is consumed
		f.c.mu.Unlock()
		if d, ok := r.cur.f.(*wire.Data); ok {
			n -= int64(len(d.Bytes))
		}
	}
	return n
}

// Seek sets the position for the next Read, as io.Seeker. A seek forward within the data
// already in flight keeps the read-ahead stream; any other seek restarts it on the next Read.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, errFileClosed
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = f.pos + offset
	case io.SeekEnd:
		abs = f.info.size + offset
	default:
		return f.pos, fmt.Errorf("rangefs: seek: invalid whence %d", whence)
	}
	if abs < 0 {
		return f.pos, errors.New("rangefs: seek: negative position")
	}
	f.pos = abs
	return abs, nil
}

// seqReader is the read-ahead stream behind Read.
type seqReader struct {
	f    *File
	s    *cstream
	next int64 // file offset of the next byte the stream will give
	cur  item  // the DATA being consumed
	rest []byte
	done bool // END seen
}

// canReach reports whether the stream will reach pos without skipping more than limit bytes.
func (r *seqReader) canReach(pos, limit int64) bool {
	return !r.done && pos >= r.next && pos-r.next <= limit
}

func (r *seqReader) read(ctx context.Context, p []byte, pos int64) (int, error) {
	for {
		if len(r.rest) > 0 {
			if skip := pos - r.next; skip > 0 {
				k := min(skip, int64(len(r.rest)))
				r.rest = r.rest[k:]
				r.next += k
				r.release()
				continue
			}
			n := copy(p, r.rest)
			r.rest = r.rest[n:]
			r.next += int64(n)
			r.release()
			return n, nil
		}
		if r.done {
			return 0, io.EOF
		}
		it, end, err := r.s.next(ctx)
		if err != nil {
			return 0, err
		}
		if end != nil {
			r.done = true
			if err := r.f.endErr(end); err != nil {
				return 0, err
			}
			continue
		}
		d, ok := it.f.(*wire.Data)
		if !ok || d.Offset != uint64(r.next) {
			r.s.abandon()
			r.done = true
			return 0, r.f.c.protocolFailure(it.f)
		}
		r.cur, r.rest = it, d.Bytes
	}
}

// release credits the current DATA back once it is fully consumed.
func (r *seqReader) release() {
	if len(r.rest) == 0 && r.cur.f != nil {
		r.s.consume(r.cur, int64(len(r.cur.f.(*wire.Data).Bytes)))
		r.cur = item{}
	}
}

// stop abandons the stream and credits back whatever it holds.
func (r *seqReader) stop() {
	if r.cur.f != nil {
		r.s.consume(r.cur, int64(len(r.cur.f.(*wire.Data).Bytes)))
		r.cur, r.rest = item{}, nil
	}
	if !r.done {
		r.s.abandon()
		r.done = true
	}
}
