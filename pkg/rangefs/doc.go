// Package rangefs is rangecast's session layer: a Server that serves a directory read-only
// over framed messages (package wire), and a Client that gives random access to it — Stat,
// ReadDir, Open, a File with ReadAt, Read and Seek, and an io/fs.FS adapter.
//
// Both ends run over any Transport: an ordered, reliable transport that keeps message
// boundaries, such as a WebRTC DataChannel (package peer) or the in-memory Pipe used by tests
// and benchmarks. Each message is one frame.
//
// Where things happen:
//   - server.go: a session is accepted (ServeTransport), frames are read and dispatched;
//   - serve_read.go: a READ is served, chunk by chunk, within the credit the client grants;
//   - serve_meta.go: STAT, OPEN and LIST;
//   - client.go, file.go: requests are sent and their streams consumed;
//   - flow.go: credit accounting on both sides.
//
// docs/PROTOCOL.md describes the frames and the rules both ends follow.
package rangefs
