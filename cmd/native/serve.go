package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"golang.org/x/net/netutil"

	"github.com/rangecast/rangecast/pkg/connect"
	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/relay"
	"github.com/rangecast/rangecast/pkg/share"
	"github.com/rangecast/rangecast/pkg/signaling"
	"github.com/rangecast/rangecast/pkg/udpmux"
	"github.com/rangecast/rangecast/web"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type serveConfig struct {
	dir        string
	listen     string
	token      string
	maxPeers   int
	maxConns   int
	iceServers []string
	udp        []string
	logLevel   string
	logFormat  string
	grace      time.Duration
	relay      string // a relay's URL to register on, or ""
	identity   string // the identity key file for the relay ("": the default path)
	relayCA    string // a PEM file of CA certificates trusted for an https relay, besides the system's
	metrics    string // --metrics-listen: where Prometheus metrics are served, or ""
	sender     senderTuning
	stateDir   string // --state-dir: the share key, the links issued, the control socket
}

// defaultSender is how the daemon sends, chosen from the wan group of the benchmarks
// (docs/BENCHMARKS.md): its own BBR-like pacing decides the rate (pkg/peer
// NativeOptions.Pacing), SCTP's loss-based window is held open under it (a 1 MiB floor: up
// to ~10 MB/s at 50 ms, ~5 MB/s at 200 ms), each channel may keep 8 MiB unacknowledged, and
// a retransmission timeout waits two round trips and a slack of five more (kept within
// 60–250 ms), at most 800 ms (safe up to ~600 ms RTT), instead of pion's 1 s minimum
// (sctpRTOMax).
var defaultSender = senderTuning{minCwnd: 1 << 20, rtoMax: 800 * time.Millisecond, sendBuffer: 8 << 20, pacing: true, paceDatagrams: true}

