package main

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/relay"
	"github.com/rangecast/rangecast/pkg/udpmux"
)

// relayICEServers returns the STUN/TURN servers the relay handed the daemon (ICESERVERS),
// with their time-limited credentials, or none if they have expired.
func relayICEServers(rd *relay.Daemon) []peer.ICEServer {
	cfg, ok := rd.ICE()
	if !ok {
		return nil
	}
	out := make([]peer.ICEServer, 0, len(cfg.ICEServers))
	for _, s := range cfg.ICEServers {
		out = append(out, peer.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}

// mappedTimeout bounds one STUN exchange of a new peer's setup; the answer is cached for
// udpmux.DefaultMappedTTL.
const mappedTimeout = 1500 * time.Millisecond

// learnMappedAddrs asks every stun: server in servers, through the daemon's UDP port, what
// address that port is seen from (udpmux.Mux.MappedAddr), so that the peer about to be
// created can signal it as a srflx candidate. Mostly a cache hit; a server that does not
// answer costs mappedTimeout.
func learnMappedAddrs(mux *udpmux.Mux, servers []peer.ICEServer, log *slog.Logger) {
	for _, s := range servers {
		for _, u := range s.URLs {
			hostport, ok := strings.CutPrefix(u, "stun:")
			if !ok {
				continue
			}
			hostport, _, _ = strings.Cut(hostport, "?")
			if _, _, err := net.SplitHostPort(hostport); err != nil {
				hostport = net.JoinHostPort(hostport, "3478")
			}
			ua, err := net.ResolveUDPAddr("udp", hostport)
			if err != nil {
				log.Debug("stun server not resolved", "url", u, "err", err)
				continue
			}
			ap := ua.AddrPort()
			ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			ctx, cancel := context.WithTimeout(context.Background(), mappedTimeout)
			a, err := mux.MappedAddr(ctx, ap, mappedTimeout)
			cancel()
			if err != nil {
				log.Debug("no mapped address", "stun", ap, "err", err)
				continue
			}
			log.Debug("mapped address", "stun", ap, "mapped", a)
		}
	}
}
