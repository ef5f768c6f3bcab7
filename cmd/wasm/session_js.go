package main

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/signal"
	"github.com/rangecast/rangecast/pkg/wire"
)

// Session states, as Session.state and statechange events report them.
const (
	stateConnecting   = "connecting"   // a reconnect attempt is in flight
	stateConnected    = "connected"    // requests go through
	stateDisconnected = "disconnected" // ICE lost the daemon; it may come back within disconnectGrace
	stateReconnecting = "reconnecting" // the connection is gone; waiting before the next attempt
	stateClosed       = "closed"       // ended by close(), or by the daemon with reconnect off
	stateFailed       = "failed"       // ended by an error reconnecting cannot fix
)

const (
	// disconnectGrace is how long a disconnected connection may take to recover before it is
	// dropped and replaced. ICE restarts are not supported, and Chromium takes ~30 s to
	// declare a dead peer failed (as of 2026-11): far too long to show a frozen page.
	disconnectGrace = 5 * time.Second
	backoffMin      = 1 * time.Second
	backoffMax      = 30 * time.Second
	pingTimeout     = 10 * time.Second
	sampleEvery     = 250 * time.Millisecond
	meterWindow     = 2 * time.Second
	defaultTimeout  = 30 * time.Second
)

// errUserClosed is why a session ends when the page calls close().
var errUserClosed = codeErrorf(codeClosed, "the session was closed")

var (
	sessions     = newRegistry()
	sessionProto js.Value
)

type connectOptions struct {
	timeout   time.Duration
	reconnect bool
}

// session is the Go side of a Session object: the current connection and a supervisor
// goroutine that watches it and replaces it when it is lost.
type session struct {
	link       string
	opts       connectOptions
	ctx        context.Context // ends on close()
	cancel     context.CancelFunc
	done       chan struct{} // closed when the supervisor has finished
	wake       chan struct{} // capacity 1: reconnect now
	peerEvents chan struct{} // capacity 1: a Conn's state changed

	mu          sync.Mutex
	obj         js.Value // the Session object; undefined once ended, so that it can be collected
	cur         *signal.Session
	state       string
	connectedAt time.Time
	rtt         time.Duration // <0 until the first ping
	bytesBase   int64         // bytes received on earlier connections
	meter       meter
	end         error // set once ended: what later calls reject with
}

// jsConnect is rangecast.connect(link, options?).
func jsConnect(_ js.Value, args []js.Value) (any, error) {
	const sig = "rangecast.connect(link, options?)"
	if err := checkArgs(args, 1, 2, sig); err != nil {
		return nil, err
	}
	link, err := argString(args, 0, sig, "link")
	if err != nil {
		return nil, err
	}
	opts, err := argOptions(args, 1, sig)
	if err != nil {
		return nil, err
	}
	co := connectOptions{timeout: defaultTimeout, reconnect: true}
	if v := optField(opts, "timeout"); !v.IsUndefined() {
		ms, err := toInt(v, 1, 10*60*1000, sig, "options.timeout")
		if err != nil {
			return nil, err
		}
		co.timeout = time.Duration(ms) * time.Millisecond
	}
	if v := optField(opts, "reconnect"); !v.IsUndefined() {
		if v.Type() != js.TypeBoolean {
			return nil, badArgf("%s: options.reconnect must be a boolean", sig)
		}
		co.reconnect = v.Bool()
	}
	ctx, stop, err := signalContext(context.Background(), opts, sig)
	if err != nil {
		return nil, err
	}
	defer stop()

	sctx, cancel := context.WithCancel(context.Background())
	s := &session{
		link: link, opts: co, ctx: sctx, cancel: cancel,
		done: make(chan struct{}), wake: make(chan struct{}, 1), peerEvents: make(chan struct{}, 1),
		rtt: -1, meter: meter{window: meterWindow},
	}
	cur, err := s.dial(ctx)
	if err != nil {
		cancel()
		return nil, withCode(connectCode(err), err)
	}
	obj := jsGlobal.Get("EventTarget").New()
	jsObject.Call("setPrototypeOf", obj, sessionProto)
	s.obj = obj
	s.cur, s.state, s.connectedAt = cur, stateConnected, time.Now()
	sessions.add(obj, s)
	goSafe(func() { s.supervise(cur) })
	goSafe(s.sample)
	return obj, nil
}

// dial connects once. The Conn's state changes only poke peerEvents: the supervisor reads
// the state itself, so a notification from an old Conn does no harm.
func (s *session) dial(ctx context.Context) (*signal.Session, error) {
	return signal.Connect(ctx, s.link, signal.DialOptions{
		Timeout: s.opts.timeout,
		Peer: peer.Config{OnStateChange: func(peer.State) {
			select {
			case s.peerEvents <- struct{}{}:
			default:
			}
		}},
	})
}