// senderTuning is how the daemon's SCTP sends; the flags exist to measure other settings
// against the defaults.
type senderTuning struct {
	caStep     uint // bytes the congestion window grows per round trip in avoidance
	fastRtxWnd uint
	minCwnd    uint
	rtoMax     time.Duration
	rtoSlack   time.Duration // a measured peer's timeout beyond two round trips; 0: from its RTT (sctpRTOMax)
	sendBuffer int           // each channel's high-water mark; it drains to half
	pacing     bool
	// paceDatagrams spaces every datagram at the pacer's rate, SCTP's retransmission
	// bursts included (NativeOptions.PaceDatagrams)
	paceDatagrams bool
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg serveConfig
	var ice, udp stringList
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8080", "HTTP address for the web app and signaling; the default is loopback only, name another address to expose it")
	fs.StringVar(&cfg.token, "token", "", "access token (default: $RANGECAST_TOKEN, else a random one)")
	fs.IntVar(&cfg.maxPeers, "max-peers", 64, "peers served at once")
	fs.IntVar(&cfg.maxConns, "max-http-conns", 256, "HTTP connections open at once; more wait to be accepted")
	fs.Var(&ice, "ice-server", "STUN or TURN server URL, repeatable (none by default)")
	fs.Var(&udp, "udp", "UDP address (IP:port) that carries every peer's WebRTC traffic; repeatable, one socket set per address, all on one port (default: the --listen IP, a free port)")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&cfg.relay, "relay", "", "also register on the relay at this URL (http(s)://host[:port]; several instances of one cluster comma-separated) and print the link through it")
	fs.StringVar(&cfg.metrics, "metrics-listen", "", "serve Prometheus metrics on http://ADDR/metrics (off unless set; a bare :PORT is loopback's)")
	fs.StringVar(&cfg.relayCA, "relay-ca", "", "PEM file of CA certificates to trust for an https:// --relay, besides the system's (a private CA)")
	fs.StringVar(&cfg.identity, "identity", "", "the daemon's identity key on relays, created on first use (default: the user config directory's rangecast/identity.key)")
	fs.StringVar(&cfg.stateDir, "state-dir", "", "where the share key, the share links issued and the control socket of 'rangecast share' live (default: $"+envStateDir+", else the user config directory's rangecast/)")
	fs.DurationVar(&cfg.grace, "grace", 5*time.Second, "on SIGINT/SIGTERM, how long transfers in progress may run after peers are told (GOAWAY)")
	fs.UintVar(&cfg.sender.caStep, "sctp-ca-step", 0, "tuning: bytes SCTP's congestion window grows per round trip in congestion avoidance (0: pion's one MTU)")
	fs.UintVar(&cfg.sender.fastRtxWnd, "sctp-fast-rtx-wnd", 0, "tuning: SCTP's fast-retransmit window in bytes (0: pion's one MTU)")
	fs.UintVar(&cfg.sender.minCwnd, "sctp-min-cwnd", defaultSender.minCwnd, "tuning: most of the floor under SCTP's congestion window in bytes, kept even after a timeout; each peer's is sized from its signaling round trip (100 MB/s × RTT, none under 128 KiB, this much for a relayed peer); 0: none. Unsafe on narrow paths without --pacing")
	fs.DurationVar(&cfg.sender.rtoMax, "sctp-rto-max", defaultSender.rtoMax, "tuning: most of the cap on SCTP's retransmission timeout, which is the timeout below pion's 1 s minimum; each peer's is sized from its signaling round trip (2 × RTT + --sctp-rto-slack, this much for a relayed peer); 0: pion's 60 s and its 1 s minimum")
	fs.DurationVar(&cfg.sender.rtoSlack, "sctp-rto-slack", defaultSender.rtoSlack, "tuning: what a peer's retransmission timeout allows beyond two of its round trips (see --sctp-rto-max); 0: five round trips, within 60 ms and 250 ms")
	fs.IntVar(&cfg.sender.sendBuffer, "send-buffer", defaultSender.sendBuffer, "tuning: bytes each channel may have buffered (unacknowledged) before a write waits (0: pkg/peer's 1 MiB)")
	fs.BoolVar(&cfg.sender.pacing, "pacing", defaultSender.pacing, "tuning: pace sending to peers beyond 1.3 ms of round trip from the measured bandwidth and RTT (pkg/peer NativeOptions.Pacing); false leaves it to SCTP's loss-based congestion control for all")
	fs.BoolVar(&cfg.sender.paceDatagrams, "pacing-datagrams", defaultSender.paceDatagrams, "tuning: with --pacing, also space every UDP datagram sent to a peer whose path has an SCTP window floor (see --sctp-min-cwnd) at the paced rate, SCTP's retransmissions included (pkg/peer NativeOptions.PaceDatagrams)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: rangecast serve [flags] [DIR]\n\nExports DIR (default: the current directory) read-only and prints the link to open.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, help, err := parseFlags(fs, args)
	if help || err != nil {
		return err
	}
	switch len(pos) {
	case 0:
		cfg.dir = "."
	case 1:
		cfg.dir = pos[0]
	default:
		return usagef("serve takes one directory, got %d arguments", len(pos))
	}
	cfg.iceServers = ice
	cfg.udp = udp
	if cfg.token == "" {
		cfg.token = os.Getenv("RANGECAST_TOKEN")
	}
	if cfg.maxPeers < 1 {
		return usagef("--max-peers must be at least 1")
	}
	if cfg.maxConns < 1 {
		return usagef("--max-http-conns must be at least 1")
	}
	if cfg.grace <= 0 {
		return usagef("--grace must be positive")
	}
	if cfg.relayCA != "" && !strings.HasPrefix(cfg.relay, "https://") {
		return usagef("--relay-ca needs an https:// --relay")
	}
	log, err := newLogger(stderr, cfg.logLevel, cfg.logFormat)
	if err != nil {
		return err
	}
	defer startMemProfiler(log)()
	return serve(ctx, cfg, stdout, log)
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level: %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format: %q is not text or json", format)
}

