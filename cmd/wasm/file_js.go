package main

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"syscall/js"

	"github.com/rangecast/rangecast/internal/jsutil"
	"github.com/rangecast/rangecast/pkg/connect"
	"github.com/rangecast/rangecast/pkg/rangefs"
)

const (
	// maxRead caps File.read: the bytes are held twice (Go, then JavaScript) before they are
	// returned. Larger reads belong to stream().
	maxRead = 64 << 20
	// streamChunk is the buffer each stream pull reads into: a pull returns as soon as one
	// frame is in, with as much of what arrived with it as fits.
	streamChunk = 256 << 10
)

var (
	files     = newRegistry()
	streams   = newRegistry()
	fileProto js.Value
)

// file is the Go side of a File object.
type file struct {
	f    *rangefs.File // on the connection it was opened on; its streams read there too
	path string
	info *rangefs.FileInfo

	mu      sync.Mutex
	closed  bool
	streams map[*stream]struct{}
}

func newFile(p string, f *rangefs.File) js.Value {
	fl := &file{f: f, path: p, info: f.Info(), streams: make(map[*stream]struct{})}
	obj := jsObject.Call("create", fileProto)
	typ := fl.info.MIMEType()
	if typ == "" {
		typ = "application/octet-stream"
	}
	for k, v := range map[string]any{
		"name":  fl.info.Name(),
		"path":  p,
		"size":  fl.info.Size(),
		"type":  typ,
		"etag":  fl.info.ETag(),
		"mtime": fl.info.ModTime().UnixMilli(),
	} {
		jsObject.Call("defineProperty", obj, k, map[string]any{"value": v, "enumerable": true})
	}
	files.add(obj, fl)
	return obj
}

// finalize closes the server's handle of a File the page dropped without closing it. Its
// streams have their own handles and go on.
func (fl *file) finalize() {
	fl.mu.Lock()
	closed := fl.closed
	fl.closed = true
	fl.mu.Unlock()
	if !closed {
		_ = fl.f.Close()
	}
}

func fileOf(this js.Value, sig string) (*file, error) {
	v, ok := files.lookup(this)
	if !ok {
		return nil, badArgf("%s: called on something that is not a File", sig)
	}
	fl, _ := v.(*file)
	if fl == nil {
		return nil, connect.Errorf(connect.CodeClosed, "the file is closed")
	}
	return fl, nil
}

func installFile() {
	read := async(func(this js.Value, args []js.Value) (any, error) {
		const sig = "File.read(offset, length, options?)"
		if err := checkArgs(args, 2, 3, sig); err != nil {
			return nil, err
		}
		fl, err := fileOf(this, sig)
		if err != nil {
			return nil, err
		}
		return fl.read(args, sig)
	})
	stream := syncFunc(func(this js.Value, args []js.Value) any {
		const sig = "File.stream(offset?)"
		var start int64
		err := checkArgs(args, 0, 1, sig)
		if err == nil && len(args) > 0 && !args[0].IsUndefined() {
			start, err = toInt(args[0], 0, maxSafeInt, sig, "offset")
		}
		var fl *file
		if err == nil {
			fl, err = fileOf(this, sig)
		}
		if err != nil {
			return erroredStream(err)
		}
		return fl.stream(start)
	})
	closeFn := async(func(this js.Value, args []js.Value) (any, error) {
		const sig = "File.close()"
		if err := checkArgs(args, 0, 0, sig); err != nil {
			return nil, err
		}
		fl, err := fileOf(this, sig)
		if err != nil {
			return nil, err
		}
		fl.close()
		return js.Undefined(), nil
	})
	fileProto = prototype(jsObject.Get("prototype"), "RangecastFile",
		map[string]js.Func{"read": read, "stream": stream, "close": closeFn}, nil)
}

func (fl *file) read(args []js.Value, sig string) (any, error) {
	off, err := toInt(args[0], 0, maxSafeInt, sig, "offset")
	if err != nil {
		return nil, err
	}
	n, err := toInt(args[1], 0, maxRead, sig, "length")
	if err != nil {
		return nil, err
	}
	opts, err := argOptions(args, 2, sig)
	if err != nil {
		return nil, err
	}
	ctx, stop, err := signalContext(context.Background(), opts, sig)
	if err != nil {
		return nil, err
	}
	defer stop()
	size := fl.info.Size()
	if off > size {
		return nil, connect.Errorf(connect.CodeRange, "read at %d: beyond the end of %s (%d bytes)", off, fl.path, size)
	}
	buf := make([]byte, min(n, size-off))
	got, err := fl.f.ReadAtContext(ctx, buf, off)
	if err != nil && err != io.EOF { // a bare io.EOF is a short read; wrapped ones are closes
		return nil, err
	}
	return bytesToJS(buf[:got]), nil
}

