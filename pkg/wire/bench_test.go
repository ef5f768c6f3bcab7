package wire_test

import (
	"testing"

	"github.com/rangecast/rangecast/pkg/wire"
)

// benchData is a 64 KiB DATA frame, the size a READ is typically answered in.
func benchData() *wire.Data {
	d := &wire.Data{Offset: 1 << 30, Bytes: make([]byte, 64<<10)}
	for i := range d.Bytes {
		d.Bytes[i] = byte(i)
	}
	return d
}

func BenchmarkParseData(b *testing.B) {
	in := wire.AppendFrame(nil, 7, benchData())
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		_, f, n, err := wire.ParseFrame(in, wire.MaxFrameSize-wire.HeaderLen)
		if err != nil || n != len(in) || f == nil {
			b.Fatalf("ParseFrame: n=%d, err=%v", n, err)
		}
	}
}

func BenchmarkAppendData(b *testing.B) {
	var f wire.Frame = benchData()
	buf := make([]byte, 0, wire.HeaderLen+f.PayloadLen())
	b.ReportAllocs()
	b.SetBytes(int64(cap(buf)))
	for b.Loop() {
		buf = wire.AppendFrame(buf[:0], 7, f)
	}
	if len(buf) != cap(buf) {
		b.Fatalf("appended %d bytes, want %d", len(buf), cap(buf))
	}
}

// BenchmarkParseMessageData is BenchmarkParseData through ParseMessage, the receive path of
// every session.
func BenchmarkParseMessageData(b *testing.B) {
	in := wire.AppendFrame(nil, 7, benchData())
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		_, f, err := wire.ParseMessage(in, wire.MaxFrameSize-wire.HeaderLen)
		if err != nil || f == nil {
			b.Fatalf("ParseMessage: %v", err)
		}
	}
}
