package peer

import (
	"errors"
	"syscall/js"
)

// InterceptMessages puts a JavaScript function in front of the channel's own message handler,
// for a page that takes some messages itself before they reach Go: every message that passes
// through Go costs a call from JavaScript into the wasm (web/boot.js takes the DATA of a
// File.stream() so: pkg/rangefs DirectRead, cmd/wasm/file_js.go).
//
// wrap is called once with the channel's handler, a function of a message event, and returns
// the function to install as the RTCDataChannel's onmessage in its place; that function
// passes each message it does not take on to the handler, in order. What it takes never
// reaches Read, nor counts against BrowserOptions.ReceiveQueueSize.
func (ch *Channel) InterceptMessages(wrap js.Value) error {
	b, ok := ch.t.(*browserChannel)
	if !ok {
		return errors.New("peer: intercept: not a browser channel")
	}
	if wrap.Type() != js.TypeFunction {
		return errors.New("peer: intercept: wrap is not a function")
	}
	h := b.v.Get("onmessage")
	if h.Type() != js.TypeFunction {
		return errors.New("peer: intercept: the channel is closed")
	}
	f := wrap.Invoke(h)
	if f.Type() != js.TypeFunction {
		return errors.New("peer: intercept: wrap did not return a function")
	}
	b.v.Set("onmessage", f)
	return nil
}
