package main

import (
	"context"
	"io/fs"
	"path"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/rangecast/rangecast/pkg/connect"
	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/wire"
)

const (
	defaultTimeout = 30 * time.Second
	pingTimeout    = 10 * time.Second
)

var (
	remotes     = newRegistry()
	remoteProto js.Value
)

// remote is the Go side of a Remote object: a connect.Redialer, and the object its events
// go to.
type remote struct {
	r *connect.Redialer

	// mu is held while an event is dispatched, so that events keep their order; listeners
	// run inside dispatch but reach Go only through async methods, which never take it.
	mu      sync.Mutex
	obj     js.Value        // the Remote object; undefined before it exists and once ended
	ready   bool            // obj has been set: events go to it
	pending []connect.Event // events that came before obj existed
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
	ro := connect.RedialOptions{Reconnect: true}
	ro.Signal.Timeout = defaultTimeout
	if v := optField(opts, "timeout"); !v.IsUndefined() {
		ms, err := toInt(v, 1, 10*60*1000, sig, "options.timeout")
		if err != nil {
			return nil, err
		}
		ro.Signal.Timeout = time.Duration(ms) * time.Millisecond
	}
	if v := optField(opts, "reconnect"); !v.IsUndefined() {
		if v.Type() != js.TypeBoolean {
			return nil, badArgf("%s: options.reconnect must be a boolean", sig)
		}
		ro.Reconnect = v.Bool()
	}
	ctx, stop, err := signalContext(context.Background(), opts, sig)
	if err != nil {
		return nil, err
	}
	defer stop()

	rm := &remote{obj: js.Undefined()}
	ro.OnEvent = rm.onEvent
	ro.Predialed = predialFor(link)
	r, err := connect.Redial(ctx, link, ro)
	if err != nil {
		return nil, err
	}
	obj := jsGlobal.Get("EventTarget").New()
	jsObject.Call("setPrototypeOf", obj, remoteProto)
	remotes.add(obj, rm)
	rm.mu.Lock()
	rm.r, rm.obj, rm.ready = r, obj, true
	pending := rm.pending
	rm.pending = nil
	for _, e := range pending {
		rm.dispatchLocked(e)
	}
	rm.mu.Unlock()
	return obj, nil
}

// onEvent turns a state change into statechange (and, at the end, close) events on the
// object.
func (rm *remote) onEvent(e connect.Event) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if !rm.ready {
		rm.pending = append(rm.pending, e)
		return
	}
	rm.dispatchLocked(e)
}

func (rm *remote) dispatchLocked(e connect.Event) {
	obj := rm.obj
	ended := e.State == connect.StateClosed || e.State == connect.StateFailed
	if ended {
		rm.obj = js.Undefined()
	}
	if obj.IsUndefined() {
		return
	}
	detail := map[string]any{"state": string(e.State)}
	if e.Attempt > 0 {
		detail["attempt"] = e.Attempt
	}
	if e.State == connect.StateReconnecting {
		detail["retryInMs"] = e.RetryIn.Milliseconds()
	}
	if e.Err != nil {
		detail["error"] = errorDetail(e.Err)
	}
	dispatch(obj, "statechange", detail)
	if ended {
		dispatch(obj, "close", errorDetail(e.Err))
	}
}

func errorDetail(err error) map[string]any {
	return map[string]any{"code": string(connect.CodeOf(err)), "message": err.Error()}
}

// remoteOf finds the remote behind this.
func remoteOf(this js.Value, sig string) (*remote, error) {
	v, ok := remotes.lookup(this)
	if !ok {
		return nil, badArgf("%s: called on something that is not a Remote", sig)
	}
	rm, _ := v.(*remote)
	if rm == nil {
		return nil, connect.Errorf(connect.CodeClosed, "the connection has ended")
	}
	return rm, nil
}

// remoteMethod wraps an async Remote method: the remote is found and the arguments counted
// before fn runs.
func remoteMethod(sig string, minN, maxN int, fn func(rm *remote, args []js.Value) (any, error)) js.Func {
	return async(func(this js.Value, args []js.Value) (any, error) {
		if err := checkArgs(args, minN, maxN, sig); err != nil {
			return nil, err
		}
		rm, err := remoteOf(this, sig)
		if err != nil {
			return nil, err
		}
		return fn(rm, args)
	})
}

func installRemote() {
	methods := map[string]js.Func{
		"list":      remoteMethod("Remote.list(dir, options?)", 1, 2, (*remote).list),
		"listAll":   remoteMethod("Remote.listAll(dir, options?)", 1, 2, (*remote).listAll),
		"stat":      remoteMethod("Remote.stat(path, options?)", 1, 2, (*remote).stat),
		"open":      remoteMethod("Remote.open(path, options?)", 1, 2, (*remote).open),
		"ping":      remoteMethod("Remote.ping()", 0, 0, (*remote).ping),
		"close":     remoteMethod("Remote.close()", 0, 0, (*remote).close),
		"reconnect": remoteMethod("Remote.reconnect()", 0, 0, (*remote).reconnectNow),
		"stats": syncFunc(func(this js.Value, _ []js.Value) any {
			rm, err := remoteOf(this, "Remote.stats()")
			if err != nil {
				return js.Undefined()
			}
			return rm.stats()
		}),
	}
	getters := map[string]js.Func{
		"state": syncFunc(func(this js.Value, _ []js.Value) any {
			v, _ := remotes.lookup(this)
			if rm, ok := v.(*remote); ok {
				return string(rm.r.State())
			}
			return string(connect.StateClosed)
		}),
	}
	remoteProto = prototype(jsGlobal.Get("EventTarget").Get("prototype"), "RangecastRemote", methods, getters)
}

