//go:build js

// Command wasm is rangecast's browser client: compiled with GOOS=js GOARCH=wasm, it installs one
// global, globalThis.rangecast, whose connect() dials the daemon named by a link over WebRTC
// and returns a Remote for listing, stat-ing and reading files. web/api.d.ts declares the whole
// JavaScript API; web/app.js is the page built on it.
//
// Rules every JavaScript-callable function here follows: it never blocks (I/O runs on its own
// goroutine and answers through a Promise), it never lets a panic escape (panics become
// rejections with code "internal"), it checks its arguments (rejections with code
// "bad_argument"), and every failure is a real Error whose code property is one of the stable
// strings of connect.Code (pkg/connect/errors.go).
package main
