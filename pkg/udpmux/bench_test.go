//go:build !js

package udpmux

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"golang.org/x/net/ipv4"
)

// benchMux is one contender: a mux and the address its conns are for.
type benchMux struct {
	name string
	open func(tb testing.TB) (ice.UDPMux, net.Addr)
}

// contenders are pion's UDPMuxDefault on one socket (with the same 4 MiB
// socket buffer) and this package's Mux in four shapes, to tell what the
// extra readers and the batched reads each bring.
func contenders() []benchMux {
	ours := func(readers, batch int) func(tb testing.TB) (ice.UDPMux, net.Addr) {
		return func(tb testing.TB) (ice.UDPMux, net.Addr) {
			m := newMux(tb, Options{Readers: readers, Batch: batch})
			return m, m.LocalAddr()
		}
	}
	return []benchMux{
		{"pion", openPionMux},
		{"udpmux-r1-b1", ours(1, 1)},
		{"udpmux-r1-b32", ours(1, 32)},
		{"udpmux-r2-b1", ours(2, 1)},
		{"udpmux-r2-b32", ours(2, 32)},
	}
}

func openPionMux(tb testing.TB) (ice.UDPMux, net.Addr) {
	tb.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	_ = c.SetReadBuffer(DefaultSocketBufferSize)
	_ = c.SetWriteBuffer(DefaultSocketBufferSize)
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	m := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: c, Logger: lf.NewLogger("ice")})
	tb.Cleanup(func() { _ = m.Close() })
	return m, c.LocalAddr()
}

// BenchmarkDemux measures the demultiplexer: one goroutine sends from 16
// sockets (sendmmsg, 32 per call) to the mux, which delivers to 16 conns,
// each drained by a goroutine. Keyed by "stun", every datagram is a
// connectivity check routed by its USERNAME; by "addr", a 200-byte DTLS-like
// record routed by its source address.
//
// With load=blast the sender goes as fast as it can, faster than any reader,
// and the excess is lost in the socket buffer: delivered/s is the mux's
// capacity on this machine (sender, readers and consumers share its cores).
// With load=paced it sends 100,000 datagrams/s, which every contender keeps
// up with: cpu-ns/delivered, the process's CPU time per datagram delivered
// (sender and consumers included, the same for all), is the mux's cost, and
// is less sensitive than wall-clock rates to other load on the machine.
func BenchmarkDemux(b *testing.B) {
	for _, key := range []string{"stun", "addr"} {
		for _, load := range []string{"blast", "paced"} {
			for _, c := range contenders() {
				b.Run(fmt.Sprintf("key=%s/load=%s/mux=%s", key, load, c.name), func(b *testing.B) {
					mux, addr := c.open(b)
					benchDemux(b, mux, addr, key, load == "paced")
				})
			}
		}
	}
}

func benchDemux(b *testing.B, mux ice.UDPMux, to net.Addr, key string, paced bool) {
	const k = 16
	conns := make([]net.PacketConn, k)
	senders := make([]*ipv4.PacketConn, k)
	batches := make([][]ipv4.Message, k)
	for i := range k {
		ufrag := fmt.Sprintf("bench%02d", i)
		c, err := mux.GetConn(ufrag, to)
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = c
		s := sender(b, "udp4")
		_ = s.SetWriteBuffer(DefaultSocketBufferSize)
		senders[i] = ipv4.NewPacketConn(s)
		var payload []byte
		switch key {
		case "stun":
			payload = bindingRequest(b, ufrag+":remote")
		default:
			payload = append([]byte{0x17, 0xfe, 0xfd}, make([]byte, 197)...)
			if _, err := c.WriteTo([]byte("map"), s.LocalAddr()); err != nil { // maps the address
				b.Fatal(err)
			}
		}
		batches[i] = make([]ipv4.Message, 32)
		for j := range batches[i] {
			batches[i][j] = ipv4.Message{Buffers: [][]byte{payload}, Addr: to}
		}
	}

	var delivered atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := c.ReadFrom(buf); err != nil {
					return
				}
				delivered.Add(1)
			}
		})
	}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
		wg.Wait()
	}()

	// Paced: 32 datagrams every 320 µs, 100,000/s.
	const batchEvery = 320 * time.Microsecond
	b.ResetTimer()
	start := time.Now()
	cpuStart := processCPU()
	sent := 0
	for i := 0; sent < b.N; i++ {
		if paced {
			if wait := time.Until(start.Add(time.Duration(i) * batchEvery)); wait > 0 {
				time.Sleep(wait)
			}
		}
		ms := batches[i%k][:min(32, b.N-sent)]
		n, err := senders[i%k].WriteBatch(ms, 0)
		if err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	b.StopTimer()
	// Let the readers drain what the sockets hold; the run ends with the
	// last delivery seen (to within a millisecond).
	end := time.Now()
	for last, quiet := delivered.Load(), 0; last < int64(b.N) && quiet < 20; {
		time.Sleep(time.Millisecond)
		if d := delivered.Load(); d != last {
			last, end, quiet = d, time.Now(), 0
		} else {
			quiet++
		}
	}
	elapsed := end.Sub(start)
	cpu := processCPU() - cpuStart
	d := delivered.Load()
	b.ReportMetric(float64(d)/elapsed.Seconds(), "delivered/s")
	b.ReportMetric(100*(1-float64(d)/float64(b.N)), "loss%")
	if d > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(d), "cpu-ns/delivered")
	}
}

