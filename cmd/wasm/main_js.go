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

// main installs globalThis.rangecast, announces it with a "rangecast:ready" event on
// globalThis whose detail is the API (the page adds its listener before go.run, which runs
// main synchronously up to the select), and then waits for calls forever.
func main() {
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