func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func serve(ctx context.Context, cfg serveConfig, stdout io.Writer, log *slog.Logger) error {
	st, err := os.Stat(cfg.dir)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("serve: %s is not a directory", cfg.dir)
	}
	if cfg.token == "" {
		cfg.token = randomToken()
	}
	srv, err := rangefs.NewServer(cfg.dir, rangefs.ServerOptions{Logger: log, GracePeriod: cfg.grace})
	if err != nil {
		return err
	}
	defer srv.Close()

	// Share links: the key and the state of the links issued, in the state directory.
	sdir, err := stateDir(cfg.stateDir)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	shares, err := share.OpenDir(sdir)
	if err != nil {
		return fmt.Errorf("serve: --state-dir: %w", err)
	}
	absDir, err := filepath.Abs(cfg.dir)
	if err == nil {
		absDir, err = filepath.EvalSymlinks(absDir)
	}
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}

	var iceServers []peer.ICEServer
	for _, u := range cfg.iceServers {
		iceServers = append(iceServers, peer.ICEServer{URLs: []string{u}})
	}

	// The HTTP listener is bound first so that the UDP port can default to its address.
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("serve: --listen %s: %w", cfg.listen, err)
	}
	defer ln.Close() // after Serve has taken it, a second Close is harmless
	mux, err := newUDPMux(cfg.udp, ln.Addr().(*net.TCPAddr), log)
	if err != nil {
		return err
	}
	defer mux.Close() // after every peer has closed: defers run last-in first-out
	udpAddrs := make([]string, 0, len(mux.LocalAddrs()))
	for _, a := range mux.LocalAddrs() {
		udpAddrs = append(udpAddrs, a.String())
	}

	var rd *relay.Daemon
	var dm daemonMetrics
	var udpMux ice.UDPMux = mux
	if cfg.metrics != "" {
		udpMux = countingMux{mux, &dm}
	}

	var status func() any // set once sig exists: it reports sig's peers
	sig, err := signaling.NewHandler(signaling.HandlerOptions{
		// Every peer proves the token over its connection (connect.ServeOptions.Token), so
		// requests a relay forwards, which carry no token, can be served too.
		InBandAuth: true,
		Status:     func() any { return status() },
		Token:      cfg.token,
		MaxPeers:   cfg.maxPeers,
		Peer: func(r *http.Request) peer.Config {
			servers := iceServers
			if rd != nil {
				servers = append(relayICEServers(rd), iceServers...)
			}
			learnMappedAddrs(mux, servers, log)
			rtt, measured := signalingRTT(r)
			floor := sctpFloor(cfg.sender.minCwnd, rtt, measured)
			rtoMax := sctpRTOMax(cfg.sender.rtoMax, cfg.sender.rtoSlack, rtt, measured)
			// A near peer (shortPath) is not paced: SCTP's own window decides its rate.
			pacing := cfg.sender.pacing && !shortPath(rtt, measured)
			// The bursts that spacing the datagrams smooths are the floor's: after a timeout
			// SCTP resends up to a whole floor at once. On a path too short for a floor,
			// spacing only cost the browser on loopback (docs/BENCHMARKS.md).
			paceDatagrams := pacing && cfg.sender.paceDatagrams && floor > 0
			var pathRTT time.Duration // sizes the pacer's startup window, if measured
			if measured {
				pathRTT = rtt
			}
			log.Debug("peer offer", "remote", r.RemoteAddr, "signaling_rtt", rtt, "measured", measured, "sctp_min_cwnd", floor, "sctp_rto_max", rtoMax, "pacing", pacing, "pace_datagrams", paceDatagrams, "path_rtt", pathRTT)
			return peer.Config{
				ICEServers:    servers,
				HighWaterMark: cfg.sender.sendBuffer,
				LowWaterMark:  cfg.sender.sendBuffer / 2,
				Native: peer.NativeOptions{
					// Behind a NAT, the NAT's mapping of the one UDP port, learned from the
					// STUN servers above through that port, is signaled as a srflx candidate.
					Reflexive: mux.MappedAddrs,
					// Browsers on this host in a loopback-only setup offer no candidate of
					// their own and reach the daemon's 127.0.0.1 candidate as peer-reflexive.
					IncludeLoopbackCandidate: true,
					UDPMux:                   udpMux,
					DisableMulticastDNS:      true,
					// A vanished peer (a killed client, a closed laptop) sends nothing,
					// not even an SCTP ABORT: ICE's own checks, every second, tell. It is
					// disconnected after 4 s without a packet and dropped 3 s later, which
					// frees its slot within ~8 s, while a 5 s outage of the path is survived.
					// STUN checks skip the SCTP send queue, which an application ping
					// would wait behind on a slow link.
					ICEKeepAliveInterval:   time.Second,
					ICEDisconnectedTimeout: 4 * time.Second,
					ICEFailedTimeout:       3 * time.Second,
					SCTPReceiveBufferSize:  4 << 20,
					SCTPCwndCAStep:         uint32(cfg.sender.caStep),     //nolint:gosec // a tuning flag
					SCTPFastRtxWnd:         uint32(cfg.sender.fastRtxWnd), //nolint:gosec // a tuning flag
					SCTPMinCwnd:            floor,
					SCTPRTOMax:             rtoMax,
					Pacing:                 pacing,
					PathRTT:                pathRTT,
					PaceDatagrams:          paceDatagrams,
					// Paced or not, a seek's answer waits behind at most one such message (into
					// Chromium on loopback, seek p99 1.8–2.2 ms with 32 KiB messages against
					// 2.7–4.0 with 256 KiB, docs/BENCHMARKS.md).
					MaxSendMessageSize: peer.PacedMessageSize,
				},
			}
		},
		// A share link's holder sends the link's fragment value as the bearer: its secret
		// is checked here against the share key; scope, expiry and revocation in band.
		Authorize: func(bearer string) bool {
			l, err := share.Parse(bearer)
			return err == nil && shares.Valid(l)
		},
		OnConnect: dm.onConnect(connect.ServeFiles(srv, connect.ServeOptions{Token: cfg.token, Logger: log, Shares: shares})),
		Logger:    log,
	})
	status = func() any {
		heap, stacks := memoryMetrics()
		return daemonStatus{
			Peers: sig.Peers(), Goroutines: runtime.NumGoroutine(), OpenFiles: openFiles(), Dir: filepath.Base(cfg.dir),
			UDP: udpAddrs, HeapBytes: heap, StackBytes: stacks,
		}
	}
	if err != nil {
		return err
	}

	if cfg.relay != "" {
		if rd, err = newRelayDaemon(cfg, sig, log); err != nil {
			_ = sig.Close()
			return err
		}
	}

	assets, err := newWebAssets(web.FS(), webCacheDir())
	if err != nil {
		_ = sig.Close()
		return fmt.Errorf("serve: web app: %w", err)
	}
	if cfg.metrics != "" {
		if err := dm.serve(ctx, cfg.metrics, sig.Peers, func() *relay.Daemon { return rd }, log); err != nil {
			_ = sig.Close()
			return err
		}
	}
	tl := &tcpListener{Listener: ln}
	hs := &http.Server{
		Handler:           newMux(sig, assets),
		ConnContext:       tl.connContext,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Above the 20 s long poll, and room for the wasm over a slow link.
		WriteTimeout: 2 * time.Minute,
		IdleTimeout:  120 * time.Second,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	// Beyond --max-http-conns, connections wait in the kernel's backlog rather than each
	// costing a goroutine and buffers; ReadHeaderTimeout bounds how long one can hold a place.
	go func() { served <- hs.Serve(netutil.LimitListener(tl, cfg.maxConns)) }()

	link := signaling.Link{Base: "http://" + linkHost(ln.Addr().(*net.TCPAddr)), Token: cfg.token}
	cln, err := listenControl(sdir, log)
	if err != nil {
		_ = sig.Close()
		return fmt.Errorf("serve: %w", err)
	}
	if cln != nil {
		ctl := &controlServer{auth: shares, srv: srv, dir: absDir, log: log, bases: func() []string {
			bases := []string{link.Base}
			if rd != nil {
				bases = append(bases, rd.Base())
			}
			return bases
		}}
		chs := &http.Server{Handler: ctl.handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = chs.Serve(cln) }()
		defer func() {
			_ = chs.Close()
			_ = os.Remove(filepath.Join(sdir, controlSocket))
		}()
	}
	log.Info("serving", "dir", cfg.dir, "http", ln.Addr().String(), "udp", strings.Join(udpAddrs, ","), "max_peers", cfg.maxPeers, "state_dir", sdir)
	fmt.Fprintln(stdout, link.String())
	relayDone := make(chan struct{})
	if rd != nil {
		fmt.Fprintln(stdout, signaling.Link{Base: rd.Base(), Token: cfg.token}.String())
		go func() { defer close(relayDone); _ = rd.Run(ctx) }()
	} else {
		close(relayDone)
	}
	defer func() { <-relayDone }() // Run ends with ctx

	select {
	case err := <-served:
		_ = sig.Close()
		return fmt.Errorf("serve: http: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: telling peers (GOAWAY)")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.grace+3*time.Second)
	defer cancel()
	_ = sig.Shutdown(sctx)
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// daemonStatus answers GET /api/v1/status (signaling.HandlerOptions.Status): what a connection
// panel or a test wants to see.
type daemonStatus struct {
	Peers      int      `json:"peers"`
	Goroutines int      `json:"goroutines"`
	OpenFiles  int      `json:"open_files"` // -1 where the platform cannot tell
	Dir        string   `json:"dir"`        // base name of the served directory
	UDP        []string `json:"udp"`        // the addresses every peer's WebRTC traffic uses
	HeapBytes  uint64   `json:"heap_bytes"` // live and not yet collected heap objects
	StackBytes uint64   `json:"stack_bytes"`
}

// memoryMetrics reads the heap in objects and in goroutine stacks: with the goroutine count,
// what a connected peer costs the daemon.
func memoryMetrics() (heap, stacks uint64) {
	ms := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(ms)
	for i, m := range ms {
		if m.Value.Kind() != metrics.KindUint64 {
			continue
		}
		if i == 0 {
			heap = m.Value.Uint64()
		} else {
			stacks = m.Value.Uint64()
		}
	}
	return heap, stacks
}

// openFiles counts the process's open file descriptors (Linux), or returns -1.
func openFiles() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(es) - 1 // the directory being read
}

