package relay

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are a relay's Prometheus metrics, in a registry of their own (with the Go runtime's
// and the process's), so that several relays in one process (tests, benchmarks) keep theirs
// apart. No label carries an id, an address or anything a client sent.
type Metrics struct {
	reg           *prometheus.Registry
	registrations prometheus.Counter
	requests      *prometheus.CounterVec   // route, result
	latency       *prometheus.HistogramVec // route, kind
	refusals      *prometheus.CounterVec   // reason
}

// connectedRouter is a Router that knows whether it reaches the other instances.
type connectedRouter interface{ Connected() bool }

func newMetrics(s *Server) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		registrations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rangecast_relay_registrations_total",
			Help: "Daemon registrations accepted by this instance.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rangecast_relay_signaling_requests_total",
			Help: "Signaling requests forwarded, by route (local: the daemon is registered on this instance; cluster: on another, through NATS) and result.",
		}, []string{"route", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rangecast_relay_forward_seconds",
			Help:    "Time from forwarding a signaling request to its daemon's answer, by route and kind (long_poll: GET …/signals, which waits up to 20 s by design).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 25},
		}, []string{"route", "kind"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rangecast_relay_refusals_total",
			Help: "Requests and registrations refused, by reason (the error code answered, or the registration's close reason).",
		}, []string{"reason"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.registrations, m.requests, m.latency, m.refusals,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rangecast_relay_daemons_online",
			Help: "Daemons registered on this instance (sum over instances for a cluster).",
		}, func() float64 { return float64(s.Daemons()) }),
	)
	if c, ok := s.router.(connectedRouter); ok {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rangecast_relay_cluster_connected",
			Help: "1 while this instance is connected to NATS.",
		}, func() float64 {
			if c.Connected() {
				return 1
			}
			return 0
		}))
	}
	if t := s.opts.TURN; t != nil {
		t.registerMetrics(m.reg)
	}
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry returns the registry, for tests and embedders.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

func (m *Metrics) registered() { m.registrations.Inc() }

func (m *Metrics) refuse(reason string) { m.refusals.WithLabelValues(reason).Inc() }

// refuseRegistration counts a failed handshake under its close reason, or "handshake_failed"
// for a connection that broke.
func (m *Metrics) refuseRegistration(err error) {
	switch r := err.Error(); r {
	case "bad_message", "bad_signature", "id_mismatch":
		m.refuse(r)
	default:
		m.refuse("handshake_failed")
	}
}

func (m *Metrics) forwarded(route string, poll bool, d time.Duration, err error) {
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, ErrOffline):
		result = "offline"
	case errors.Is(err, ErrBusy):
		result = "busy"
	case errors.Is(err, ErrCluster):
		result = "cluster_unavailable"
	default:
		result = "error"
	}
	m.requests.WithLabelValues(route, result).Inc()
	if err == nil {
		kind := "request"
		if poll {
			kind = "long_poll"
		}
		m.latency.WithLabelValues(route, kind).Observe(d.Seconds())
	}
}

// longPoll tells the signaling API's long poll (GET …/signals) from the other requests.
func longPoll(method, path string) bool {
	return method == http.MethodGet && strings.HasSuffix(path, "/signals")
}
