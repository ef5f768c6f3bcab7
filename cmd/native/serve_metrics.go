package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/relay"
	"github.com/rangecast/rangecast/pkg/udpmux"
)

// daemonMetrics are `rangecast serve --metrics-listen`'s Prometheus metrics. No label
// carries a peer's address, a path or the token.
type daemonMetrics struct {
	sessions      atomic.Int64 // sessions running (OnConnect in progress)
	sessionsTotal atomic.Int64
	sent, recv    atomic.Int64 // UDP bytes to and from peers
}

// countingMux counts the bytes of every peer's ICE connection on the one UDP port: what the
// daemon serves, with DTLS and SCTP framing.
type countingMux struct {
	*udpmux.Mux
	m *daemonMetrics
}

func (c countingMux) GetConn(ufrag string, addr net.Addr) (net.PacketConn, error) {
	pc, err := c.Mux.GetConn(ufrag, addr)
	if err != nil {
		return nil, err
	}
	return &countingPacketConn{pc, c.m}, nil
}

type countingPacketConn struct {
	net.PacketConn
	m *daemonMetrics
}

func (c *countingPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(p)
	c.m.recv.Add(int64(n))
	return n, a, err
}

func (c *countingPacketConn) WriteTo(p []byte, a net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(p, a)
	c.m.sent.Add(int64(n))
	return n, err
}

// onConnect counts the sessions fn serves.
func (m *daemonMetrics) onConnect(fn func(context.Context, *peer.Conn)) func(context.Context, *peer.Conn) {
	return func(ctx context.Context, c *peer.Conn) {
		m.sessions.Add(1)
		m.sessionsTotal.Add(1)
		defer m.sessions.Add(-1)
		fn(ctx, c)
	}
}

// serveMetrics serves the registry on http://addr/metrics until ctx ends. An address without
// a host (":9090", "9090") is loopback's.
func (m *daemonMetrics) serve(ctx context.Context, addr string, peers func() int, rd func() *relay.Daemon, log *slog.Logger) error {
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, v *atomic.Int64, labels prometheus.Labels) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, func() float64 { return float64(v.Load()) })
	}
	const bytesHelp = "UDP bytes exchanged with peers on the daemon's port (DTLS and SCTP framing included), by direction."
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		gauge("rangecast_daemon_peers", "Peers holding a slot (being set up or connected).", func() float64 { return float64(peers()) }),
		gauge("rangecast_daemon_sessions", "File sessions running.", func() float64 { return float64(m.sessions.Load()) }),
		counter("rangecast_daemon_sessions_total", "Peers connected and handed to the file server.", &m.sessionsTotal, nil),
		counter("rangecast_daemon_bytes_total", bytesHelp, &m.sent, prometheus.Labels{"direction": "sent"}),
		counter("rangecast_daemon_bytes_total", bytesHelp, &m.recv, prometheus.Labels{"direction": "received"}),
		gauge("rangecast_daemon_relay_registered", "1 while registered on a relay (0 without --relay).", func() float64 {
			if d := rd(); d != nil && d.Registered() {
				return 1
			}
			return 0
		}),
	)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: --metrics-listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttpHandler(reg))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	go func() { <-ctx.Done(); _ = hs.Close() }()
	log.Info("metrics serving", "url", "http://"+ln.Addr().String()+"/metrics")
	return nil
}