// BenchmarkSessionSetup measures how fast pion sessions connect through each
// mux: a Client with its own sockets and a Server on the mux, up to the
// first ping answered, then both closed; one at a time ("serial") and eight
// at a time ("par8"). ns/op is per session.
func BenchmarkSessionSetup(b *testing.B) {
	for _, par := range []int{1, 8} {
		for _, c := range []benchMux{contenders()[0], contenders()[4]} {
			name := fmt.Sprintf("par=%d/mux=%s", par, c.name)
			b.Run(name, func(b *testing.B) {
				mux, _ := c.open(b)
				sem := make(chan struct{}, par)
				var wg sync.WaitGroup
				var failed atomic.Int32
				b.ResetTimer()
				for range b.N {
					sem <- struct{}{}
					wg.Go(func() {
						defer func() { <-sem }()
						if err := setupOnce(mux); err != nil {
							failed.Add(1)
							b.Error(err)
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
			})
		}
	}
}

func setupOnce(mux ice.UDPMux) error {
	s, err := newSession(mux)
	if err != nil {
		return err
	}
	defer s.close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = s.client.Ping(ctx)
	return err
}

// BenchmarkDispatch measures the routing work per datagram without the
// system calls around it: a reader's dispatch of a check (by USERNAME) or
// of a DTLS record (by address) into a conn's queue, and the conn's read.
func BenchmarkDispatch(b *testing.B) {
	for _, key := range []string{"stun", "addr"} {
		b.Run("key="+key, func(b *testing.B) {
			m := newMux(b, Options{Readers: 1, QueueLen: 1 << 16})
			c, err := m.GetConn("dispatch", m.LocalAddr())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			from := netip.MustParseAddrPort("127.0.0.1:40000")
			payload := append([]byte{0x17, 0xfe, 0xfd}, make([]byte, 197)...)
			if key == "stun" {
				payload = bindingRequest(b, "dispatch:remote")
			} else if _, err := c.WriteTo([]byte("map"), net.UDPAddrFromAddrPort(from)); err != nil {
				b.Fatal(err)
			}
			rd := m.readers[0]
			pc := c.(*conn) //nolint:forcetypeassert // the mux's own type
			buf := make([]byte, 1500)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				rd.dispatch(payload, from)
				if _, _, err := pc.ReadFromAddrPort(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSessionsThroughput connects 50 pion sessions through each mux
// (the servers on the mux, the clients on their own sockets), then has all
// of them echo 1 MiB at once, each checked by sha256. MB/s is the aggregate
// of the bytes each session sent and got back, per second, over one op: all
// 50 echoes. Setup is not timed.
func BenchmarkSessionsThroughput(b *testing.B) {
	const (
		sessions = 50
		size     = 1 << 20
	)
	noBatch := benchMux{"udpmux-r2-b32-nobatchwrite", func(tb testing.TB) (ice.UDPMux, net.Addr) {
		m := newMux(tb, Options{Readers: 2, Batch: 32, NoBatchWrite: true})
		return m, m.LocalAddr()
	}}
	for _, c := range []benchMux{contenders()[0], contenders()[4], noBatch} {
		b.Run("sessions=50/mux="+c.name, func(b *testing.B) {
			mux, _ := c.open(b)
			ss := make([]*session, sessions)
			defer closeAll(ss)
			for i := range ss {
				s, err := newSession(mux)
				if err != nil {
					b.Fatal(err)
				}
				ss[i] = s
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			b.SetBytes(2 * sessions * size) // out and back
			b.ResetTimer()
			for range b.N {
				var wg sync.WaitGroup
				errs := make([]error, sessions)
				for i, s := range ss {
					wg.Go(func() { errs[i] = s.echo(ctx, size, 16<<10, byte(i)) })
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						b.Fatalf("session %d: %v", i, err)
					}
				}
			}
		})
	}
}