// supervise watches the connection and replaces it when it is lost, until close() or an
// error that reconnecting cannot fix.
func (s *session) supervise(cur *signal.Session) {
	defer close(s.done)
	for {
		err := s.watch(cur)
		s.drop(cur)
		if err == errUserClosed || s.ctx.Err() != nil {
			s.finish(errUserClosed)
			return
		}
		if !s.opts.reconnect {
			s.finish(err)
			return
		}
		if cur, err = s.reconnect(err); err != nil {
			s.finish(err)
			return
		}
	}
}

// watch returns when cur is lost, with why.
func (s *session) watch(cur *signal.Session) error {
	var grace <-chan time.Time
	var timer *time.Timer
	var probed chan error // the answer of the probe started on disconnect, if any
	pctx, cancelProbe := context.WithCancel(s.ctx)
	defer func() {
		cancelProbe()
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case err := <-probed:
			probed = nil
			if err != nil && pctx.Err() == nil {
				return codeErrorf(codeUnreachable, "the daemon is gone: %v", err)
			}
		case <-s.ctx.Done():
			return errUserClosed
		case <-cur.Client.Done():
			return cur.Client.Err()
		case <-cur.Conn.Done():
			if err := cur.Client.Err(); err != nil {
				return err // it knows whether GOAWAY came first
			}
			return cur.Conn.Err()
		case <-grace:
			return codeErrorf(codeUnreachable, "the daemon has not answered for %v", disconnectGrace)
		case <-s.wake:
			if grace != nil {
				return codeErrorf(codeUnreachable, "reconnecting now: the daemon is not answering")
			}
		case <-s.peerEvents:
			switch cur.Conn.State() {
			case peer.StateDisconnected:
				if grace == nil {
					timer = time.NewTimer(disconnectGrace)
					grace = timer.C
					s.setState(stateDisconnected, nil)
					ch := make(chan error, 1)
					probed = ch
					goSafe(func() { ch <- probe(pctx, s.link) })
				}
			case peer.StateConnected:
				if grace != nil {
					timer.Stop()
					timer, grace = nil, nil
					s.setState(stateConnected, nil)
				}
			}
		}
	}
}

// drop closes a lost connection and keeps its byte count.
func (s *session) drop(cur *signal.Session) {
	_ = cur.Close()
	s.mu.Lock()
	s.bytesBase += cur.BytesReceived()
	s.cur, s.connectedAt = nil, time.Time{}
	s.mu.Unlock()
}

// reconnect dials until it succeeds, backing off 1 s, 2 s, 4 s … 30 s between attempts. A
// refused token or a bad link ends the session: the daemon restarted with another token, and
// only a new link helps.
func (s *session) reconnect(cause error) (*signal.Session, error) {
	delay := backoffMin
	for attempt := 1; ; attempt++ {
		s.setState(stateReconnecting, map[string]any{
			"attempt": attempt, "retryInMs": delay.Milliseconds(), "error": errorDetail(cause),
		})
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.wake:
			t.Stop()
		case <-s.ctx.Done():
			t.Stop()
			return nil, errUserClosed
		}
		s.setState(stateConnecting, map[string]any{"attempt": attempt})
		cur, err := s.dial(s.ctx)
		if err == nil {
			s.mu.Lock()
			s.cur, s.connectedAt = cur, time.Now()
			s.meter.reset()
			s.mu.Unlock()
			s.setState(stateConnected, map[string]any{"attempt": attempt})
			return cur, nil
		}
		if s.ctx.Err() != nil {
			return nil, errUserClosed
		}
		err = withCode(connectCode(err), err)
		if c := errorCode(err); c == codeUnauthorized || c == codeBadLink {
			return nil, err
		}
		cause = err
		delay = min(delay*2, backoffMax)
	}
}

// finish ends the session: later calls reject with "closed", and the page hears statechange
// then close.
func (s *session) finish(why error) {
	code := errorCode(why)
	state := stateFailed
	if why == errUserClosed || !s.opts.reconnect && (code == codeClosed || code == codeGoingAway) {
		state = stateClosed
	}
	s.mu.Lock()
	obj := s.obj
	s.obj = js.Undefined()
	s.state = state
	s.end = codeErrorf(codeClosed, "the session has ended: %v", why)
	s.mu.Unlock()
	detail := errorDetail(why)
	dispatch(obj, "statechange", map[string]any{"state": state, "error": detail})
	dispatch(obj, "close", detail)
}