// bytesToJS copies b into a new Uint8Array.
func bytesToJS(b []byte) js.Value {
	u8 := jsUint8Array.New(len(b))
	js.CopyBytesToJS(u8, b)
	return u8
}

// close errors the file's streams, then releases its handle. Closing twice is no error.
func (fl *file) close() {
	fl.mu.Lock()
	if fl.closed {
		fl.mu.Unlock()
		return
	}
	fl.closed = true
	sts := make([]*stream, 0, len(fl.streams))
	for st := range fl.streams {
		sts = append(sts, st)
	}
	fl.mu.Unlock()
	for _, st := range sts {
		st.abort(connect.Errorf(connect.CodeClosed, "the file was closed"))
	}
	_ = fl.f.Close()
}

// stream is the underlying source of one ReadableStream. It reads through its own Clone of
// the file, so that its position and read-ahead are its own: two streams, or a stream and
// read(), do not disturb each other, and cancel() stops the read-ahead at once by closing
// the clone. The clone reads with the ETag the File was opened with, so a stream never
// mixes two versions of the file.
//
// A goroutine of its own (pump) reads and enqueues the chunks. The stream's pull only starts it
// or lets it go on: while the consumer keeps up, each chunk goes straight to a read() waiting
// for it, the controller still wants one more, and the pump goes on with no call from
// JavaScript at all. Only when a chunk waits in the stream's queue does the pump settle the
// pull's Promise and wait for the next pull. A call from JavaScript into Go costs several
// property reads and a finalizer per value in syscall/js: a pull per chunk, with its Promise
// and goroutine, took a tenth of the page's CPU.
type stream struct {
	fl     *file
	ctx    context.Context // canceled by cancel() and abort()
	cancel context.CancelFunc
	id     int
	ended  atomic.Bool // the controller must no longer be touched

	ctrl js.Value // the ReadableStreamDefaultController, set by start

	pmu     sync.Mutex    // guards started and settle; never held while waiting
	started bool          // the pump runs
	settle  js.Value      // resolves the Promise of the pull the pump works for, or undefined
	more    chan struct{} // capacity 1: a pull came, the consumer has room

	mu   sync.Mutex // held by the pump while it reads a chunk, and by whoever ends the stream
	pos  int64
	h    *rangefs.File
	buf  []byte
	done bool
	pull js.Func
	canc js.Func
}

// stream returns a ReadableStream of the file from start. Its queue holds one chunk: the
// pump reads on only while the consumer has room, so a slow consumer slows the reads, and
// the rangefs credit window bounds what is in flight.
func (fl *file) stream(start int64) js.Value {
	fl.mu.Lock()
	if fl.closed {
		fl.mu.Unlock()
		return erroredStream(connect.Errorf(connect.CodeClosed, "the file is closed"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	st := &stream{fl: fl, ctx: ctx, cancel: cancel, pos: start, more: make(chan struct{}, 1)}
	fl.streams[st] = struct{}{}
	fl.mu.Unlock()

	st.pull = js.FuncOf(func(js.Value, []js.Value) any {
		p, resolve, _ := newPromise()
		st.pmu.Lock()
		st.settle = resolve
		first := !st.started
		st.started = true
		st.pmu.Unlock()
		if first {
			go st.pump()
		} else {
			select {
			case st.more <- struct{}{}:
			default:
			}
		}
		return p
	})
	st.canc = js.FuncOf(func(js.Value, []js.Value) any {
		st.ended.Store(true) // from now on the stream is closed: enqueue would throw
		st.cancel()
		return promise(func() (any, error) {
			st.finish()
			return js.Undefined(), nil
		})
	})
	// start runs synchronously inside the constructor: the controller is known from then on.
	startFn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		st.ctrl = args[0]
		return nil
	})
	defer startFn.Release()
	src := jsObject.New()
	src.Set("start", startFn)
	src.Set("pull", st.pull)
	src.Set("cancel", st.canc)
	rs := jsGlobal.Get("ReadableStream").New(src, map[string]any{"highWaterMark": 1})
	// A stream the page drops unread would otherwise keep its handle and read-ahead forever.
	st.id = streams.add(rs, st)
	return rs
}

// finalize stops a stream that was garbage-collected while still open.
func (st *stream) finalize() {
	st.ended.Store(true)
	st.cancel()
	st.finish()
}

// pump enqueues chunks until the stream ends: on while the controller wants more, otherwise
// after the next pull. A panic (a bug) errors the stream with code "internal", as one in a
// pull did.
func (st *stream) pump() {
	defer st.settlePull()
	defer func() {
		if r := recover(); r != nil {
			st.abort(panicError(r))
		}
	}()
	for {
		if !st.step() {
			return
		}
		if d := st.ctrl.Get("desiredSize"); d.Type() == js.TypeNumber && d.Float() > 0 {
			continue // the chunk went to a waiting read()
		}
		st.settlePull()
		select {
		case <-st.more:
		case <-st.ctx.Done():
			return
		}
	}
}

// step enqueues the next chunk under st.mu; it reports whether the stream is still open.
func (st *stream) step() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.pullOnce()
}

