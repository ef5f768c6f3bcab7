// Package signal carries WebRTC signaling between a rangecast client and the daemon over
// HTTP: the daemon's Handler (native only), a client for it on both targets (net/http
// natively, the browser's fetch under GOOS=js), and Connect, which turns a link into an open
// rangefs session.
//
// The HTTP API, under /api/v1/, every request carrying "Authorization: Bearer TOKEN":
//
//	POST   /api/v1/sessions               body: the offer Signal → 201 {"id", "answer"}
//	POST   /api/v1/sessions/{id}/signals  body: [Signal…] (candidates)  → 204
//	GET    /api/v1/sessions/{id}/signals?after=N → 200 {"signals", "next", "done"} (long poll)
//	DELETE /api/v1/sessions/{id}          → 204
//
// docs/SIGNALING.md describes it in full, with its limits and error codes.
package signal