// cleanDir turns what the page passes ("", "/", "a/b/") into "/a/b" form for entry paths.
func cleanDir(p string) string { return path.Join("/", strings.Trim(p, "/")) }

// entry converts a FileInfo; dir is the directory it was listed in.
func entry(dir string, fi fs.FileInfo) map[string]any {
	return map[string]any{
		"name":    fi.Name(),
		"path":    path.Join(cleanDir(dir), fi.Name()),
		"size":    fi.Size(),
		"mtime":   fi.ModTime().UnixMilli(),
		"isDir":   fi.IsDir(),
		"mode":    int(fi.Mode().Perm()),
		"special": special(fi.Mode()),
	}
}

// special names what an entry is when it is neither a regular file nor a directory: LIST
// lists a symlink as itself only when it dangles or leads out of the root.
func special(m fs.FileMode) string {
	switch {
	case m.IsRegular(), m.IsDir():
		return ""
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "irregular"
}

// op parses (path, options?) and returns the current connection and a context for the
// request; stop must be called.
func (rm *remote) op(args []js.Value, sig string) (p string, opts js.Value, cur *connect.Remote, ctx context.Context, stop func(), err error) {
	if p, err = argString(args, 0, sig, "path"); err != nil {
		return
	}
	if opts, err = argOptions(args, 1, sig); err != nil {
		return
	}
	if ctx, stop, err = signalContext(context.Background(), opts, sig); err != nil {
		return
	}
	if cur, err = rm.r.Current(); err != nil {
		stop()
	}
	return
}

func (rm *remote) list(args []js.Value) (any, error) {
	const sig = "Remote.list(dir, options?)"
	dir, opts, cur, ctx, stop, err := rm.op(args, sig)
	if err != nil {
		return nil, err
	}
	defer stop()
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

func (rm *remote) listAll(args []js.Value) (any, error) {
	dir, _, cur, ctx, stop, err := rm.op(args, "Remote.listAll(dir, options?)")
	if err != nil {
		return nil, err
	}
	defer stop()
	des, err := cur.ReadDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	entries := make([]any, 0, len(des))
	for _, de := range des {
		fi, err := de.Info()
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry(dir, fi))
	}
	return entries, nil
}

func (rm *remote) stat(args []js.Value) (any, error) {
	p, _, cur, ctx, stop, err := rm.op(args, "Remote.stat(path, options?)")
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

func (rm *remote) open(args []js.Value) (any, error) {
	p, _, cur, ctx, stop, err := rm.op(args, "Remote.open(path, options?)")
	if err != nil {
		return nil, err
	}
	defer stop()
	f, err := cur.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	return newFile(cleanDir(p), f, routerFor(cur)), nil
}

// routers holds web/boot.js's router of direct reads in front of each session's channel,
// put there when the session's first file is opened, until the session ends.
var routers struct {
	sync.Mutex
	m map[*peer.Channel]js.Value
}

// routerFor returns the router of cur's channel, or undefined if the page has none.
func routerFor(cur *connect.Remote) js.Value {
	routers.Lock()
	defer routers.Unlock()
	if r, ok := routers.m[cur.Channel]; ok {
		return r
	}
	direct := jsGlobal.Get("rangecastBoot")
	if direct.Type() == js.TypeObject {
		direct = direct.Get("direct")
	}
	if direct.Type() != js.TypeObject {
		return js.Undefined()
	}
	r := direct.Call("router")
	if err := cur.Channel.InterceptMessages(r.Get("wrap")); err != nil {
		return js.Undefined()
	}
	if routers.m == nil {
		routers.m = make(map[*peer.Channel]js.Value)
	}
	routers.m[cur.Channel] = r
	go func() {
		<-cur.Done()
		routers.Lock()
		delete(routers.m, cur.Channel)
		routers.Unlock()
	}()
	return r
}

func (rm *remote) ping([]js.Value) (any, error) {
	d, err := rm.r.Ping(context.Background(), pingTimeout)
	if err != nil {
		return nil, err
	}
	return float64(d.Microseconds()) / 1000, nil
}

func (rm *remote) stats() map[string]any {
	s := rm.r.Stats()
	st := map[string]any{
		"state":         string(s.State),
		"rttMs":         nil,
		"bytesReceived": s.BytesReceived,
		"throughput":    s.Throughput,
		"connectedAt":   nil,
	}
	if s.RTT >= 0 {
		st["rttMs"] = float64(s.RTT.Microseconds()) / 1000
	}
	if !s.ConnectedAt.IsZero() {
		st["connectedAt"] = s.ConnectedAt.UnixMilli()
	}
	return st
}

func (rm *remote) close([]js.Value) (any, error) {
	return js.Undefined(), rm.r.Close()
}

func (rm *remote) reconnectNow([]js.Value) (any, error) {
	return js.Undefined(), rm.r.ReconnectNow()
}
