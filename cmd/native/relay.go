package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	acmeclient "golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"github.com/rangecast/rangecast/pkg/relay"
	"github.com/rangecast/rangecast/web"
)

// runRelay is `rangecast relay`: the rendezvous server daemons register on (pkg/relay).
func runRelay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8090", "HTTP(S) address; the default is loopback only, name another address to expose it")
	cert := fs.String("tls-cert", "", "TLS certificate file (PEM); with --tls-key the relay serves HTTPS")
	key := fs.String("tls-key", "", "TLS key file (PEM)")
	var acmeDomains stringList
	fs.Var(&acmeDomains, "acme-domain", "serve HTTPS with automatic certificates (ACME, Let's Encrypt) for this public name; repeat for several. The relay must be reachable on port 443 at that name (TLS-ALPN-01)")
	acmeEmail := fs.String("acme-email", "", "contact address given to the ACME CA (optional)")
	acmeCache := fs.String("acme-cache", "", "directory keeping the ACME account key and certificates (default: the user cache directory's rangecast/autocert)")
	acmeDir := fs.String("acme-directory", "", "the ACME CA's directory URL (default: Let's Encrypt's production one)")
	perIP := fs.Int("max-daemons-per-ip", 16, "daemons registered at once from one IP address")
	turnListen := fs.String("turn-listen", "", "UDP address of the STUN/TURN server, or off (default: the --listen IP, port 3478)")
	turnPublic := fs.String("turn-public-ip", "", "the IP clients reach the STUN/TURN server at, and of every relayed address (default: the --turn-listen IP)")
	turnSecret := fs.String("turn-secret", "", "shared secret of the TURN credentials, coturn's REST scheme (default: $RANGECAST_TURN_SECRET, else random per process)")
	turnQuota := fs.Int("turn-max-allocations-per-daemon", 64, "TURN allocations at once with one daemon's credentials (its own and its clients')")
	natsURL := fs.String("nats", "", "NATS server URL(s), comma-separated: relays on one NATS share routing, so a client of any instance reaches a daemon registered on any other (default: none, this relay alone)")
	natsPrefix := fs.String("nats-prefix", "rangecast", "first token of the NATS subjects (<prefix>.d.<id>.req, .claim, .here); one per cluster")
	instance := fs.String("instance", "", "this instance's name in the cluster's claims and logs (default: random)")
	metricsListen := fs.String("metrics-listen", "", "serve Prometheus metrics on http://ADDR/metrics (off by default; a loopback address is advised)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: rangecast relay [flags]\n\nRuns a relay: daemons started with `rangecast serve --relay URL` register on it, and\nclients open their links, URL/d/<id>/#t=TOKEN, through it. It forwards signaling only:\nit never sees the access token, and files go peer to peer.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, help, err := parseFlags(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("relay takes no arguments, got %d", len(pos))
	}
	if (*cert == "") != (*key == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if len(acmeDomains) > 0 && *cert != "" {
		return usagef("--acme-domain and --tls-cert are alternatives: choose one")
	}
	if len(acmeDomains) == 0 && (*acmeEmail != "" || *acmeCache != "" || *acmeDir != "") {
		return usagef("--acme-email, --acme-cache and --acme-directory need --acme-domain")
	}
	var acme *autocert.Manager
	if len(acmeDomains) > 0 {
		if acme, err = newACME(acmeDomains, *acmeEmail, *acmeCache, *acmeDir); err != nil {
			return err
		}
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	assets, err := newWebAssets(web.FS(), webCacheDir())
	if err != nil {
		return fmt.Errorf("relay: web app: %w", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("relay: --listen %s: %w", *listen, err)
	}
	defer ln.Close()
	if *turnSecret == "" {
		*turnSecret = os.Getenv("RANGECAST_TURN_SECRET")
	}
	tu, err := startTURN(*turnListen, *turnPublic, *turnSecret, *turnQuota, ln.Addr().(*net.TCPAddr), log)
	if err != nil {
		return err
	}
	if tu != nil {
		defer tu.Close()
	}
	var router relay.Router
	if *natsURL != "" {
		if router, err = relay.NewNATSRouter(relay.NATSOptions{URL: *natsURL, Prefix: *natsPrefix, Instance: *instance, Logger: log}); err != nil {
			return err
		}
		defer router.Close() // after the server: defers run last-in first-out
		log.Info("relay: routing over NATS", "nats", redactURL(*natsURL), "prefix", *natsPrefix)
	}
	srv := relay.NewServer(relay.Options{Assets: withSecurityHeaders(assets), Logger: log, MaxDaemonsPerIP: *perIP, TURN: tu, Router: router})
	defer srv.Close()
	if *metricsListen != "" {
		mln, err := net.Listen("tcp", *metricsListen)
		if err != nil {
			return fmt.Errorf("relay: --metrics-listen %s: %w", *metricsListen, err)
		}
		ms := &http.Server{Handler: metricsMux(srv.Metrics().Handler()), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ms.Serve(mln) }()
		defer ms.Close()
		log.Info("metrics serving", "url", "http://"+mln.Addr().String()+"/metrics")
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		// No ReadTimeout or WriteTimeout: daemons' WebSockets live for days. The relay
		// bounds each forwarded request itself.
		IdleTimeout: 120 * time.Second,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	served := make(chan error, 1)
	switch {
	case acme != nil:
		scheme = "https"
		hs.TLSConfig = acme.TLSConfig() // answers TLS-ALPN-01 challenges too
		go func() { served <- hs.ServeTLS(ln, "", "") }()
		log.Info("relay: automatic certificates", "domains", []string(acmeDomains), "cache", string(acme.Cache.(autocert.DirCache)))
	case *cert != "":
		scheme = "https"
		go func() { served <- hs.ServeTLS(ln, *cert, *key) }()
	default:
		go func() { served <- hs.Serve(ln) }()
	}
	url := scheme + "://" + linkHost(ln.Addr().(*net.TCPAddr))
	if acme != nil {
		url = scheme + "://" + acmeDomains[0]
		if p := ln.Addr().(*net.TCPAddr).Port; p != 443 {
			url += ":" + strconv.Itoa(p)
		}
	}
	log.Info("relay serving", "url", url)
	fmt.Fprintln(stdout, url)
	select {
	case err := <-served:
		return fmt.Errorf("relay: http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Close() // daemons reconnect to whatever serves the address next
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("relay stopped")
	return nil
}

// newACME returns the certificate manager of --acme-domain: certificates from an ACME CA
// (Let's Encrypt by default) for those names only, obtained on the first handshake that
// asks for one and renewed before they expire, kept in cache (the account key too). A
// handshake for any other name is refused without contacting the CA.
func newACME(domains []string, email, cache, directory string) (*autocert.Manager, error) {
	for _, d := range domains {
		if net.ParseIP(d) != nil || !strings.Contains(d, ".") {
			return nil, usagef("--acme-domain %q: want a public DNS name", d)
		}
	}
	if cache == "" {
		dir, err := cacheDir("autocert")
		if err != nil {
			return nil, fmt.Errorf("relay: no cache directory for the ACME certificates (name one with --acme-cache): %w", err)
		}
		cache = dir
	}
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return nil, fmt.Errorf("relay: --acme-cache: %w", err)
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		HostPolicy: autocert.HostWhitelist(domains...),
		Cache:      autocert.DirCache(cache),
		Email:      email,
	}
	if directory != "" {
		m.Client = &acmeclient.Client{DirectoryURL: directory}
	}
	return m, nil
}

// startTURN starts the relay's STUN/TURN server: on turnListen, or by default on the HTTP
// listener's IP, port 3478. A default that cannot be served (the port is taken, or the IP
// is a wildcard and no public IP is named) is a warning, not an error: the relay still
// works, and peers behind symmetric NATs do not connect. "off" serves none.
func startTURN(turnListen, publicIP, secret string, quota int, httpAddr *net.TCPAddr, log *slog.Logger) (*relay.TURN, error) {
	if turnListen == "off" {
		return nil, nil
	}
	explicit := turnListen != ""
	if !explicit {
		turnListen = net.JoinHostPort(httpAddr.IP.String(), "3478")
	}
	opts := relay.TURNOptions{Listen: turnListen, Secret: secret, MaxAllocationsPerDaemon: quota, Logger: log}
	if publicIP != "" {
		ip, err := netip.ParseAddr(publicIP)
		if err != nil {
			return nil, usagef("--turn-public-ip: %q is not an IP address", publicIP)
		}
		opts.PublicIP = ip
	}
	if quota < 1 {
		return nil, usagef("--turn-max-allocations-per-daemon must be at least 1")
	}
	tu, err := relay.NewTURN(opts)
	if err != nil {
		if explicit {
			return nil, fmt.Errorf("relay: --turn-listen %s: %w", turnListen, err)
		}
		log.Warn("STUN/TURN not served (name --turn-listen, or --turn-listen off)", "addr", turnListen, "err", err)
		return nil, nil
	}
	log.Info("STUN/TURN serving", "udp", tu.Addr().String(), "public", tu.PublicAddr().String())
	return tu, nil
}

// metricsMux serves h on /metrics only.
func metricsMux(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	return mux
}

// redactURL drops the user and password of every URL in a comma-separated list, for logs.
func redactURL(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = nil
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

func promhttpHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
