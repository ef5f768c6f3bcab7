package rangefs

import (
	"encoding/binary"
	"os"

	"github.com/rangecast/rangecast/pkg/wire"
)

// serveRead answers READ with DATA frames in offset order. Each frame is read from disk
// straight into the outgoing buffer, only once credit for it is granted, and only sent after
// an fstat shows the file's ETag unchanged since the READ began: a file that changes
// mid-read ends the stream with StatusPreconditionFailed, never with mixed bytes.
func (ss *serverSession) serveRead(st *sstream, req *wire.Read) error {
	f, release, err := ss.readTarget(req)
	if err != nil {
		return err
	}
	defer release()

	fi, err := f.Stat()
	if err != nil {
		return err
	}
	etag := etagOf(fi)
	if req.IfMatch != "" && !etagMatches(req.IfMatch, fi) {
		return statusErrorf(wire.StatusPreconditionFailed, "file changed since it was opened")
	}
	size := uint64(fi.Size())
	if req.Offset > size {
		return statusErrorf(wire.StatusRangeInvalid, "offset beyond the end of the file")
	}
	end := min(size, req.Offset+req.Length) // the decoder refused offset+length overflow

	maxChunk := uint64(ss.fr.sendMax - wire.HeaderLen - wire.DataOverhead)
	bp := getFrameBuf(ss.fr.sendMax)
	defer putFrameBuf(bp)
	for off := req.Offset; off < end; {
		n, err := ss.acquire(st, int64(min(end-off, maxChunk)))
		if err != nil {
			return err
		}
		frame := (*bp)[:wire.HeaderLen+wire.DataOverhead+int(n)]
		k, rerr := f.ReadAt(frame[wire.HeaderLen+wire.DataOverhead:], int64(off))
		fi, serr := f.Stat()
		switch {
		case serr == nil && !etagMatches(etag, fi):
			ss.giveBack(n)
			return statusErrorf(wire.StatusPreconditionFailed, "file changed while being read")
		case int64(k) < n || serr != nil:
			ss.giveBack(n)
			if rerr == nil {
				rerr = serr
			}
			ss.log.Debug("read failed", "stream", st.id, "offset", off, "err", rerr)
			return statusErrorf(wire.StatusIO, "read failed")
		}
		wire.AppendHeader(frame[:0], wire.Header{Type: wire.TypeData, Stream: st.id, Length: uint32(wire.DataOverhead + n)})
		binary.BigEndian.PutUint64(frame[wire.HeaderLen:], off)
		if err := ss.fr.writeRaw(frame); err != nil {
			return errWriteFailed
		}
		if ss.sopts.OnRead != nil {
			ss.sopts.OnRead(n)
		}
		off += uint64(n)
	}
	return nil
}

// readTarget resolves a READ to an open file: a handle (referenced until release) or a path
// (opened until release).
func (ss *serverSession) readTarget(req *wire.Read) (*os.File, func(), error) {
	if req.Handle == 0 {
		if err := CheckPath("read", req.Path); err != nil {
			return nil, nil, err
		}
		if err := ss.takeFD(); err != nil {
			return nil, nil, err
		}
		f, _, err := ss.openRegular(req.Path)
		if err != nil {
			ss.giveFD()
			return nil, nil, err
		}
		ss.accessed("read", req.Path)
		return f, func() {
			_ = f.Close()
			ss.giveFD()
		}, nil
	}
	if req.Path != "" {
		return nil, nil, statusErrorf(wire.StatusBadRequest, "READ names both a handle and a path")
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	h := ss.handles[req.Handle]
	if h == nil {
		return nil, nil, statusErrorf(wire.StatusBadHandle, "no such handle")
	}
	h.refs++
	return h.f, func() {
		ss.mu.Lock()
		ss.releaseLocked(h)
		ss.mu.Unlock()
	}, nil
}

// acquire waits until the stream and the session both have credit, and takes up to want
// bytes of it. It fails with errCanceled if the client cancels the stream and with
// errSessionClosing if the session ends while it waits.
func (ss *serverSession) acquire(st *sstream, want int64) (int64, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for {
		switch {
		case ss.closed:
			return 0, errSessionClosing
		case st.canceled:
			return 0, errCanceled
		}
		if avail := min(st.credit, ss.credit); avail > 0 {
			n := min(want, avail)
			st.credit -= n
			ss.credit -= n
			return n, nil
		}
		ss.cond.Wait()
	}
}

// Ends of a READ that waited for credit; their END carries no message, as before.
var (
	errCanceled       = statusErrorf(wire.StatusCanceled, "")
	errSessionClosing = statusErrorf(wire.StatusGoingAway, "")
)

// giveBack returns session credit taken for bytes that were never sent.
func (ss *serverSession) giveBack(n int64) {
	ss.mu.Lock()
	ss.credit += n
	ss.mu.Unlock()
	ss.cond.Broadcast()
}
