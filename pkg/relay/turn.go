package relay

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// ICEServer is one STUN or TURN server in the browser's RTCIceServer shape (the same JSON
// as peer.ICEServer).
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// ICEConfig is what the relay hands both peers of a relayed link: the body of
// GET /d/<id>/api/v1/ice and of the ICESERVERS message. Expires is when the credentials
// stop working (Unix seconds).
type ICEConfig struct {
	ICEServers []ICEServer `json:"iceServers"`
	Expires    int64       `json:"expires,omitempty"`
}

// TURNOptions configures the relay's STUN and TURN server. Zero fields take the defaults in
// brackets.
type TURNOptions struct {
	// Listen is the UDP address STUN and TURN are served on, IP:port. The IP may not be
	// unspecified unless PublicIP is set.
	Listen string
	// PublicIP is the address clients reach the server at, in the URLs handed out and in
	// every relayed address [the Listen IP].
	PublicIP netip.Addr
	// Secret is the shared secret of the coturn REST scheme: a credential's password is
	// base64(HMAC-SHA1(Secret, username)), its username "expiry:daemonid" [random, per
	// process: credentials die with the process].
	Secret string
	// Realm of the long-term credentials ["rangecast"].
	Realm string
	// CredentialTTL is how long handed-out credentials work [1 h]. A daemon gets fresh ones
	// at half their life.
	CredentialTTL time.Duration
	// MaxAllocationsPerDaemon caps the allocations made with one daemon id's credentials,
	// its own and its clients' together [64]; more are refused with 486 Allocation Quota
	// Reached.
	MaxAllocationsPerDaemon int
	// MaxAllocations caps the allocations of the whole server [4096].
	MaxAllocations int
	Logger         *slog.Logger
}

// TURN is the relay's STUN and TURN server (pion/turn), with time-limited credentials per
// daemon id and allocation quotas.
type TURN struct {
	opts   TURNOptions
	log    *slog.Logger
	addr   netip.AddrPort // where it listens
	public netip.AddrPort // what the URLs name
	conn   net.PacketConn
	srv    *turn.Server

	mu     sync.Mutex
	byUser map[string]int
	total  int

	// For the metrics: allocations made, refusals by reason, bytes relayed to and from
	// peers (all allocations together: pion/turn does not count bytes per allocation).
	allocated         atomic.Int64
	refusedDaemon     atomic.Int64
	refusedServer     atomic.Int64
	bytesOut, bytesIn atomic.Int64
}

// NewTURN listens on opts.Listen and starts serving STUN and TURN.
func NewTURN(opts TURNOptions) (*TURN, error) {
	if opts.Realm == "" {
		opts.Realm = "rangecast"
	}
	if opts.CredentialTTL <= 0 {
		opts.CredentialTTL = time.Hour
	}
	if opts.MaxAllocationsPerDaemon <= 0 {
		opts.MaxAllocationsPerDaemon = 64
	}
	if opts.MaxAllocations <= 0 {
		opts.MaxAllocations = 4096
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Secret == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		opts.Secret = base64.RawStdEncoding.EncodeToString(b[:])
	}
	listen, err := netip.ParseAddrPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("relay: TURN listen address %q: want IP:port: %w", opts.Listen, err)
	}
	public := opts.PublicIP
	if !public.IsValid() {
		if listen.Addr().IsUnspecified() {
			return nil, errors.New("relay: TURN listens on an unspecified address: name its public IP")
		}
		public = listen.Addr()
	}
	conn, err := net.ListenPacket("udp", listen.String())
	if err != nil {
		return nil, fmt.Errorf("relay: TURN: %w", err)
	}
	t := &TURN{opts: opts, log: opts.Logger, conn: conn, byUser: map[string]int{}}
	t.addr = conn.LocalAddr().(*net.UDPAddr).AddrPort()
	t.public = netip.AddrPortFrom(public.Unmap(), t.addr.Port())
	lf := logging.NewDefaultLoggerFactory()
	t.srv, err = turn.NewServer(turn.ServerConfig{
		Realm:         opts.Realm,
		LoggerFactory: lf,
		AuthHandler:   turn.LongTermTURNRESTAuthHandler(opts.Secret, lf.NewLogger("turn-auth")),
		QuotaHandler:  t.quota,
		EventHandler: turn.EventHandler{
			OnAllocationCreated: func(src, _ net.Addr, _, user, _ string, relayed net.Addr, _ int) {
				t.mu.Lock()
				t.byUser[user]++
				t.total++
				t.mu.Unlock()
				t.allocated.Add(1)
				t.log.Debug("turn: allocation", "user", user, "client", src, "relayed", relayed)
			},
			OnAllocationDeleted: func(_, _ net.Addr, _, user, _ string) {
				t.mu.Lock()
				if t.byUser[user]--; t.byUser[user] <= 0 {
					delete(t.byUser, user)
				}
				t.total--
				t.mu.Unlock()
			},
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: conn,
			RelayAddressGenerator: countingGenerator{&turn.RelayAddressGeneratorStatic{
				RelayAddress: net.IP(public.AsSlice()),
				Address:      listen.Addr().String(),
			}, t},
			PermissionHandler: permitted,
		}},
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("relay: TURN: %w", err)
	}
	return t, nil
}

