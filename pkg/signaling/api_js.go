//go:build js

package signaling

import (
	"context"
	"fmt"
	"syscall/js"

	"github.com/rangecast/rangecast/internal/jsutil"
)

// fetchAPI is the browser api: the page's fetch, with an AbortController for ctx.
type fetchAPI struct{}

func newAPI() api { return fetchAPI{} }

func (fetchAPI) close() {}

// await waits for a JavaScript promise. The caller aborts the fetch when ctx ends, which
// rejects the promise: that rejection is reported as ctx's error.
func await(ctx context.Context, p js.Value) (js.Value, error) {
	v, err := jsutil.Await(p)
	if err != nil && ctx.Err() != nil {
		return js.Undefined(), ctx.Err()
	}
	return v, err
}

func (fetchAPI) do(ctx context.Context, method, url, token string, body []byte) (int, []byte, error) {
	abort := js.Global().Get("AbortController").New()
	stop := context.AfterFunc(ctx, func() { abort.Call("abort") })
	defer stop()

	headers := js.Global().Get("Object").New()
	if token != "" { // none for a relayed link: the relay must not see it
		headers.Set("Authorization", "Bearer "+token)
	}
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