// envNoBatchWrite, set to 1, turns off the daemon's batched UDP sends
// (udpmux.Options.NoBatchWrite): an escape hatch for kernels or networks where
// UDP_SEGMENT misbehaves, and the A side of `RANGECAST_BENCH_AB_ENV=RANGECAST_NO_BATCH_WRITE=1`.
const envNoBatchWrite = "RANGECAST_NO_BATCH_WRITE"

// newUDPMux opens the one UDP port every peer shares: on the --udp addresses, or else on
// the HTTP listener's IP with a port the kernel picks. An unspecified IP (0.0.0.0, ::) serves
// every address of its family, loopback included, for browsers on this host.
func newUDPMux(addrs []string, httpAddr *net.TCPAddr, log *slog.Logger) (*udpmux.Mux, error) {
	if len(addrs) == 0 {
		addrs = []string{net.JoinHostPort(httpAddr.IP.String(), "0")}
	}
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil || net.ParseIP(host) == nil {
			return nil, usagef("--udp: %q is not IP:port (for example 127.0.0.1:0 or [::1]:3478)", a)
		}
	}
	m, err := udpmux.New(udpmux.Options{
		Addr: addrs[0], Addrs: addrs[1:], IncludeLoopback: true, Logger: log,
		NoBatchWrite: os.Getenv(envNoBatchWrite) == "1",
	})
	if err != nil {
		return nil, fmt.Errorf("serve: --udp %s: %w", strings.Join(addrs, ","), err)
	}
	return m, nil
}

