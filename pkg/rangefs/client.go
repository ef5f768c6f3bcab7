package rangefs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rangecast/rangecast/pkg/wire"
)

// ClientOptions tunes a Client. Zero fields take the defaults shown.
type ClientOptions struct {
	MaxFrame      int           // largest frame accepted and announced; DefaultMaxFrame
	StreamWindow  uint32        // credit per stream, the read-ahead of a sequential Read; 4 MiB
	SessionWindow uint32        // credit for all streams together: the memory bound; 16 MiB
	HelloTimeout  time.Duration // how long Dial waits for the server's HELLO; 10 s
}

func (o ClientOptions) withDefaults() ClientOptions {
	if o.MaxFrame <= 0 {
		o.MaxFrame = DefaultMaxFrame
	}
	if o.StreamWindow == 0 {
		o.StreamWindow = 4 << 20
	}
	if o.SessionWindow == 0 {
		o.SessionWindow = 16 << 20
	}
	o.StreamWindow = min(o.StreamWindow, o.SessionWindow)
	if o.HelloTimeout <= 0 {
		o.HelloTimeout = 10 * time.Second
	}
	return o
}

// Client is one session with a Server. Its methods are safe for concurrent use; many
// requests run at once, each on its own stream, up to the server's stream limit (further
// requests wait for a free stream).
type Client struct {
	fr   *framer
	opts ClientOptions
	sem  chan struct{} // one token per concurrent stream the server allows

	mu        sync.Mutex
	streams   map[uint32]*cstream
	nextID    uint32
	session   recvWindow
	goingAway bool
	pings     map[uint64]chan struct{}
	pingSeq   uint64
	creditQ   []creditMsg // CREDIT frames to send once mu is released
	cancelQ   []uint32    // streams to CANCEL once mu is released (read-ahead reclaimed)
	waiters   int         // consumers waiting in cstream.next for DATA
	useSeq    uint64      // orders read-ahead streams by their last use

	creditMu sync.Mutex // serialises flushCredit so that CREDIT frames keep their order

	bytesIn atomic.Int64 // DATA payload bytes received

	done      chan struct{} // closed when the read loop has ended
	err       error         // why the session ended; set before done is closed
	closeOnce sync.Once
}

// Dial runs the HELLO exchange on t and starts the session. The Client owns t from then on:
// Close closes it. If ctx ends before the server's HELLO arrives, t is closed.
func Dial(ctx context.Context, t Transport, opts ClientOptions) (*Client, error) {
	opts = opts.withDefaults()
	c := &Client{
		fr:      newFramer(t, clampFrame(opts.MaxFrame, t)),
		opts:    opts,
		streams: make(map[uint32]*cstream),
		session: newRecvWindow(opts.SessionWindow),
		pings:   make(map[uint64]chan struct{}),
		done:    make(chan struct{}),
	}
	ctx, cancel := context.WithTimeout(ctx, opts.HelloTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = t.Close() })
	buf := getFrameBuf(c.fr.recvMax)
	hello, err := c.fr.handshake(&wire.Hello{
		Version: ProtocolVersion, MaxFrame: uint32(c.fr.recvMax),
		StreamWindow: opts.StreamWindow, SessionWindow: opts.SessionWindow,
	}, *buf)
	if !stop() {
		_ = t.Close()
		return nil, fmt.Errorf("rangefs: dial: %w", context.Cause(ctx))
	}
	if err != nil {
		c.fr.closeWith(err, errorWait, false)
		putFrameBuf(buf)
		return nil, fmt.Errorf("rangefs: dial: %w", err)
	}
	if hello.MaxStreams == 0 {
		_ = t.Close()
		return nil, &ProtocolError{Code: wire.CodeProtocol, Frame: wire.TypeHello, Message: "peer accepts no streams: not a server"}
	}
	c.sem = make(chan struct{}, min(hello.MaxStreams, 1<<16))
	go c.readLoop(buf)
	return c, nil
}

// Close ends the session. Requests in progress fail with ErrClosed.
func (c *Client) Close() error {
	c.fail(ErrClosed)
	<-c.done
	return nil
}

