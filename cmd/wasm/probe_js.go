package main

import (
	"context"
	"errors"
	"syscall/js"

	"github.com/rangecast/rangecast/internal/jsutil"
	"github.com/rangecast/rangecast/pkg/signal"
)

// probe asks the daemon's HTTP side whether it is still there: any HTTP answer means its
// process is alive (ICE may yet recover), a failed fetch means it is gone. It takes one
// request, where ICE needs seconds to tell a dead peer from a slow one.
func probe(ctx context.Context, link string) error {
	l, err := signal.ParseLink(link)
	if err != nil {
		return err
	}
	abort := jsGlobal.Get("AbortController").New()
	stop := context.AfterFunc(ctx, func() { abort.Call("abort") })
	defer stop()
	init := map[string]any{
		"method":  "GET",
		"headers": map[string]any{"Authorization": "Bearer " + l.Token},
		"signal":  abort.Get("signal"),
		"cache":   "no-store",
	}
	p, err := jsutil.Call(jsGlobal, "fetch", l.Base+signal.APIPrefix+"status", init)
	if err != nil {
		return err
	}
	_, err = await(p)
	return err
}

// await waits for a promise. Its callbacks only hand the outcome to a channel, so they never
// block; it must itself be called on a goroutine, never inside a callback.
func await(p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	then := js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- result{v: v}
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
	r := <-ch
	return r.v, r.err
}
