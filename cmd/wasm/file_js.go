package main

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall/js"

	"github.com/rangecast/rangecast/pkg/connect"
	"github.com/rangecast/rangecast/pkg/rangefs"
)

const (
	// maxRead caps File.read: the bytes are held twice (Go, then JavaScript) before they are
	// returned. Larger reads belong to stream().
	maxRead = 64 << 20
)

var (
	files     = newRegistry()
	streams   = newRegistry()
	fileProto js.Value
)

// file is the Go side of a File object.
type file struct {
	f      *rangefs.File // on the connection it was opened on; its streams read there too
	router js.Value      // web/boot.js's router of direct reads on that connection's channel
	path   string
	info   *rangefs.FileInfo

	mu      sync.Mutex
	closed  bool
	streams map[*stream]struct{}
}

func newFile(p string, f *rangefs.File, router js.Value) js.Value {
	fl := &file{f: f, router: router, path: p, info: f.Info(), streams: make(map[*stream]struct{})}
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

// stream is the Go side of one File.stream(): web/boot.js's DirectStream is the
// ReadableStream's source and the rangefs.DirectTap of the reads behind it, so the bytes go
// from the DataChannel into the ReadableStream as views of its messages, without Go (every
// call from JavaScript into Go costs several property reads and a finalizer per value in
// syscall/js: with one per message, Go was most of the page's CPU). Go starts the reads,
// credits the bytes the consumer took as the DirectStream reports them, and ends or errors
// the stream.
//
// The first read starts when the consumer first pulls (a stream made and never read, as a zip
// of a folder makes one per file, fetches nothing). A read goes to the end of the file; its
// credit window bounds what arrives ahead of the consumer. The session may take a read back
// while its consumer is not waiting (rangefs.ErrReleased): the next starts where the consumer
// stands when it wants more. Reads go through a Clone of the file, which holds nothing on the
// server: the stream outlives a File the page dropped, and reads the version it was opened at.
type stream struct {
	fl     *file
	h      *rangefs.File // the Clone the reads go through
	js     js.Value      // the DirectStream
	ctx    context.Context
	cancel context.CancelFunc // by the consumer's cancel, abort and finalize
	id     int
	more   chan int64 // capacity 1: the offset the consumer wants the next read to start at
	run    sync.Once  // starts serve
	funcs  []js.Func

	mu      sync.Mutex
	d       *rangefs.DirectRead // the read in progress
	early   int64               // bytes taken before d was known
	aborted error               // why abort ended the stream, to error it with
}

// stream returns a ReadableStream of the file from start, or an errored one.
func (fl *file) stream(start int64) js.Value {
	fl.mu.Lock()
	if fl.closed {
		fl.mu.Unlock()
		return erroredStream(connect.Errorf(connect.CodeClosed, "the file is closed"))
	}
	if size := fl.info.Size(); start > size {
		fl.mu.Unlock()
		return erroredStream(connect.Errorf(connect.CodeRange, "stream from %d: beyond the end of %s (%d bytes)", start, fl.path, size))
	}
	if fl.router.Type() != js.TypeObject {
		fl.mu.Unlock()
		return erroredStream(connect.Errorf(connect.CodeInternal, "File.stream needs the page's web/boot.js"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	st := &stream{fl: fl, h: fl.f.Clone(), ctx: ctx, cancel: cancel, more: make(chan int64, 1)}
	fl.streams[st] = struct{}{}
	fl.mu.Unlock()

	goFn := func(f func(args []js.Value)) js.Func {
		fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
			f(args)
			return nil
		})
		st.funcs = append(st.funcs, fn)
		return fn
	}
	callbacks := map[string]any{
		"taken": goFn(func(args []js.Value) { st.taken(int64(args[0].Float())) }),
		"more": goFn(func(args []js.Value) {
			select {
			case st.more <- int64(args[0].Float()):
			default:
			}
			st.start()
		}),
		"starved": goFn(func([]js.Value) {
			if d := st.read(); d != nil {
				d.Starved()
			}
		}),
		"cancel": goFn(func([]js.Value) { st.stop(nil) }),
	}
	st.js = fl.router.Call("stream", start, callbacks)
	rs := st.js.Get("readable")
	// A stream the page drops unread would otherwise keep its goroutine forever.
	st.id = streams.add(rs, st)
	return rs
}

// Route, Owed and Release make the DirectStream the reads' rangefs.DirectTap.
func (st *stream) Route(id, window uint32) { st.js.Call("route", id, window) }
func (st *stream) Owed() int64             { return int64(st.js.Call("owed").Float()) }
func (st *stream) Release(force bool) (int64, bool) {
	n := st.js.Call("release", force).Float()
	return int64(max(n, 0)), n >= 0
}

func (st *stream) start() { st.run.Do(func() { go st.serve() }) }

// read returns the read in progress, or nil.
func (st *stream) read() *rangefs.DirectRead {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.d
}

// taken credits n bytes the consumer took.
func (st *stream) taken(n int64) {
	st.mu.Lock()
	d := st.d
	if d == nil {
		st.early += n
	}
	st.mu.Unlock()
	if d != nil {
		d.Taken(n)
	}
}

// stop ends the stream from outside its reads: the consumer canceled it (err nil), its File
// was closed, or the page dropped it.
func (st *stream) stop(err error) {
	st.mu.Lock()
	if st.aborted == nil {
		st.aborted = err
	}
	st.mu.Unlock()
	st.cancel()
	st.start() // serve ends at once and releases what the stream holds
}

func (st *stream) finalize() { st.stop(nil) }

// abort errors the stream (File.close()).
func (st *stream) abort(err error) { st.stop(err) }

// serve runs the stream's reads, each when the consumer wants it, until the end of the file,
// an error, or stop. A panic (a bug) errors the stream with code "internal".
func (st *stream) serve() {
	var failed error
	defer func() {
		if r := recover(); r != nil {
			failed = panicError(r)
		}
		st.finish(failed)
	}()
	size := st.fl.info.Size()
	for {
		var pos int64
		select {
		case pos = <-st.more:
		case <-st.ctx.Done():
			return
		}
		if pos >= size {
			st.js.Call("end")
			return
		}
		d, err := st.h.ReadDirect(st.ctx, pos, st)
		if err != nil {
			failed = err
			return
		}
		st.mu.Lock()
		early := st.early
		st.d, st.early = d, 0
		st.mu.Unlock()
		d.Taken(early)
		err = d.Wait(st.ctx)
		if err == nil {
			st.js.Call("end") // before Close, which takes the route and what it owed
		}
		d.Close()
		st.mu.Lock()
		st.d = nil
		st.mu.Unlock()
		switch {
		case err == nil, st.ctx.Err() != nil:
			return
		case errors.Is(err, rangefs.ErrReleased):
			// The session took it back; the DirectStream asks for more when its consumer does.
		default:
			failed = err
			return
		}
	}
}

// finish errors the stream with failed, or with abort's error once stopped, and releases what
// it holds: the callbacks, the clone, and its places in the registries.
func (st *stream) finish(failed error) {
	st.mu.Lock()
	if st.ctx.Err() != nil {
		failed = st.aborted // stopped from outside: canceled (nil), or aborted with its error
	}
	st.mu.Unlock()
	st.cancel()
	if failed != nil {
		st.js.Call("fail", newJSError(failed))
	}
	st.js.Call("detach")
	for _, f := range st.funcs {
		f.Release()
	}
	_ = st.h.Close()
	st.fl.mu.Lock()
	delete(st.fl.streams, st)
	st.fl.mu.Unlock()
	streams.remove(st.id)
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