// Done is closed when the session has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the session ended (ErrClosed after Close, a *ProtocolError, or the
// transport's error), or nil while it runs.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// BytesReceived returns the DATA payload bytes received so far, those that DirectRead taps
// took included.
func (c *Client) BytesReceived() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.bytesIn.Load()
	for _, s := range c.streams {
		if s.direct != nil && !s.abandoned {
			n += s.direct.Owed()
		}
	}
	return n
}

// MaxFrame returns the largest frame the server may send on this session.
func (c *Client) MaxFrame() int { return c.fr.recvMax }

// fail records the first error and closes the transport, which ends the read loop. A
// transport failure is recorded as a *ClosedError.
func (c *Client) fail(err error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		if err != ErrClosed && !errors.As(err, new(*ProtocolError)) {
			err = &ClosedError{Cause: err, GoingAway: c.goingAway}
		}
		c.err = err
		c.mu.Unlock()
		c.fr.closeWith(err, errorWait, false)
	})
}

// readLoop dispatches frames to streams. It never waits for a consumer: DATA is queued
// within the credit granted, so the queue is bounded by the session window.
func (c *Client) readLoop(buf *[]byte) {
	defer func() {
		// Queued frames stay with their streams: a stream that got all its DATA and its END
		// before the transport closed (as after GOAWAY) still delivers them.
		putFrameBuf(buf)
		close(c.done)
	}()
	for {
		h, f, err := c.fr.readFrame(*buf)
		if err == nil {
			err = c.dispatch(h, f, &buf)
			c.flushCredit()
		}
		if err != nil {
			c.fail(err)
			return
		}
	}
}

func (c *Client) dispatch(h wire.Header, f wire.Frame, buf **[]byte) error {
	switch f := f.(type) {
	case *wire.Data:
		return c.onData(h.Stream, f, buf)
	case *wire.Info, *wire.Entries:
		return c.deliver(h, item{f: f})
	case *wire.End:
		return c.onEnd(h.Stream, f)
	case *wire.Ping:
		return c.fr.writeFrame(0, &wire.Pong{Data: f.Data})
	case *wire.Pong:
		c.mu.Lock()
		if ch := c.pings[f.Data]; ch != nil {
			delete(c.pings, f.Data)
			close(ch)
		}
		c.mu.Unlock()
		return nil
	case *wire.GoAway:
		c.mu.Lock()
		c.goingAway = true
		c.mu.Unlock()
		return nil
	case *wire.ErrorFrame:
		return &ProtocolError{Code: f.Code, Frame: f.FrameType, Message: f.Message, Remote: true}
	case *wire.Unknown:
		return nil
	}
	return &ProtocolError{Code: wire.CodeProtocol, Frame: h.Type, Message: fmt.Sprintf("unexpected %v frame from server", h.Type)}
}

func (c *Client) onData(id uint32, d *wire.Data, buf **[]byte) error {
	n := int64(len(d.Bytes))
	c.bytesIn.Add(n)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.session.onData(n) {
		return &ProtocolError{Code: wire.CodeFlowControl, Frame: wire.TypeData, Message: "DATA beyond the session credit"}
	}
	s := c.streams[id]
	if s == nil || s.ended {
		return &ProtocolError{Code: wire.CodeProtocol, Frame: wire.TypeData, Message: fmt.Sprintf("DATA on stream %d, which is not open", id)}
	}
	if s.direct != nil && !s.abandoned {
		// Its tap takes every DATA frame that is in order and within credit.
		return &ProtocolError{Code: wire.CodeProtocol, Frame: wire.TypeData, Message: fmt.Sprintf("DATA on direct stream %d out of order or beyond its credit", id)}
	}
	if !s.window.onData(n) {
		return &ProtocolError{Code: wire.CodeFlowControl, Frame: wire.TypeData, Message: fmt.Sprintf("DATA beyond the credit of stream %d", id)}
	}
	if s.abandoned {
		c.queueCreditLocked(0, c.session.consumed(n))
		return nil
	}
	s.queue = append(s.queue, item{f: d, buf: *buf})
	s.buffered += n
	*buf = getFrameBuf(c.fr.recvMax)
	s.signal()
	if c.waiters > 0 && !s.waiting {
		c.reclaimLocked() // idle read-ahead filling up while another consumer waits
	}
	return nil
}

