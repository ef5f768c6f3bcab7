package rangefs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rangecast/rangecast/pkg/wire"
)

// ServerOptions bounds what one session may use. Zero fields take the defaults shown.
type ServerOptions struct {
	MaxFrame   int // largest frame accepted and announced; DefaultServerMaxFrame
	MaxStreams int // concurrent requests per session; 64
	MaxHandles int // open handles per session; 256
	// MaxOpenFiles is the server-wide budget of file descriptors that handles, path READs and
	// directory reads may hold, shared fairly between sessions (see fdbudget.go): a session
	// beyond its share is refused with wire.StatusTooManyHandles. Half the soft RLIMIT_NOFILE.
	MaxOpenFiles int
	ListPage     int    // largest LIST page, in entries; 1000
	MaxWindow    uint32 // largest session window a client may announce or grow to; 64 MiB
	// ListCacheEntries bounds the names the server keeps, over all sessions, in its snapshots
	// of directories being listed (see server_list.go); 500,000, some 25 MB at typical name
	// lengths. A directory with more entries is read again for every page.
	ListCacheEntries int
	GracePeriod      time.Duration // how long in-flight requests may run after GOAWAY; 5 s
	HelloTimeout     time.Duration // how long a peer has to send HELLO; 10 s
	// Logger gets the server's debug messages; nil discards them. It is a *slog.Logger
	// (serverLogger is an alias of it), except in the browser build (server_log_js.go).
	Logger serverLogger
}

func (o ServerOptions) withDefaults() ServerOptions {
	if o.MaxFrame <= 0 {
		o.MaxFrame = DefaultServerMaxFrame
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 64
	}
	if o.MaxHandles <= 0 {
		o.MaxHandles = 256
	}
	if o.MaxOpenFiles <= 0 {
		o.MaxOpenFiles = defaultMaxOpenFiles()
	}
	if o.ListPage <= 0 {
		o.ListPage = 1000
	}
	if o.ListCacheEntries <= 0 {
		o.ListCacheEntries = 500_000
	}
	if o.MaxWindow == 0 {
		o.MaxWindow = 64 << 20
	}
	o.MaxWindow = min(o.MaxWindow, math.MaxInt32)
	if o.GracePeriod <= 0 {
		o.GracePeriod = 5 * time.Second
	}
	if o.HelloTimeout <= 0 {
		o.HelloTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = discardLogger()
	}
	return o
}

// Server serves one directory, read-only, to any number of sessions.
type Server struct {
	root  *os.Root
	opts  ServerOptions
	lists *listCache
	fds   *fdBudget

	dirReads atomic.Int64 // whole-directory reads LIST made, for tests
}

// NewServer opens dir as the root every session is confined to.
func NewServer(dir string, opts ServerOptions) (*Server, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("rangefs: open root: %w", err)
	}
	opts = opts.withDefaults()
	return &Server{
		root: root, opts: opts,
		lists: newListCache(opts.ListCacheEntries),
		fds:   &fdBudget{total: opts.MaxOpenFiles},
	}, nil
}

// Close releases the root and the directory snapshots. Sessions still running keep working on
// files already open.
func (s *Server) Close() error {
	s.lists.clear()
	return s.root.Close()
}

// Root returns the directory's os.Root, for callers that serve it another way too.
func (s *Server) Root() *os.Root { return s.root }

// ServeTransport runs one session on t until the peer goes away, the session fails, or ctx
// is done. On ctx done it sends GOAWAY, lets in-flight requests run for the grace period,
// then closes. It always closes t, and returns only after every goroutine it started has
// ended and every file it opened is closed. A peer that closes the transport ends the session
// with a nil error; a protocol violation returns a *ProtocolError, after sending ERROR.
func (s *Server) ServeTransport(ctx context.Context, t Transport) error {
	ss := newServerSession(s, t)
	return ss.run(ctx)
}

// serverSession is the server's state for one session (one connection).
type serverSession struct {
	srv  *Server
	opts ServerOptions
	fr   *framer
	log  serverLogger

	sopts SessionOptions // the narrowing of a share link's session (scope.go)
	scope *scope         // nil: the whole root

	ctx    context.Context // canceled when the session ends: stops every stream
	cancel context.CancelFunc
	wg     sync.WaitGroup // stream goroutines and the control writer

	// ctrl carries the read loop's own answers (PONG, refusals) to the control writer, so
	// that the read loop never blocks on a write: if it did, a client whose writes are
	// blocked on us while we are blocked on it would deadlock the session.
	ctrl chan ctrlMsg

	mu          sync.Mutex
	cond        *sync.Cond // signalled on credit, cancel and close
	streams     map[uint32]*sstream
	handles     map[uint32]*handle
	nextHandle  uint32
	fdsHeld     int   // descriptors taken from srv.fds; under srv.fds.mu, not mu
	credit      int64 // session DATA credit left
	streamInit  int64 // initial per-stream credit from the client's HELLO
	goingAway   bool
	closed      bool
	lastStream  uint32
	streamsDone chan struct{} // closed when streams drains to zero during GOAWAY
}

