//go:build js

package signal

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"
)

// fetchAPI is the browser api: the page's fetch, with an AbortController for ctx.
type fetchAPI struct{}

func newAPI() api { return fetchAPI{} }

func (fetchAPI) close() {}

// await waits for a JavaScript promise without blocking inside a callback: the callbacks only
// hand the result to a channel.
func await(ctx context.Context, p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	then := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{v: args[0]}
		return nil
	})
	catch := js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "promise rejected"
		if len(args) > 0 && args[0].Truthy() {
			msg = args[0].Call("toString").String()
		}
		ch <- result{err: errors.New(msg)}
		return nil
	})
	defer then.Release()
	defer catch.Release()
	p.Call("then", then, catch)
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		// The caller aborts the fetch; wait for the promise to settle so the funcs can go.
		r := <-ch
		if r.err == nil {
			return r.v, nil
		}
		return js.Undefined(), ctx.Err()
	}
}

func (fetchAPI) do(ctx context.Context, method, url, token string, body []byte) (int, []byte, error) {
	abort := js.Global().Get("AbortController").New()
	stop := context.AfterFunc(ctx, func() { abort.Call("abort") })
	defer stop()

	headers := js.Global().Get("Object").New()
	headers.Set("Authorization", "Bearer "+token)
	init := js.Global().Get("Object").New()
	init.Set("method", method)
	init.Set("headers", headers)
	init.Set("signal", abort.Get("signal"))
	init.Set("cache", "no-store")
	if body != nil {
		headers.Set("Content-Type", "application/json")
		init.Set("body", string(body))
	}
	resp, err := await(ctx, js.Global().Call("fetch", url, init))
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		return 0, nil, fmt.Errorf("fetch: %w", err)
	}
	status := resp.Get("status").Int()
	buf, err := await(ctx, resp.Call("arrayBuffer"))
	if err != nil {
		return status, nil, err
	}
	arr := js.Global().Get("Uint8Array").New(buf)
	n := min(arr.Get("length").Int(), MaxBody)
	b := make([]byte, n)
	js.CopyBytesToGo(b, arr.Call("subarray", 0, n))
	return status, b, nil
}
