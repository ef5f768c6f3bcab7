// Package signal carries WebRTC signaling between a rangecast client and the daemon over
// HTTP: the daemon's Handler (native only), where a peer is accepted, and Dial, a client for
// it on both targets (net/http natively, the browser's fetch under GOOS=js, so that the wasm
// does not link net/http). It knows peers and signals, not what runs over the connection:
// pkg/connect opens the rangefs session on top.
//
// The HTTP API, under /api/v1/, every request carrying "Authorization: Bearer TOKEN":
//
//	POST   /api/v1/peers               body: the offer Signal → 201 {"id", "answer"}
//	POST   /api/v1/peers/{id}/signals  body: [Signal…] (candidates)  → 204
//	GET    /api/v1/peers/{id}/signals?after=N → 200 {"signals", "next", "done"} (long poll)
//	DELETE /api/v1/peers/{id}          → 204
//	GET    /api/v1/status              → 200, the daemon's status (HandlerOptions.Status)
//
// docs/SIGNALING.md describes it in full, with its limits and error codes.
package signaling