// setState records a state and tells the page. Only the supervisor calls it, so events keep
// their order.
func (s *session) setState(state string, detail map[string]any) {
	s.mu.Lock()
	s.state = state
	obj := s.obj
	s.mu.Unlock()
	if detail == nil {
		detail = map[string]any{}
	}
	detail["state"] = state
	dispatch(obj, "statechange", detail)
}

func errorDetail(err error) map[string]any {
	return map[string]any{"code": errorCode(err), "message": err.Error()}
}

// sample feeds the throughput meter until the session ends.
func (s *session) sample() {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			s.mu.Lock()
			s.meter.add(now, s.bytesLocked())
			s.mu.Unlock()
		}
	}
}

func (s *session) bytesLocked() int64 {
	n := s.bytesBase
	if s.cur != nil {
		n += s.cur.BytesReceived()
	}
	return n
}

// client returns the current connection, or why there is none.
func (s *session) client() (*signal.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.end != nil {
		return nil, s.end
	}
	if s.cur == nil {
		return nil, codeErrorf(codeUnreachable, "not connected to the daemon (%s)", s.state)
	}
	return s.cur, nil
}

// sessionOf finds the session behind this.
func sessionOf(this js.Value, sig string) (*session, error) {
	v, ok := sessions.lookup(this)
	if !ok {
		return nil, badArgf("%s: called on something that is not a Session", sig)
	}
	s, _ := v.(*session)
	if s == nil {
		return nil, codeErrorf(codeClosed, "the session has ended")
	}
	return s, nil
}

// sessionMethod wraps an async Session method: the session is found and the arguments
// counted before fn runs.
func sessionMethod(sig string, minN, maxN int, fn func(s *session, args []js.Value) (any, error)) js.Func {
	return async(func(this js.Value, args []js.Value) (any, error) {
		if err := checkArgs(args, minN, maxN, sig); err != nil {
			return nil, err
		}
		s, err := sessionOf(this, sig)
		if err != nil {
			return nil, err
		}
		return fn(s, args)
	})
}

func installSession() {
	methods := map[string]js.Func{
		"list":      sessionMethod("Session.list(dir, options?)", 1, 2, (*session).list),
		"listAll":   sessionMethod("Session.listAll(dir, options?)", 1, 2, (*session).listAll),
		"stat":      sessionMethod("Session.stat(path, options?)", 1, 2, (*session).stat),
		"open":      sessionMethod("Session.open(path, options?)", 1, 2, (*session).open),
		"ping":      sessionMethod("Session.ping()", 0, 0, (*session).ping),
		"close":     sessionMethod("Session.close()", 0, 0, (*session).close),
		"reconnect": sessionMethod("Session.reconnect()", 0, 0, (*session).reconnectNow),
		"stats": syncFunc(func(this js.Value, _ []js.Value) any {
			s, err := sessionOf(this, "Session.stats()")
			if err != nil {
				return js.Undefined()
			}
			return s.stats()
		}),
	}
	getters := map[string]js.Func{
		"state": syncFunc(func(this js.Value, _ []js.Value) any {
			v, _ := sessions.lookup(this)
			if s, ok := v.(*session); ok {
				s.mu.Lock()
				defer s.mu.Unlock()
				return s.state
			}
			return stateClosed
		}),
	}
	sessionProto = prototype(jsGlobal.Get("EventTarget").Get("prototype"), "RangecastSession", methods, getters)
}

// cleanDir turns what the page passes ("", "/", "a/b/") into "/a/b" form for entry paths.
func cleanDir(p string) string { return path.Join("/", strings.Trim(p, "/")) }

// entry converts a FileInfo; dir is the directory it was listed in.
func entry(dir string, fi fs.FileInfo) map[string]any {
	return map[string]any{
		"name":  fi.Name(),
		"path":  path.Join(cleanDir(dir), fi.Name()),
		"size":  fi.Size(),
		"mtime": fi.ModTime().UnixMilli(),
		"isDir": fi.IsDir(),
		"mode":  int(fi.Mode().Perm()),
	}
}

