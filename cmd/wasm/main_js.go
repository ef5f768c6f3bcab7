package main

import (
	"runtime/debug"
	"syscall/js"

	"github.com/rangecast/rangecast/pkg/rangefs"
)

// version is the release this client belongs to; release builds set it with
// -ldflags "-X main.version=v1.2.3".
var version = "devel"

// versionString appends the commit the binary was built from, when the build recorded one.
func versionString() string {
	v := version
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			v += "+" + s.Value[:12]
		case s.Key == "vcs.modified" && s.Value == "true":
			v += "-dirty"
		}
	}
	return v
}

// The collector's settings. Every DATA message is copied into a fresh Go buffer (see
// peer.browserChannel.push) and the collector runs on the page's one thread, so at Go's
// default GOGC=100 it ran often; at 400 the page took less CPU per GB against the plain-JS
// page, in the same runs (docs/BENCHMARKS.md, "Garbage collection"). The soft limit bounds the
// heap that fewer collections let grow: a page's wasm memory never shrinks, and without it a
// 1 GiB download peaked at 93 MB of it (e2e TestDownload1GiBThroughWorker bounds it at 64 MiB;
// 50 MB with the limit, 39 MB at GOGC=100).
const (
	gcPercent     = 400
	gcMemoryLimit = 48 << 20
)

// main installs globalThis.rangecast, announces it with a "rangecast:ready" event on
// globalThis whose detail is the API (the page adds its listener before go.run, which runs
// main synchronously up to the select), and then waits for calls forever.
func main() {
	debug.SetGCPercent(gcPercent)
	debug.SetMemoryLimit(gcMemoryLimit)
	installRemote()
	installFile()

	rc := jsObject.New()
	rc.Set("version", versionString())
	rc.Set("protocolVersion", rangefs.ProtocolVersion)
	// Never released: the global lives as long as the program.
	rc.Set("connect", async(jsConnect))
	rc.Set("ready", jsPromise.Call("resolve", rc))
	jsObject.Call("freeze", rc)
	jsGlobal.Set("rangecast", rc)

	if jsGlobal.Get("dispatchEvent").Type() == js.TypeFunction && jsGlobal.Get("CustomEvent").Type() == js.TypeFunction {
		dispatch(jsGlobal, "rangecast:ready", rc)
	}
	select {}
}
