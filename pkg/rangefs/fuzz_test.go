package rangefs

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rangecast/rangecast/pkg/wire"
)

// fuzzMessages joins frames into the fuzz input format: each message is a 2-byte big-endian
// length and that many bytes.
func fuzzMessages(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
		b = append(b, m...)
	}
	return b
}

func splitFuzzMessages(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		n = min(n, len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// FuzzServeFrames feeds arbitrary messages to a Server after a valid HELLO. Whatever arrives,
// the server must not panic, must only send well-formed frames, must answer a final PING or
// close the session, and ServeTransport must return once the transport closes (goleak in
// TestMain checks that nothing it started is left behind).
func FuzzServeFrames(f *testing.F) {
	dir := f.TempDir()
	must := func(err error) {
		if err != nil {
			f.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "d", "e"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "d", "small"), []byte("hello, world"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "big"), make([]byte, 300_000), 0o644))
	must(os.Symlink("/etc", filepath.Join(dir, "escape")))

	enc := func(stream uint32, fr wire.Frame) []byte { return wire.AppendFrame(nil, stream, fr) }
	f.Add(fuzzMessages(enc(1, &wire.Stat{Path: "d/small"})))
	f.Add(fuzzMessages(enc(1, &wire.Open{Path: "big"}), enc(2, &wire.Read{Handle: 1, Offset: 10, Length: 100_000}), enc(0, &wire.Close{Handle: 1})))
	f.Add(fuzzMessages(enc(1, &wire.Read{Path: "big", Length: 1 << 40}), enc(1, &wire.Credit{Increment: 4096}), enc(0, &wire.Credit{Increment: 4096}), enc(1, &wire.Cancel{})))
	f.Add(fuzzMessages(enc(3, &wire.List{Path: "d", Limit: 1}), enc(5, &wire.List{Path: "d", After: "e"})))
	f.Add(fuzzMessages(enc(1, &wire.Read{Path: "d/small", Offset: 5, Length: 3, IfMatch: `"x"`})))
	f.Add(fuzzMessages(enc(1, &wire.Stat{Path: "escape/passwd"}), enc(2, &wire.Open{Path: "../x"}), enc(0, &wire.Ping{Data: 5})))
	f.Add(fuzzMessages(enc(0, &wire.GoAway{Code: wire.CodeNoError}), enc(0, &wire.ErrorFrame{Code: wire.CodeInternal})))
	f.Add(fuzzMessages(enc(1, &wire.Read{Path: "big", Length: 1000}), enc(1, &wire.Read{Path: "big", Length: 1000})))
	f.Add(fuzzMessages(enc(7, &wire.Unknown{T: 0x55, Payload: []byte{1, 2, 3}}), []byte{0x14, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0}))

	srv, err := NewServer(dir, ServerOptions{MaxStreams: 8, MaxHandles: 4, ListPage: 2, GracePeriod: time.Millisecond})
	must(err)
	f.Cleanup(func() { _ = srv.Close() })

	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := Pipe(64, 1<<16)
		served := make(chan error, 1)
		go func() { served <- srv.ServeTransport(context.Background(), b) }()

		// Drain everything the server sends, checking each frame, until a PONG with our
		// marker or the end of the session.
		const marker = 0xfeedface
		answered := make(chan struct{})
		go func() {
			defer close(answered)
			buf := make([]byte, 1<<16)
			for {
				n, err := a.Read(buf)
				if err != nil {
					return
				}
				h, fr, used, err := wire.ParseFrame(buf[:n], 1<<16)
				if err != nil || used != n {
					t.Errorf("server sent a malformed frame: %v (%d of %d bytes)", err, used, n)
					return
				}
				if p, ok := fr.(*wire.Pong); ok && p.Data == marker && h.Stream == 0 {
					return
				}
			}
		}()

		write := func(m []byte) bool {
			_, err := a.Write(m)
			return err == nil
		}
		ok := write(wire.AppendFrame(nil, 0, &wire.Hello{Version: 1, MaxFrame: 1 << 16, StreamWindow: 4096, SessionWindow: 16384}))
		for _, m := range splitFuzzMessages(data) {
			if !ok {
				break
			}
			ok = write(m)
		}
		if ok {
			write(wire.AppendFrame(nil, 0, &wire.Ping{Data: marker}))
		}
		select {
		case <-answered:
		case <-time.After(10 * time.Second):
			t.Fatal("server neither answered PING nor closed the session")
		}
		_ = a.Close()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("ServeTransport did not return after the transport closed")
		}
	})
}
