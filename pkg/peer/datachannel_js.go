package peer

import (
	"fmt"
	"io"
	"sync"
	"syscall/js"
)

var (
	jsArrayBuffer = js.Global().Get("ArrayBuffer")
	jsUint8Array  = js.Global().Get("Uint8Array")
)

// browserChannel is the browser transport: an RTCDataChannel read through its
// own message queue. pion's js Detach is not used: it has no deadlines, loses
// the tail of a message longer than the read buffer, and runs one goroutine
// per message, unbounded when the reader is slow and free to reorder.
//
// Each message is copied into Go inside the message event, in order, into a
// queue bounded by BrowserOptions.ReceiveQueueSize. The browser API cannot
// push back on the sender, so a message that would exceed the bound breaks
// the channel with ErrReceiveOverflow; the session layer's flow control keeps
// a well-behaved peer below it.
type browserChannel struct {
	v     js.Value
	lbl   string
	limit int

	mu           sync.Mutex
	cond         sync.Cond
	queue        [][]byte
	queued       int
	slab         []byte // the free tail of the buffer messages are copied into
	openFn       func(error)
	onLow        func()
	remoteClosed bool
	overflow     bool
	unblocked    bool
	released     bool
	handlers     handlers
}

func newBrowserChannel(v js.Value, limit int) *browserChannel {
	b := &browserChannel{v: v, lbl: v.Get("label").String(), limit: limit}
	b.cond.L = &b.mu
	// The default binaryType, "blob", can only be read
	// asynchronously.
	v.Set("binaryType", "arraybuffer")
	b.handlers.set(v, "onmessage", b.onMessage)
	b.handlers.set(v, "onopen", func([]js.Value) { b.fireOpen(nil) })
	b.handlers.set(v, "onclose", func([]js.Value) {
		b.mu.Lock()
		b.remoteClosed = true
		b.cond.Broadcast()
		b.mu.Unlock()
		b.fireOpen(errChannelClosed)
	})
	b.handlers.set(v, "onbufferedamountlow", func([]js.Value) {
		b.mu.Lock()
		f := b.onLow
		b.mu.Unlock()
		if f != nil {
			f()
		}
	})
	return b
}

// whenOpen calls f once: with nil when the channel is open (at once if it
// already is), or with an error if it closes first.
func (b *browserChannel) whenOpen(f func(error)) {
	b.mu.Lock()
	b.openFn = f
	b.mu.Unlock()
	// fireOpen calls f at most once, whether from here or from the event.
	switch b.v.Get("readyState").String() {
	case "open":
		b.fireOpen(nil)
	case "closing", "closed":
		b.fireOpen(errChannelClosed)
	}
}

func (b *browserChannel) fireOpen(err error) {
	b.mu.Lock()
	f := b.openFn
	b.openFn = nil
	b.mu.Unlock()
	if f != nil {
		f(err)
	}
}

// onMessage copies the message into the queue. It runs inside the event.
func (b *browserChannel) onMessage(args []js.Value) { b.push(args[0].Get("data")) }

// push queues one message's data (a string or an ArrayBuffer).
func (b *browserChannel) push(data js.Value) {
	b.mu.Lock()
	var msg []byte
	switch {
	case data.Type() == js.TypeString:
		msg = []byte(data.String())
	case data.InstanceOf(jsArrayBuffer):
		u8 := jsUint8Array.New(data)
		msg = b.allocLocked(u8.Length())
		js.CopyBytesToGo(msg, u8)
	default:
		// A Blob: someone changed binaryType. It cannot be read here, and
		// dropping it would corrupt the stream.
		b.mu.Unlock()
		b.breakChannel()
		return
	}
	if b.overflow || b.unblocked {
		b.mu.Unlock()
		return
	}
	if b.queued+len(msg) > b.limit {
		b.mu.Unlock()
		b.breakChannel()
		return
	}
	b.queue = append(b.queue, msg)
	b.queued += len(msg)
	b.cond.Broadcast()
	b.mu.Unlock()
}

