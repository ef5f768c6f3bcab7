// Command rangecast serves a directory to browsers and native clients over WebRTC, and is
// that native client: rangecast serve, get, ls, cat, http, mount.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if setGCDefaults() {
		go collectWhenIdle(ctx, idleCheckEvery, nil)
	}
	// The first signal cancels ctx, which every command's reads and sessions follow; a
	// second one then gets the default action and ends the process at once.
	context.AfterFunc(ctx, stop)
	stopProfile, err := startProfile()
	if err == nil {
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stopProfile()
	}
	stop()
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "rangecast: interrupted:", err)
		os.Exit(130) // 128 + SIGINT, as shells report it
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "rangecast:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "rangecast:", err)
		os.Exit(1)
	}
}