func (c *Client) deliver(h wire.Header, it item) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.streams[h.Stream]
	if s == nil || s.ended {
		return &ProtocolError{Code: wire.CodeProtocol, Frame: h.Type, Message: fmt.Sprintf("%v on stream %d, which is not open", h.Type, h.Stream)}
	}
	if !s.abandoned {
		s.queue = append(s.queue, it)
		s.signal()
	}
	return nil
}

func (c *Client) onEnd(id uint32, e *wire.End) error {
	c.mu.Lock()
	s := c.streams[id]
	if s == nil || s.ended {
		c.mu.Unlock()
		return &ProtocolError{Code: wire.CodeProtocol, Frame: wire.TypeEnd, Message: fmt.Sprintf("END on stream %d, which is not open", id)}
	}
	s.ended, s.end = true, e
	if s.abandoned {
		c.removeLocked(s)
	}
	s.signal()
	c.mu.Unlock()
	c.flushCredit()
	return nil
}

// queueCreditLocked notes a CREDIT to send once c.mu is released: frames are never written
// while holding c.mu, so that a blocked transport write cannot stall the read loop.
func (c *Client) queueCreditLocked(stream uint32, inc uint32) {
	if inc == 0 {
		return
	}
	c.creditQ = append(c.creditQ, creditMsg{stream, inc})
}

// flushCredit sends the queued CANCEL and CREDIT frames.
func (c *Client) flushCredit() {
	c.creditMu.Lock()
	defer c.creditMu.Unlock()
	c.mu.Lock()
	q, cancels := c.creditQ, c.cancelQ
	c.creditQ, c.cancelQ = nil, nil
	c.mu.Unlock()
	for _, id := range cancels {
		if err := c.fr.writeFrame(id, &wire.Cancel{}); err != nil {
			c.fail(err)
			return
		}
	}
	for _, m := range q {
		if err := c.fr.writeFrame(m.stream, &wire.Credit{Increment: m.inc}); err != nil {
			c.fail(err)
			return
		}
	}
}

// removeLocked forgets a stream and frees its slot; its unread DATA is credited back.
func (c *Client) removeLocked(s *cstream) {
	if c.streams[s.id] == s {
		delete(c.streams, s.id)
		<-c.sem
	}
	s.releaseQueueLocked()
}

// request opens a stream and sends req on it.
func (c *Client) request(ctx context.Context, req wire.Frame) (*cstream, error) {
	return c.requestWith(ctx, req, nil)
}

// requestWith is request that calls setup, if not nil, with the new stream under c.mu before
// req is sent.
func (c *Client) requestWith(ctx context.Context, req wire.Frame, setup func(*cstream)) (*cstream, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, c.err
	}
	c.mu.Lock()
	if c.goingAway {
		<-c.sem
		c.mu.Unlock()
		return nil, ErrGoingAway
	}
	for {
		c.nextID++
		if c.nextID != 0 && c.streams[c.nextID] == nil {
			break
		}
	}
	s := &cstream{c: c, id: c.nextID, window: newRecvWindow(c.opts.StreamWindow), notify: make(chan struct{}, 1)}
	c.streams[s.id] = s
	if setup != nil {
		setup(s)
	}
	c.mu.Unlock()
	if err := c.fr.writeFrame(s.id, req); err != nil {
		c.mu.Lock()
		c.removeLocked(s)
		c.mu.Unlock()
		c.fail(err)
		return nil, c.sessionErr(err)
	}
	return s, nil
}

// sessionErr returns the session's error if it has ended, else err.
func (c *Client) sessionErr(err error) error {
	select {
	case <-c.done:
		return c.err
	default:
		return err
	}
}

// Ping measures one round trip to the server.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	ch := make(chan struct{})
	c.mu.Lock()
	c.pingSeq++
	seq := c.pingSeq
	c.pings[seq] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pings, seq)
		c.mu.Unlock()
	}()
	start := time.Now()
	if err := c.fr.writeFrame(0, &wire.Ping{Data: seq}); err != nil {
		return 0, c.sessionErr(err)
	}
	select {
	case <-ch:
		return time.Since(start), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-c.done:
		return 0, c.err
	}
}

