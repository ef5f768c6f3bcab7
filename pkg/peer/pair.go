package peer

import (
	"fmt"
	"strconv"
	"strings"
)

// Candidate is one end of an ICE candidate pair.
type Candidate struct {
	Type     string // host, srflx, prflx or relay
	Protocol string // udp or tcp
	Address  string
	Port     int
}

func (c Candidate) String() string {
	return c.Type + " " + joinHostPort(c.Address, strconv.Itoa(c.Port))
}

// joinHostPort is net.JoinHostPort, which is all this package needed of net: importing it
// linked the resolver into the browser build (about 40 kB of wasm).
func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// CandidatePair is the ICE candidate pair a Conn's traffic goes over.
type CandidatePair struct {
	Local, Remote Candidate
}

// Relayed reports whether either end is a TURN relay: the traffic goes through a server.
func (p CandidatePair) Relayed() bool { return p.Local.Type == "relay" || p.Remote.Type == "relay" }

func (p CandidatePair) String() string {
	return fmt.Sprintf("local %v, remote %v", p.Local, p.Remote)
}
