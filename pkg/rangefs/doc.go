// Package rangefs is rangecast's session layer: a Server that serves a directory read-only
// over framed messages (package wire), and a Client that gives random access to it — Stat,
// ReadDir, Open, a File with ReadAt, Read and Seek, and an io/fs.FS adapter.
//
// Both ends run over any Transport: an ordered, reliable transport that keeps message
// boundaries, such as a WebRTC DataChannel (package peer) or the in-memory Pipe used by tests
// and benchmarks. Each message is one frame.
//
// Files are named by side. The client: client.go (Dial, the read loop, requests),
// client_stream.go (one request's frames and credit), client_file.go (File: ReadAt, Read,
// Seek), client_fs.go (the io/fs.FS adapter). The server: server.go (ServeTransport, the read
// loop, dispatch, GOAWAY), server_meta.go (STAT, OPEN, LIST), server_read.go (READ, chunk by
// chunk within the credit the client grants), server_status.go (how an error becomes END),
// server_info.go (ETags and INFO). Both: framer.go (whole frames on a Transport, HELLO, the
// frame buffer pool), flow.go (receive windows), errors.go, fileinfo.go, path.go, transport.go.
//
// docs/PROTOCOL.md describes the frames and the rules both ends follow.
package rangefs