// Stat returns the metadata of name. Paths are slash-separated and relative to the served
// root; a leading or trailing slash is ignored.
func (c *Client) Stat(ctx context.Context, name string) (*FileInfo, error) {
	p, err := cleanClientPath("stat", name)
	if err != nil {
		return nil, err
	}
	inf, err := c.infoRequest(ctx, "stat", p, &wire.Stat{Path: p})
	if err != nil {
		return nil, err
	}
	return newFileInfo(inf), nil
}

// infoRequest runs a STAT or OPEN and returns its INFO.
func (c *Client) infoRequest(ctx context.Context, op, p string, req wire.Frame) (*wire.Info, error) {
	s, err := c.request(ctx, req)
	if err != nil {
		return nil, err
	}
	var inf *wire.Info
	for {
		it, end, err := s.next(ctx)
		if err != nil {
			s.abandon()
			return nil, err
		}
		if end != nil {
			if end.Status != wire.StatusOK {
				return nil, &StatusError{Op: op, Path: p, Status: end.Status, Message: end.Message}
			}
			if inf == nil {
				return nil, &ProtocolError{Code: wire.CodeProtocol, Frame: wire.TypeEnd, Message: op + " ended without INFO"}
			}
			return inf, nil
		}
		i, ok := it.f.(*wire.Info)
		if !ok || inf != nil {
			s.abandon()
			err := &ProtocolError{Code: wire.CodeProtocol, Frame: it.f.Type(), Message: "unexpected frame in " + op + " answer"}
			c.fail(err)
			return nil, err
		}
		inf = i
	}
}

// Open opens the regular file name for reading.
func (c *Client) Open(ctx context.Context, name string) (*File, error) {
	p, err := cleanClientPath("open", name)
	if err != nil {
		return nil, err
	}
	inf, err := c.infoRequest(ctx, "open", p, &wire.Open{Path: p})
	if err != nil {
		return nil, err
	}
	return &File{c: c, path: p, info: newFileInfo(inf), handle: inf.Handle}, nil
}

// ListPage returns one page of the directory name: entries whose names sort after after, at
// most limit of them (0: the server's page size), and whether more remain.
func (c *Client) ListPage(ctx context.Context, name, after string, limit int) ([]*FileInfo, bool, error) {
	p, err := cleanClientPath("list", name)
	if err != nil {
		return nil, false, err
	}
	if len(after) > wire.MaxName || limit < 0 || limit > 0xffff {
		return nil, false, &StatusError{Op: "list", Path: p, Status: wire.StatusTooLarge, Message: "after or limit out of range"}
	}
	s, err := c.request(ctx, &wire.List{Path: p, After: after, Limit: uint16(limit)})
	if err != nil {
		return nil, false, err
	}
	var page *wire.Entries
	for {
		it, end, err := s.next(ctx)
		if err != nil {
			s.abandon()
			return nil, false, err
		}
		if end != nil {
			if end.Status != wire.StatusOK {
				return nil, false, &StatusError{Op: "list", Path: p, Status: end.Status, Message: end.Message}
			}
			if page == nil {
				return nil, false, &ProtocolError{Code: wire.CodeProtocol, Frame: wire.TypeEnd, Message: "list ended without ENTRIES"}
			}
			out := make([]*FileInfo, len(page.Entries))
			for i, e := range page.Entries {
				out[i] = entryInfo(e)
			}
			return out, page.More, nil
		}
		e, ok := it.f.(*wire.Entries)
		if !ok || page != nil {
			s.abandon()
			err := &ProtocolError{Code: wire.CodeProtocol, Frame: it.f.Type(), Message: "unexpected frame in list answer"}
			c.fail(err)
			return nil, false, err
		}
		page = e
	}
}

// ReadDir returns every entry of the directory name, sorted by name, fetching page after
// page.
func (c *Client) ReadDir(ctx context.Context, name string) ([]fs.DirEntry, error) {
	var out []fs.DirEntry
	after := ""
	for {
		page, more, err := c.ListPage(ctx, name, after, 0)
		if err != nil {
			return out, err
		}
		for _, fi := range page {
			out = append(out, fs.FileInfoToDirEntry(fi))
		}
		if !more || len(page) == 0 {
			return out, nil
		}
		after = page[len(page)-1].Name()
	}
}
