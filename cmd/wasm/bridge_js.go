package main

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"sync"
	"syscall/js"

	"github.com/rangecast/rangecast/internal/jsutil"
	"github.com/rangecast/rangecast/pkg/connect"
)

var (
	jsGlobal      = js.Global()
	jsObject      = jsGlobal.Get("Object")
	jsPromise     = jsGlobal.Get("Promise")
	jsError       = jsGlobal.Get("Error")
	jsUint8Array  = jsGlobal.Get("Uint8Array")
	jsAbortSignal = jsGlobal.Get("AbortSignal")
)

// jsFunc is the shape of every exported function: this, then the arguments.
type jsFunc func(this js.Value, args []js.Value) any

// newJSError makes the Error a rejection carries: message from err, code from connect.CodeOf.
func newJSError(err error) js.Value {
	e := jsError.New(err.Error())
	e.Set("name", "RangecastError")
	e.Set("code", string(connect.CodeOf(err)))
	return e
}

// badArgf reports a wrong argument.
func badArgf(format string, args ...any) error {
	return connect.Errorf(connect.CodeBadArgument, format, args...)
}

// panicError turns a recovered panic into an error with code "internal", and reports the
// stack on the console, where a developer will look for it.
func panicError(r any) error {
	err := connect.Errorf(connect.CodeInternal, "internal error: %v", r)
	func() {
		defer func() { _ = recover() }()
		jsGlobal.Get("console").Call("error", "rangecast: panic:", fmt.Sprint(r), "\n"+string(debug.Stack()))
	}()
	return err
}

// async wraps fn as a JavaScript function that returns a Promise at once and runs fn on its
// own goroutine: the callback itself never blocks. fn's result is converted with js.ValueOf;
// its error, or a panic, rejects the Promise with an Error carrying a code.
func async(fn func(this js.Value, args []js.Value) (any, error)) js.Func {
	return js.FuncOf(func(this js.Value, args []js.Value) any {
		return promise(func() (any, error) { return fn(this, args) })
	})
}

// promise runs fn on a new goroutine and returns a Promise settled with its outcome.
func promise(fn func() (any, error)) js.Value {
	p, resolve, reject := newPromise()
	go func() {
		v, err := settle(fn)
		if err != nil {
			reject.Invoke(newJSError(err))
			return
		}
		resolve.Invoke(v)
	}()
	return p
}

// hasWithResolvers: Promise.withResolvers exists (Chromium 119, Node 22).
var hasWithResolvers = jsPromise.Get("withResolvers").Type() == js.TypeFunction

// newPromise returns a pending Promise and its resolve and reject functions. With
// Promise.withResolvers it is one call; otherwise an executor function captures them,
// synchronously inside the Promise constructor, so it can be released right after. Every call
// of a Go function from JavaScript costs several property reads and a finalizer per value in
// syscall/js, and a stream pull makes a Promise per chunk.
func newPromise() (p, resolve, reject js.Value) {
	if hasWithResolvers {
		r := jsPromise.Call("withResolvers")
		return r.Get("promise"), r.Get("resolve"), r.Get("reject")
	}
	exec := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject = args[0], args[1]
		return nil
	})
	p = jsPromise.New(exec)
	exec.Release()
	return p, resolve, reject
}

// settle runs fn and converts its result to a js.Value, turning a panic in either into an
// error.
func settle(fn func() (any, error)) (v js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = js.Undefined(), panicError(r)
		}
	}()
	res, err := fn()
	if err != nil {
		return js.Undefined(), err
	}
	return js.ValueOf(res), nil
}

// syncFunc wraps a synchronous function (a getter, stats()): a panic is reported on the console
// and the function returns undefined, since Go cannot throw into JavaScript.
func syncFunc(fn jsFunc) js.Func {
	return js.FuncOf(func(this js.Value, args []js.Value) (v any) {
		defer func() {
			if r := recover(); r != nil {
				_ = panicError(r)
				v = js.Undefined()
			}
		}()
		return js.ValueOf(fn(this, args)) // converted here, where a panic is still caught
	})
}

// goSafe runs fn on a new goroutine; a panic there is reported instead of killing the
// program, which would leave every later call failing with "Go program has already exited".
func goSafe(fn func()) {
	go func() {
		defer func() {
			if r := recover(); r != nil {
				_ = panicError(r)
			}
		}()
		fn()
	}()
}

// Argument checks. JavaScript passes undefined for missing arguments, so a count check is
// "at most n", and a required argument is one that is not undefined.

func checkArgs(args []js.Value, minN, maxN int, sig string) error {
	if len(args) < minN || len(args) > maxN {
		return badArgf("%s: %d arguments", sig, len(args))
	}
	return nil
}

func argString(args []js.Value, i int, sig, name string) (string, error) {
	if i >= len(args) || args[i].Type() != js.TypeString {
		return "", badArgf("%s: %s must be a string", sig, name)
	}
	return args[i].String(), nil
}

// argOptions returns the options object at i, or undefined if it is absent, undefined or null.
func argOptions(args []js.Value, i int, sig string) (js.Value, error) {
	if i >= len(args) || args[i].IsUndefined() || args[i].IsNull() {
		return js.Undefined(), nil
	}
	if args[i].Type() != js.TypeObject {
		return js.Undefined(), badArgf("%s: options must be an object", sig)
	}
	return args[i], nil
}

// optField returns options[name], or undefined.
func optField(opts js.Value, name string) js.Value {
	if opts.IsUndefined() {
		return opts
	}
	return opts.Get(name)
}