// settlePull resolves the Promise of the pull the pump worked for, if it has not been.
func (st *stream) settlePull() {
	st.pmu.Lock()
	resolve := st.settle
	st.settle = js.Undefined()
	st.pmu.Unlock()
	if resolve.Type() == js.TypeFunction {
		resolve.Invoke()
	}
}

// pullOnce enqueues the next chunk, or closes or errors the stream. It reports whether the
// stream is still open.
func (st *stream) pullOnce() bool {
	if st.done || st.ended.Load() {
		return false
	}
	size := st.fl.info.Size()
	if st.pos > size {
		st.failLocked(connect.Errorf(connect.CodeRange, "stream from %d: beyond the end of %s (%d bytes)", st.pos, st.fl.path, size))
		return false
	}
	if st.pos == size {
		st.closeLocked()
		return false
	}
	if st.h == nil {
		if err := st.openLocked(); err != nil {
			st.failLocked(err)
			return false
		}
	}
	for {
		n, err := st.h.ReadContext(st.ctx, st.buf)
		// Whatever else has arrived goes into the same chunk: each chunk costs a Uint8Array
		// and an enqueue, a frame's worth of bytes does not.
		for err == nil && n < len(st.buf) && st.h.Buffered() > 0 {
			var k int
			k, err = st.h.ReadContext(st.ctx, st.buf[n:])
			n += k
		}
		if st.ended.Load() {
			return false // canceled meanwhile: whoever canceled finishes
		}
		if n > 0 {
			if _, jerr := jsutil.Call(st.ctrl, "enqueue", bytesToJS(st.buf[:n])); jerr != nil {
				st.finishLocked()
				return false
			}
			st.pos += int64(n)
			if st.pos >= size {
				st.closeLocked()
				return false
			}
			if err != nil && err != io.EOF {
				st.failLocked(err)
				return false
			}
			return true
		}
		switch {
		case err == io.EOF:
			st.closeLocked()
			return false
		case err != nil:
			st.failLocked(err)
			return false
		}
	}
}

func (st *stream) openLocked() error {
	// A Clone costs no round trip (no OPEN): a media element's seek reaches the daemon as
	// one READ.
	h := st.fl.f.Clone()
	if _, err := h.Seek(st.pos, io.SeekStart); err != nil {
		_ = h.Close()
		return err
	}
	st.h, st.buf = h, make([]byte, streamChunk)
	return nil
}

func (st *stream) closeLocked() {
	if !st.ended.Swap(true) {
		_, _ = jsutil.Call(st.ctrl, "close")
	}
	st.finishLocked()
}

func (st *stream) failLocked(err error) {
	if !st.ended.Swap(true) {
		_, _ = jsutil.Call(st.ctrl, "error", newJSError(err))
	}
	st.finishLocked()
}

// abort errors the stream from outside a pull (File.close()). The controller may be told at
// any time; the pull in progress, if any, then returns without touching it.
func (st *stream) abort(err error) {
	if !st.ended.Swap(true) {
		_, _ = jsutil.Call(st.ctrl, "error", newJSError(err))
	}
	st.cancel()
	st.finish()
}

func (st *stream) finish() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.finishLocked()
}

// finishLocked releases everything the stream holds. The stream calls neither pull nor
// cancel once it is closed, errored or canceled, so the functions can go.
func (st *stream) finishLocked() {
	if st.done {
		return
	}
	st.done = true
	st.cancel()
	if st.h != nil {
		_ = st.h.Close()
		st.h, st.buf = nil, nil
	}
	st.fl.mu.Lock()
	delete(st.fl.streams, st)
	st.fl.mu.Unlock()
	streams.remove(st.id)
	st.pull.Release()
	st.canc.Release()
}

// erroredStream returns a ReadableStream whose first read rejects with err: stream() is
// synchronous, and Go cannot throw into JavaScript.
func erroredStream(err error) js.Value {
	start := js.FuncOf(func(_ js.Value, args []js.Value) any {
		args[0].Call("error", newJSError(err))
		return nil
	})
	defer start.Release()
	src := jsObject.New()
	src.Set("start", start)
	return jsGlobal.Get("ReadableStream").New(src)
}