// sstream is one request being served.
type sstream struct {
	id       uint32
	credit   int64
	canceled bool
}

// handle is an open file a client refers to by number.
type handle struct {
	f    *os.File
	name string
	refs int // READs using it, plus one while it is in the table
}

func newServerSession(s *Server, t Transport) *serverSession {
	ctx, cancel := context.WithCancel(context.Background())
	ss := &serverSession{
		srv: s, opts: s.opts, log: s.opts.Logger,
		fr:      newFramer(t, clampFrame(s.opts.MaxFrame, t)),
		ctx:     ctx,
		cancel:  cancel,
		streams: make(map[uint32]*sstream),
		handles: make(map[uint32]*handle),
		ctrl:    make(chan ctrlMsg, maxCtrlQueue),
	}
	ss.cond = sync.NewCond(&ss.mu)
	return ss
}

// maxCtrlQueue bounds the answers the read loop may have waiting; a client that floods PINGs
// or refused requests faster than it reads the answers past this bound is cut off.
const maxCtrlQueue = 256

type ctrlMsg struct {
	stream uint32
	f      wire.Frame
	sent   chan struct{} // closed once written, if not nil
}

// reply queues a control answer without blocking.
func (ss *serverSession) reply(stream uint32, f wire.Frame) error {
	select {
	case ss.ctrl <- ctrlMsg{stream: stream, f: f}:
		return nil
	default:
		return &ProtocolError{Code: wire.CodeLimitExceeded, Frame: f.Type(), Message: "too many unanswered requests and pings"}
	}
}

func (ss *serverSession) ctrlWriter() {
	defer ss.wg.Done()
	for {
		select {
		case m := <-ss.ctrl:
			if err := ss.fr.writeFrame(m.stream, m.f); err != nil {
				return
			}
			if m.sent != nil {
				close(m.sent)
			}
		case <-ss.ctx.Done():
			return
		}
	}
}

func (ss *serverSession) run(ctx context.Context) error {
	ss.srv.fds.join()
	defer ss.srv.fds.leave() // after shutdown has closed every handle
	readerDone := make(chan error, 1)
	ss.wg.Add(1)
	go ss.ctrlWriter()
	go func() { readerDone <- ss.readLoop() }()

	var expired <-chan time.Time // nil: never
	if !ss.sopts.Expires.IsZero() {
		t := time.NewTimer(time.Until(ss.sopts.Expires))
		defer t.Stop()
		expired = t.C
	}
	var err error
	readerEnded := true
	select {
	case err = <-readerDone:
	case <-ctx.Done():
		err, readerEnded = ss.goAway(readerDone)
	case <-ss.sopts.Revoked: // nil: never
		err, readerEnded = &ProtocolError{Code: wire.CodeRevoked, Message: "the share link of this session was revoked"}, false
	case <-expired:
		err, readerEnded = &ProtocolError{Code: wire.CodeExpired, Message: "the share link of this session has expired"}, false
	}
	ss.stop()
	// Drain even without an ERROR: GOAWAY and the last ENDs must not be dropped by a caller
	// that closes the connection as soon as we return.
	ss.fr.closeWith(err, errorWait, true)
	ss.shutdown()
	if !readerEnded {
		<-readerDone // the transport is closed: the reader's Read returns
	}
	if isClosedErr(err) {
		return nil
	}
	return err
}

// goAway sends GOAWAY, refuses new streams, and waits for in-flight ones until the grace
// period ends or the reader stops. It reports the reader's error and whether it has ended.
func (ss *serverSession) goAway(readerDone chan error) (error, bool) {
	ss.mu.Lock()
	ss.goingAway = true
	last := ss.lastStream
	ss.streamsDone = make(chan struct{})
	if len(ss.streams) == 0 {
		close(ss.streamsDone)
	}
	done := ss.streamsDone
	ss.mu.Unlock()
	timer := time.NewTimer(ss.opts.GracePeriod)
	defer timer.Stop()
	// Through the control writer, so that a client that does not read cannot block us here.
	sent := make(chan struct{})
	select {
	case ss.ctrl <- ctrlMsg{f: &wire.GoAway{LastStream: last, Code: wire.CodeShutdown, Message: "server shutting down"}, sent: sent}:
	case <-timer.C:
		return nil, false
	}
	for done != nil || sent != nil {
		select {
		case <-done:
			done = nil
		case <-sent:
			sent = nil
		case <-timer.C:
			return nil, false
		case err := <-readerDone:
			return err, true
		}
	}
	return nil, false
}