// toInt checks that v is an integer number in [lo, hi] and returns it.
func toInt(v js.Value, lo, hi int64, sig, name string) (int64, error) {
	if v.Type() != js.TypeNumber {
		return 0, badArgf("%s: %s must be a number", sig, name)
	}
	f := v.Float()
	if f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, badArgf("%s: %s must be an integer from %d to %d, not %v", sig, name, lo, hi, f)
	}
	return int64(f), nil
}

// maxSafeInt is Number.MAX_SAFE_INTEGER: offsets above it cannot be exact in JavaScript.
const maxSafeInt = 1<<53 - 1

// signalContext derives a context that ends when the AbortSignal in options.signal fires. The
// returned stop removes the listener and must be called.
func signalContext(parent context.Context, opts js.Value, sig string) (context.Context, func(), error) {
	s := optField(opts, "signal")
	if s.IsUndefined() || s.IsNull() {
		ctx, cancel := context.WithCancel(parent)
		return ctx, cancel, nil
	}
	if jsAbortSignal.IsUndefined() || !s.InstanceOf(jsAbortSignal) {
		return nil, nil, badArgf("%s: options.signal must be an AbortSignal", sig)
	}
	ctx, cancel := context.WithCancelCause(parent)
	if s.Get("aborted").Bool() {
		cancel(context.Canceled)
		return ctx, func() {}, nil
	}
	onAbort := js.FuncOf(func(js.Value, []js.Value) any {
		cancel(context.Canceled)
		return nil
	})
	s.Call("addEventListener", "abort", onAbort)
	var once sync.Once
	stop := func() {
		once.Do(func() {
			s.Call("removeEventListener", "abort", onAbort)
			onAbort.Release()
			cancel(nil)
		})
	}
	return ctx, stop, nil
}

// registry maps JavaScript objects to the Go values behind them. The objects' methods live
// once on a shared prototype (so a method called after close still answers, with a
// rejection), and find their Go value through a WeakMap that nobody else can read or forge.
// A FinalizationRegistry tells the Go value when its object has been garbage-collected, so
// that a File or stream the page dropped without closing releases its server handle.
type registry struct {
	mu   sync.Mutex
	next int
	wm   js.Value
	fr   js.Value // FinalizationRegistry, or undefined where there is none
	objs map[int]any
}

// finalizer is implemented by Go values that release something when their object is
// garbage-collected. finalize runs on its own goroutine.
type finalizer interface{ finalize() }

func newRegistry() *registry {
	r := &registry{wm: jsGlobal.Get("WeakMap").New(), objs: make(map[int]any)}
	if fr := jsGlobal.Get("FinalizationRegistry"); fr.Type() == js.TypeFunction {
		// Never released: it lives as long as the registry, which lives as long as the program.
		cb := js.FuncOf(func(_ js.Value, args []js.Value) any {
			if len(args) == 0 || args[0].Type() != js.TypeNumber {
				return nil
			}
			id := args[0].Int()
			r.mu.Lock()
			v := r.objs[id]
			delete(r.objs, id)
			r.mu.Unlock()
			if f, ok := v.(finalizer); ok {
				goSafe(f.finalize)
			}
			return nil
		})
		r.fr = fr.New(cb)
	}
	return r
}

// add maps obj to v and returns the id under which remove forgets it.
func (r *registry) add(obj js.Value, v any) int {
	r.mu.Lock()
	r.next++
	id := r.next
	r.objs[id] = v
	r.mu.Unlock()
	r.wm.Call("set", obj, id)
	if !r.fr.IsUndefined() {
		r.fr.Call("register", obj, id)
	}
	return id
}

// lookup returns the Go value behind this. It reports false for an object that was never
// registered (a method called on something else) and nil, true for one already removed.
func (r *registry) lookup(this js.Value) (any, bool) {
	if this.Type() != js.TypeObject {
		return nil, false
	}
	id := r.wm.Call("get", this)
	if id.Type() != js.TypeNumber {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.objs[id.Int()], true
}

// remove forgets id: the object's methods then reject with "closed".
func (r *registry) remove(id int) {
	r.mu.Lock()
	delete(r.objs, id)
	r.mu.Unlock()
}

// prototype builds a prototype object inheriting from base (nil: Object.prototype) with the
// given methods and getters. The functions are never released: they are shared by every
// object and live as long as the program.
func prototype(base js.Value, tag string, methods map[string]js.Func, getters map[string]js.Func) js.Value {
	proto := jsObject.Call("create", base)
	for name, f := range methods {
		jsObject.Call("defineProperty", proto, name, map[string]any{
			"value": f, "writable": true, "configurable": true, "enumerable": false,
		})
	}
	for name, f := range getters {
		jsObject.Call("defineProperty", proto, name, map[string]any{
			"get": f, "configurable": true, "enumerable": true,
		})
	}
	jsObject.Call("defineProperty", proto, jsGlobal.Get("Symbol").Get("toStringTag"), map[string]any{
		"value": tag, "configurable": true,
	})
	return proto
}

// dispatch fires a CustomEvent on target. Listeners run synchronously inside this call, and
// may call back into Go: never call it holding a lock those functions take. An exception in
// a listener is reported by the browser, not thrown here.
func dispatch(target js.Value, typ string, detail any) {
	init := map[string]any{"detail": detail}
	ev := jsGlobal.Get("CustomEvent").New(typ, init)
	if _, err := jsutil.Call(target, "dispatchEvent", ev); err != nil {
		_ = panicError(err)
	}
}
