// Package connect joins the layers below it into what the daemon and the clients use: it
// dials a daemon from a link (pkg/signaling) over a peer connection (pkg/peer) and opens a
// rangefs session on its data channel (pkg/rangefs), and on the daemon's side it serves files
// to every peer that connects.
//
// A [Remote] is one such connection: a peer.Conn with a session on it. A [Redialer] keeps a
// Remote alive for an application that lives longer than one connection (the web app): it
// watches the connection, replaces it when it is lost, backing off between attempts, reports
// each state change, and measures throughput. [DialStripes] adds connections to a download
// striped over several (rangefs.Striped). [CodeOf] maps every error the layers return onto
// one table of stable codes ([Code]), the ones the JavaScript API rejects with and the native
// client explains.
//
// Everything here is plain Go and builds for both targets; only the defaults differ
// (window.go, window_js.go, options_native.go).
package connect