// slabSize is the size of the buffers messages are copied into.
const slabSize = 256 << 10

// allocLocked returns a new buffer of n bytes for a message: a piece of a slab of fresh memory,
// taken in order, so that a 32 KiB message costs no allocation of its own (at 32 KiB Go
// allocates each one as a large object, with its own span: 50 µs each in Chromium, 2026-11).
//
// The memory is fresh, never pooled, on purpose: each message event pins its ArrayBuffer in
// wasm_exec.js's value table through the js.Values above, until the Go GC finalizes them.
// Allocating as many bytes as arrive keeps the GC running in step with them; with pooled
// buffers it hardly ran, and a 1 GiB download held 646 MB of array buffers in the page (e2e
// TestDownload1GiBThroughWorker, 2026-11). A slab lives until the last message in it is read.
func (b *browserChannel) allocLocked(n int) []byte {
	if n > len(b.slab) {
		if n > slabSize/4 {
			return make([]byte, n)
		}
		b.slab = make([]byte, slabSize)
	}
	m := b.slab[:n:n]
	b.slab = b.slab[n:]
	return m
}

// breakChannel fails reads with ErrReceiveOverflow and closes the channel so
// that the peer stops sending.
func (b *browserChannel) breakChannel() {
	b.mu.Lock()
	b.overflow = true
	b.queue, b.queued = nil, 0
	b.cond.Broadcast()
	b.mu.Unlock()
	defer func() { _ = recover() }()
	b.v.Call("close")
}

func (b *browserChannel) label() string { return b.lbl }

func (b *browserChannel) read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		switch {
		case b.unblocked:
			return 0, errChannelClosed
		case b.overflow:
			return 0, ErrReceiveOverflow
		case len(b.queue) > 0:
			m := b.queue[0]
			if len(p) < len(m) {
				return 0, io.ErrShortBuffer
			}
			n := copy(p, m)
			b.queue[0] = nil
			b.queue = b.queue[1:]
			b.queued -= n
			return n, nil
		case b.remoteClosed:
			return 0, io.EOF
		}
		b.cond.Wait()
	}
}

// write sends p with RTCDataChannel.send, which copies it and does not block.
func (b *browserChannel) write(p []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("send: %v", r)
		}
	}()
	if rs := b.v.Get("readyState").String(); rs != "open" {
		return fmt.Errorf("send: channel is %s", rs)
	}
	u8 := jsUint8Array.New(len(p))
	js.CopyBytesToJS(u8, p)
	b.v.Call("send", u8)
	return nil
}

func (b *browserChannel) bufferedAmount() int { return b.v.Get("bufferedAmount").Int() }

// drained reports whether the browser has handed every message to its SCTP stack; the
// RTCDataChannel API tells no more than that.
func (b *browserChannel) drained() bool { return b.bufferedAmount() == 0 }

func (b *browserChannel) setOnLow(threshold int, f func()) {
	b.v.Set("bufferedAmountLowThreshold", threshold)
	b.mu.Lock()
	b.onLow = f
	b.mu.Unlock()
}

func (b *browserChannel) unblock() {
	b.mu.Lock()
	b.unblocked = true
	b.cond.Broadcast()
	b.mu.Unlock()
}

// close closes the RTCDataChannel, drops unread messages and releases the
// handlers. It may be called more than once.
func (b *browserChannel) close() (err error) {
	b.mu.Lock()
	if b.released {
		b.mu.Unlock()
		return nil
	}
	b.released = true
	b.unblocked = true
	b.queue, b.queued, b.slab = nil, 0, nil
	b.openFn = nil
	b.onLow = nil
	b.cond.Broadcast()
	b.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("close: %v", r)
		}
	}()
	b.v.Call("close")
	b.handlers.release(b.v)
	return nil
}