// permitted refuses relaying to addresses that only make sense on the relay's own host:
// loopback, unspecified, multicast and link-local ones.
func permitted(_ net.Addr, peer net.IP) bool {
	return !(peer.IsLoopback() || peer.IsUnspecified() || peer.IsMulticast() ||
		peer.IsLinkLocalUnicast() || peer.IsLinkLocalMulticast())
}

// quota admits an allocation unless the daemon id's credentials or the server are at
// their cap.
func (t *TURN) quota(user, _ string, src net.Addr) bool {
	t.mu.Lock()
	n, total := t.byUser[user], t.total
	t.mu.Unlock()
	switch {
	case n >= t.opts.MaxAllocationsPerDaemon:
		t.refusedDaemon.Add(1)
		t.log.Info("turn: allocation refused: the daemon's quota is reached", "user", user, "client", src, "allocations", n)
		return false
	case total >= t.opts.MaxAllocations:
		t.refusedServer.Add(1)
		t.log.Warn("turn: allocation refused: the server is full", "client", src, "allocations", total)
		return false
	}
	return true
}

// Addr returns the UDP address the server listens on.
func (t *TURN) Addr() netip.AddrPort { return t.addr }

// PublicAddr returns the address the handed-out URLs name.
func (t *TURN) PublicAddr() netip.AddrPort { return t.public }

// Allocations returns the number of allocations for user (a daemon id), and in all.
func (t *TURN) Allocations(user string) (n, total int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byUser[user], t.total
}

// Config returns fresh credentials for the daemon id, valid for CredentialTTL, with the
// server's STUN and TURN URLs.
func (t *TURN) Config(id string) (ICEConfig, error) {
	user, pass, err := turn.GenerateLongTermTURNRESTCredentials(t.opts.Secret, id, t.opts.CredentialTTL)
	if err != nil {
		return ICEConfig{}, err
	}
	hp := t.public.String()
	exp, _ := strconv.ParseInt(user[:len(user)-len(id)-1], 10, 64)
	return ICEConfig{
		ICEServers: []ICEServer{{
			URLs:     []string{"stun:" + hp, "turn:" + hp + "?transport=udp"},
			Username: user, Credential: pass,
		}},
		Expires: exp,
	}, nil
}

// TTL returns how long the credentials Config hands out work.
func (t *TURN) TTL() time.Duration { return t.opts.CredentialTTL }

// Close stops the server and frees every allocation.
func (t *TURN) Close() error { return t.srv.Close() }

// countingGenerator counts the bytes of every relayed UDP socket.
type countingGenerator struct {
	turn.RelayAddressGenerator
	t *TURN
}

func (g countingGenerator) AllocatePacketConn(c turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	conn, addr, err := g.RelayAddressGenerator.AllocatePacketConn(c)
	if err != nil {
		return nil, nil, err
	}
	return &countingConn{conn, g.t}, addr, nil
}

type countingConn struct {
	net.PacketConn
	t *TURN
}

func (c *countingConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(p)
	c.t.bytesIn.Add(int64(n))
	return n, a, err
}

func (c *countingConn) WriteTo(p []byte, a net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(p, a)
	c.t.bytesOut.Add(int64(n))
	return n, err
}

// registerMetrics adds the TURN server's metrics to reg.
func (t *TURN) registerMetrics(reg *prometheus.Registry) {
	counter := func(name, help string, v *atomic.Int64, labels prometheus.Labels) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(v.Load()) })
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rangecast_turn_allocations",
			Help: "TURN allocations at this instance now.",
		}, func() float64 { _, n := t.Allocations(""); return float64(n) }),
		counter("rangecast_turn_allocations_total", "TURN allocations made at this instance.", &t.allocated, nil),
		counter("rangecast_turn_refusals_total", "TURN allocations refused (486 Allocation Quota Reached), by reason.", &t.refusedDaemon, prometheus.Labels{"reason": "daemon_quota"}),
		counter("rangecast_turn_refusals_total", "TURN allocations refused (486 Allocation Quota Reached), by reason.", &t.refusedServer, prometheus.Labels{"reason": "server_full"}),
		counter("rangecast_turn_relayed_bytes_total", "Bytes relayed between TURN clients and their peers, by direction (to_peers, from_peers).", &t.bytesOut, prometheus.Labels{"direction": "to_peers"}),
		counter("rangecast_turn_relayed_bytes_total", "Bytes relayed between TURN clients and their peers, by direction (to_peers, from_peers).", &t.bytesIn, prometheus.Labels{"direction": "from_peers"}),
	)
}