// linkHost is the host:port to print: a wildcard listen address is shown as loopback, the
// one address that surely reaches it from this machine.
func linkHost(a *net.TCPAddr) string {
	ip := a.IP
	if ip == nil || ip.IsUnspecified() {
		if ip.To4() == nil && ip != nil {
			ip = net.IPv6loopback
		} else {
			ip = net.IPv4(127, 0, 0, 1)
		}
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
}

// newMux routes the signaling API (which also answers the status endpoint) and the web app,
// with headers that keep the page's token to itself.
func newMux(sig *signaling.Handler, assets http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(signaling.APIPrefix, sig)
	mux.Handle("/", assets)
	return withSecurityHeaders(mux)
}

// withSecurityHeaders adds the headers that keep the page's token to itself: the daemon's
// and the relay's pages send the same.
func withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// newRelayDaemon loads (or creates) the identity and prepares the registration on
// cfg.relay; relayed requests are served by sig.ServeRelayed.
func newRelayDaemon(cfg serveConfig, sig *signaling.Handler, log *slog.Logger) (*relay.Daemon, error) {
	path := cfg.identity
	if path == "" {
		var err error
		if path, err = relay.DefaultIdentityPath(); err != nil {
			return nil, err
		}
	}
	key, err := relay.LoadOrCreateIdentity(path)
	if err != nil {
		return nil, fmt.Errorf("serve: --identity: %w", err)
	}
	hc, err := relayHTTPClient(cfg.relayCA)
	if err != nil {
		return nil, err
	}
	d, err := relay.NewDaemon(relay.DaemonOptions{Relay: cfg.relay, Identity: key, Handler: http.HandlerFunc(sig.ServeRelayed), Logger: log, HTTPClient: hc})
	if err != nil {
		return nil, usagef("--relay: %v", err)
	}
	log.Info("relay identity", "file", path, "id", d.ID())
	return d, nil
}

// relayHTTPClient is the client the daemon dials its relay with: an https:// relay is
// checked against the system's roots plus those in caFile, if named.
func relayHTTPClient(caFile string) (*http.Client, error) {
	tr := &http.Transport{Proxy: nil, ForceAttemptHTTP2: false}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("serve: --relay-ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usagef("--relay-ca %s: no PEM certificate in it", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
}