// stop tells every stream to end at its next frame boundary and the control writer to stop,
// so that nothing new is written while the session says goodbye.
func (ss *serverSession) stop() {
	ss.mu.Lock()
	ss.closed = true
	ss.mu.Unlock()
	ss.cancel()
	ss.cond.Broadcast()
}

// shutdown stops every stream, closes the transport, waits for the goroutines, and closes
// every handle.
func (ss *serverSession) shutdown() {
	ss.stop()
	_ = ss.fr.t.Close()
	ss.wg.Wait()
	ss.mu.Lock()
	for id, h := range ss.handles {
		delete(ss.handles, id)
		ss.releaseLocked(h)
	}
	ss.mu.Unlock()
}

func isClosedErr(err error) bool {
	if err == nil {
		return true
	}
	var pe *ProtocolError
	return !errors.As(err, &pe)
}

// readLoop reads frames until the transport fails or the peer breaks the protocol. It never
// blocks on file I/O: requests run in their own goroutines.
func (ss *serverSession) readLoop() error {
	buf := make([]byte, ss.fr.recvMax)
	hello, err := ss.helloWithTimeout(buf)
	if err != nil {
		return err
	}
	if hello.SessionWindow > ss.opts.MaxWindow || hello.StreamWindow > ss.opts.MaxWindow {
		return &ProtocolError{Code: wire.CodeLimitExceeded, Frame: wire.TypeHello, Message: fmt.Sprintf("windows above the server's %d-byte limit", ss.opts.MaxWindow)}
	}
	ss.mu.Lock()
	ss.credit = int64(hello.SessionWindow)
	ss.streamInit = int64(hello.StreamWindow)
	ss.mu.Unlock()

	for {
		h, f, err := ss.fr.readFrame(buf)
		if err != nil {
			if h.Type.IsRequest() && h.Stream != 0 && isDecodeErr(err) {
				// A malformed request ends its own stream, not the session.
				if err := ss.refuse(h.Stream, h.Type, statusErrorf(wire.StatusBadRequest, "%s", err.Error())); err != nil {
					return err
				}
				continue
			}
			return err
		}
		if err := ss.handle(h, f); err != nil {
			return err
		}
	}
}

// isDecodeErr reports whether err is a payload the decoder refused (as opposed to a
// transport failure or an oversized frame).
func isDecodeErr(err error) bool {
	var pe *ProtocolError
	return errors.As(err, &pe) && pe.Code == wire.CodeProtocol && !pe.Remote
}

func (ss *serverSession) helloWithTimeout(buf []byte) (*wire.Hello, error) {
	timer := time.AfterFunc(ss.opts.HelloTimeout, func() { _ = ss.fr.t.Close() })
	defer timer.Stop()
	local := &wire.Hello{Version: ProtocolVersion, MaxFrame: uint32(ss.fr.recvMax), MaxStreams: uint32(ss.opts.MaxStreams)}
	return ss.fr.handshake(local, buf)
}

// handle dispatches one frame. It returns an error only for what ends the session.
func (ss *serverSession) handle(h wire.Header, f wire.Frame) error {
	switch f := f.(type) {
	case *wire.Ping:
		return ss.reply(0, &wire.Pong{Data: f.Data})
	case *wire.Pong:
		return nil
	case *wire.Credit:
		return ss.addCredit(h.Stream, f.Increment)
	case *wire.Cancel:
		ss.mu.Lock()
		if st := ss.streams[h.Stream]; st != nil {
			st.canceled = true
		}
		ss.mu.Unlock()
		ss.cond.Broadcast()
		return nil
	case *wire.Close:
		ss.mu.Lock()
		if hd := ss.handles[f.Handle]; hd != nil {
			delete(ss.handles, f.Handle)
			ss.releaseLocked(hd)
		}
		ss.mu.Unlock()
		return nil
	case *wire.GoAway:
		return nil // a client going away just closes; nothing to stop
	case *wire.ErrorFrame:
		return &ProtocolError{Code: f.Code, Frame: f.FrameType, Message: f.Message, Remote: true}
	case *wire.Stat, *wire.Open, *wire.List, *wire.Read:
		return ss.startRequest(h, f)
	case *wire.Unknown:
		return nil // docs/PROTOCOL.md: unknown frame types are ignored
	default: // HELLO again, or a server-only frame
		return &ProtocolError{Code: wire.CodeProtocol, Frame: h.Type, Message: fmt.Sprintf("unexpected %v frame from client", h.Type)}
	}
}

