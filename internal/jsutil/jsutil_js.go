// Package jsutil holds the few syscall/js helpers that the browser builds of pkg/peer,
// pkg/signaling and cmd/wasm share: calling into JavaScript without letting an exception kill
// the Go program, and waiting for a Promise.
package jsutil

import (
	"errors"
	"fmt"
	"syscall/js"
)

// Try runs f, turning a JavaScript exception (which syscall/js raises as a panic) into an
// error.
func Try(f func() js.Value) (v js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(js.Error); ok {
				err = ErrorOf(e.Value)
				return
			}
			err = fmt.Errorf("%v", r)
		}
	}()
	return f(), nil
}

// Call calls v[method](args...); an exception becomes an error naming the method.
func Call(v js.Value, method string, args ...any) (js.Value, error) {
	res, err := Try(func() js.Value { return v.Call(method, args...) })
	if err != nil {
		return js.Undefined(), fmt.Errorf("%s: %w", method, err)
	}
	return res, nil
}

// Await waits for the Promise p to settle and returns its value, or its rejection reason as
// an error. It blocks, so it must not run inside a JavaScript callback; the callbacks it
// installs only hand the outcome to a channel.
func Await(p js.Value) (js.Value, error) {
	type settled struct {
		v   js.Value
		err error
	}
	ch := make(chan settled, 1)
	onOK := js.FuncOf(func(_ js.Value, a []js.Value) any {
		ch <- settled{v: arg0(a)}
		return nil
	})
	onErr := js.FuncOf(func(_ js.Value, a []js.Value) any {
		ch <- settled{err: ErrorOf(arg0(a))}
		return nil
	})
	defer onOK.Release()
	defer onErr.Release()
	p.Call("then", onOK, onErr)
	r := <-ch
	if r.err != nil {
		return js.Undefined(), r.err
	}
	return r.v, nil
}

// AwaitCall calls v[method](args...), which returns a Promise, and waits for it: a
// synchronous exception or a rejection becomes an error naming the method.
func AwaitCall(v js.Value, method string, args ...any) (js.Value, error) {
	p, err := Call(v, method, args...)
	if err != nil {
		return js.Undefined(), err
	}
	res, err := Await(p)
	if err != nil {
		return js.Undefined(), fmt.Errorf("%s: %w", method, err)
	}
	return res, nil
}

func arg0(a []js.Value) js.Value {
	if len(a) == 0 {
		return js.Undefined()
	}
	return a[0]
}

// ErrorOf describes a thrown or rejected JavaScript value: "Name: message" for an Error (a
// DOMException included), its string form otherwise.
func ErrorOf(v js.Value) error {
	if v.Type() == js.TypeObject {
		if msg := v.Get("message"); msg.Type() == js.TypeString {
			if name := v.Get("name"); name.Type() == js.TypeString && name.String() != "" {
				return fmt.Errorf("%s: %s", name.String(), msg.String())
			}
			return errors.New(msg.String())
		}
	}
	if v.IsUndefined() || v.IsNull() {
		return errors.New("rejected without a reason")
	}
	return errors.New(v.String())
}