func (s *session) list(args []js.Value) (any, error) {
	const sig = "Session.list(dir, options?)"
	dir, err := argString(args, 0, sig, "dir")
	if err != nil {
		return nil, err
	}
	opts, err := argOptions(args, 1, sig)
	if err != nil {
		return nil, err
	}
	after := ""
	if v := optField(opts, "after"); !v.IsUndefined() && !v.IsNull() {
		if v.Type() != js.TypeString {
			return nil, badArgf("%s: options.after must be a string", sig)
		}
		if after = v.String(); len(after) > wire.MaxName {
			return nil, badArgf("%s: options.after is longer than %d bytes", sig, wire.MaxName)
		}
	}
	var limit int64
	if v := optField(opts, "limit"); !v.IsUndefined() && !v.IsNull() {
		if limit, err = toInt(v, 0, 0xffff, sig, "options.limit"); err != nil {
			return nil, err
		}
	}
	ctx, stop, err := signalContext(context.Background(), opts, sig)
	if err != nil {
		return nil, err
	}
	defer stop()
	cur, err := s.client()
	if err != nil {
		return nil, err
	}
	page, more, err := cur.ListPage(ctx, dir, after, int(limit))
	if err != nil {
		return nil, err
	}
	entries := make([]any, len(page))
	for i, fi := range page {
		entries[i] = entry(dir, fi)
	}
	return map[string]any{"entries": entries, "more": more}, nil
}

func (s *session) listAll(args []js.Value) (any, error) {
	const sig = "Session.listAll(dir, options?)"
	dir, err := argString(args, 0, sig, "dir")
	if err != nil {
		return nil, err
	}
	opts, err := argOptions(args, 1, sig)
	if err != nil {
		return nil, err
	}
	ctx, stop, err := signalContext(context.Background(), opts, sig)
	if err != nil {
		return nil, err
	}
	defer stop()
	cur, err := s.client()
	if err != nil {
		return nil, err
	}
	var entries []any
	after := ""
	for {
		page, more, err := cur.ListPage(ctx, dir, after, 0)
		if err != nil {
			return nil, err
		}
		for _, fi := range page {
			entries = append(entries, entry(dir, fi))
		}
		if !more || len(page) == 0 {
			break
		}
		after = page[len(page)-1].Name()
	}
	if entries == nil {
		entries = []any{}
	}
	return entries, nil
}

// pathOp parses (path, options?) and returns the connection and a context for the request.
func (s *session) pathOp(args []js.Value, sig string) (string, *signal.Session, context.Context, func(), error) {
	p, err := argString(args, 0, sig, "path")
	if err != nil {
		return "", nil, nil, nil, err
	}
	opts, err := argOptions(args, 1, sig)
	if err != nil {
		return "", nil, nil, nil, err
	}
	ctx, stop, err := signalContext(context.Background(), opts, sig)
	if err != nil {
		return "", nil, nil, nil, err
	}
	cur, err := s.client()
	if err != nil {
		stop()
		return "", nil, nil, nil, err
	}
	return p, cur, ctx, stop, nil
}

func (s *session) stat(args []js.Value) (any, error) {
	p, cur, ctx, stop, err := s.pathOp(args, "Session.stat(path, options?)")
	if err != nil {
		return nil, err
	}
	defer stop()
	fi, err := cur.Stat(ctx, p)
	if err != nil {
		return nil, err
	}
	e := entry("/", fi)
	e["path"] = cleanDir(p)
	e["etag"] = fi.ETag()
	e["type"] = fi.MIMEType()
	return e, nil
}

func (s *session) open(args []js.Value) (any, error) {
	p, cur, ctx, stop, err := s.pathOp(args, "Session.open(path, options?)")
	if err != nil {
		return nil, err
	}
	defer stop()
	f, err := cur.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	return newFile(cur, cleanDir(p), f), nil
}

func (s *session) ping([]js.Value) (any, error) {
	cur, err := s.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	d, err := cur.Ping(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, codeErrorf(codeUnreachable, "no answer to a ping within %v", pingTimeout)
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.rtt = d
	s.mu.Unlock()
	return float64(d.Microseconds()) / 1000, nil
}

func (s *session) stats() map[string]any {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.bytesLocked()
	st := map[string]any{
		"state":         s.state,
		"rttMs":         nil,
		"bytesReceived": n,
		"throughput":    s.meter.rate(now, n),
		"connectedAt":   nil,
	}
	if s.rtt >= 0 {
		st["rttMs"] = float64(s.rtt.Microseconds()) / 1000
	}
	if !s.connectedAt.IsZero() {
		st["connectedAt"] = s.connectedAt.UnixMilli()
	}
	return st
}

func (s *session) close([]js.Value) (any, error) {
	s.cancel()
	<-s.done
	return js.Undefined(), nil
}

func (s *session) reconnectNow([]js.Value) (any, error) {
	s.mu.Lock()
	end, state := s.end, s.state
	s.mu.Unlock()
	if end != nil {
		return nil, end
	}
	if state == stateConnected {
		return js.Undefined(), nil // nothing to do; a wake-up left here would skip a later backoff
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return js.Undefined(), nil
}