func (ss *serverSession) addCredit(stream uint32, inc uint32) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	target := &ss.credit
	if stream != 0 {
		st := ss.streams[stream]
		if st == nil {
			return nil // the stream ended while the credit was in flight
		}
		target = &st.credit
	}
	// A window may not exceed 2^31-1, as in HTTP/2 (RFC 9113 §6.9.1): "A sender MUST NOT allow
	// a flow-control window to exceed 2^31-1 octets."
	if *target+int64(inc) > math.MaxInt32 {
		return &ProtocolError{Code: wire.CodeFlowControl, Frame: wire.TypeCredit, Message: "credit window above 2^31-1"}
	}
	*target += int64(inc)
	ss.cond.Broadcast()
	return nil
}

// startRequest registers a stream and runs the request in its own goroutine, or refuses it.
func (ss *serverSession) startRequest(h wire.Header, f wire.Frame) error {
	if h.Stream == 0 {
		return &ProtocolError{Code: wire.CodeProtocol, Frame: h.Type, Message: "request on stream 0"}
	}
	ss.mu.Lock()
	switch {
	case ss.streams[h.Stream] != nil:
		ss.mu.Unlock()
		return &ProtocolError{Code: wire.CodeStreamState, Frame: h.Type, Message: fmt.Sprintf("stream %d is already open", h.Stream)}
	case ss.goingAway || ss.closed:
		ss.mu.Unlock()
		return ss.refuse(h.Stream, h.Type, statusErrorf(wire.StatusGoingAway, "server is shutting down"))
	case len(ss.streams) >= ss.opts.MaxStreams:
		ss.mu.Unlock()
		return ss.refuse(h.Stream, h.Type, statusErrorf(wire.StatusTooManyStreams, "at most %d requests at once", ss.opts.MaxStreams))
	}
	st := &sstream{id: h.Stream, credit: ss.streamInit}
	ss.streams[h.Stream] = st
	ss.lastStream = max(ss.lastStream, h.Stream)
	ss.wg.Add(1)
	ss.mu.Unlock()

	go func() {
		defer ss.wg.Done()
		err := ss.serve(st, f)
		ss.mu.Lock()
		delete(ss.streams, st.id)
		if ss.goingAway && len(ss.streams) == 0 && ss.streamsDone != nil {
			select {
			case <-ss.streamsDone:
			default:
				close(ss.streamsDone)
			}
		}
		ss.mu.Unlock()
		if ss.ctx.Err() == nil {
			// Removed from the table first, so that the client may reuse the id on END.
			_ = ss.fr.writeFrame(st.id, endFrame(err))
		}
	}()
	return nil
}

// refuse ends a stream that was never started, with the END that why calls for. It returns
// an error only if the session must end.
func (ss *serverSession) refuse(stream uint32, t wire.Type, why error) error {
	end := endFrame(why)
	ss.log.Debug("request refused", "stream", stream, "type", t, "status", end.Status, "msg", end.Message)
	return ss.reply(stream, end)
}

// serve runs one request to completion. It returns nil if the request succeeded, else why
// it did not (see statusOf).
func (ss *serverSession) serve(st *sstream, f wire.Frame) error {
	switch f := f.(type) {
	case *wire.Stat:
		return ss.serveStat(st, f)
	case *wire.Open:
		return ss.serveOpen(st, f)
	case *wire.List:
		return ss.serveList(st, f)
	case *wire.Read:
		return ss.serveRead(st, f)
	}
	return statusErrorf(wire.StatusBadRequest, "not a request")
}

// releaseLocked drops one reference to h, closing the file with the last. ss.mu is held.
func (ss *serverSession) releaseLocked(h *handle) {
	h.refs--
	if h.refs == 0 {
		_ = h.f.Close()
		ss.giveFD()
	}
}

// takeFD reserves a descriptor from the server's budget for this session, or returns errBusy.
func (ss *serverSession) takeFD() error { return ss.srv.fds.take(&ss.fdsHeld) }

// giveFD returns a descriptor taken with takeFD, once the file is closed.
func (ss *serverSession) giveFD() { ss.srv.fds.give(&ss.fdsHeld) }
