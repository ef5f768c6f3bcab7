package main

import (
	"context"
	"syscall/js"

	"github.com/rangecast/rangecast/internal/jsutil"
	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// predialFor returns the connect.Options.Predialed that takes over the connection web/boot.js
// started while the wasm loaded, if it was started for link; nil otherwise. The connection is
// taken at most once: a second connect, or a reconnect, dials anew. One started for another
// link is closed.
func predialFor(link string) func(context.Context, peer.Config) (*peer.Conn, *peer.Channel, error) {
	boot := jsGlobal.Get("rangecastBoot")
	if boot.Type() != js.TypeObject {
		return nil
	}
	pre := boot.Get("connection")
	if pre.Type() != js.TypeObject {
		return nil
	}
	if !sameLink(pre.Get("link").String(), link) {
		_, _ = jsutil.Call(pre, "discard")
		return nil
	}
	p, err := jsutil.Call(pre, "take")
	if err != nil || p.Type() != js.TypeObject {
		return nil
	}
	return func(ctx context.Context, cfg peer.Config) (*peer.Conn, *peer.Channel, error) {
		// boot.js bounds the setup with its own timeout and settles the promise then; ctx may
		// end first, and the connection is closed when it comes.
		type result struct {
			v   js.Value
			err error
		}
		done := make(chan result, 1)
		go func() {
			v, err := jsutil.Await(p)
			done <- result{v, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-ctx.Done():
			go func() {
				if r := <-done; r.err == nil {
					_, _ = jsutil.Call(r.v.Get("pc"), "close")
				}
			}()
			return nil, nil, context.Cause(ctx)
		}
		if r.err != nil {
			return nil, nil, r.err
		}
		v := r.v
		return peer.Adopt(ctx, cfg, v.Get("pc"), v.Get("ctrl"), v.Get("ctrlHeld"), v.Get("dc"), v.Get("dcHeld"))
	}
}

// sameLink reports whether a and b name the same daemon with the same credential.
func sameLink(a, b string) bool {
	la, err := signaling.ParseLink(a)
	if err != nil {
		return false
	}
	lb, err := signaling.ParseLink(b)
	return err == nil && la == lb
}
