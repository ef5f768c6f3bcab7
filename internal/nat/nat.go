//go:build linux

// Package nat builds NAT topologies out of network namespaces, for tests (and the browser
// suite) that must cross real NATs: the kernel's own conntrack and nftables masquerade, not a
// model of them.
//
//	         internet (bridge br0, 198.51.100.0/24)
//	relay 198.51.100.1 ── br0 ─┬──────────────────────────┐
//	                           │ 198.51.100.2             │ 198.51.100.3
//	                    home router (NAT)          café router (NAT)
//	                           │ 192.168.1.1              │ 192.168.2.1
//	                    home 192.168.1.2           café 192.168.2.2
//
// Five namespaces: Internet holds the bridge and whatever is public (the relay); each
// router masquerades its LAN behind its one public address and forwards from the internet
// only what belongs to a connection started inside (forward policy drop, ct state
// established,related accept: address- and port-dependent filtering); Home and Cafe are
// the private hosts (the daemon, the client). Each router's mapping is one of two kinds:
// EndpointIndependent (plain masquerade: a socket keeps its port, whatever the destination,
// so a STUN server's answer tells what every peer sees) or Symmetric (masquerade
// random,fully-random: each destination gets a new random port, so only a TURN relay
// connects two such hosts). IPv6 is off everywhere.
//
// Commands run in a namespace with Command (ip netns exec); Run runs Go code there. Close
// deletes the namespaces and so every interface: kill the processes first (a process left
// in a namespace keeps it alive, nameless, until it exits).
package nat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Kind is a NAT's mapping behaviour.
type Kind int

const (
	// EndpointIndependent maps a private address and port to one public port for every
	// destination (Linux masquerade keeps the source port when it is free).
	EndpointIndependent Kind = iota
	// Symmetric maps each destination to a new random public port (masquerade
	// random,fully-random).
	Symmetric
)

func (k Kind) String() string {
	if k == Symmetric {
		return "symmetric"
	}
	return "endpoint-independent"
}

// Node is one namespace of the topology.
type Node int

// The namespaces.
const (
	Internet Node = iota
	HomeRouter
	Home
	CafeRouter
	Cafe
	nodes
)

func (n Node) String() string {
	return [...]string{"internet", "home-router", "home", "cafe-router", "cafe"}[n]
}

// Addresses of the topology: documentation addresses (RFC 5737) for the internet, private
// ones behind the routers.
var (
	RelayAddr     = netip.MustParseAddr("198.51.100.1")
	HomePublic    = netip.MustParseAddr("198.51.100.2")
	CafePublic    = netip.MustParseAddr("198.51.100.3")
	HomeRouterLAN = netip.MustParseAddr("192.168.1.1")
	HomeAddr      = netip.MustParseAddr("192.168.1.2")
	CafeRouterLAN = netip.MustParseAddr("192.168.2.1")
	CafeAddr      = netip.MustParseAddr("192.168.2.2")
)

// Config chooses each router's NAT.
type Config struct {
	Home, Cafe Kind
}

// Topology is a built topology. Close removes it.
type Topology struct {
	cfg  Config
	ns   [nodes]string
	once sync.Once
	err  error
}

var seq atomic.Uint64

// Available says why topologies cannot be built here, or nil: they need root, ip
// (iproute2) and nft (nftables).
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("nat: network namespaces need root")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			if _, err2 := os.Stat("/usr/sbin/" + tool); err2 != nil {
				return fmt.Errorf("nat: %s not found (install iproute2 and nftables)", tool)
			}
		}
	}
	return nil
}

// New builds the five namespaces. ctx bounds the set-up only. On error nothing is left.
func New(ctx context.Context, cfg Config) (_ *Topology, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	t := &Topology{cfg: cfg}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Close())
		}
	}()
	base := fmt.Sprintf("rcnat%d-%d", os.Getpid(), seq.Add(1))
	for n := range nodes {
		name := base + "-" + n.String()
		if err := run(ctx, "ip", "netns", "add", name); err != nil {
			return nil, err
		}
		t.ns[n] = name
		if err := t.ipn(ctx, n, "link", "set", "lo", "up"); err != nil {
			return nil, err
		}
		for _, k := range []string{"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"} {
			_ = run(ctx, "ip", "netns", "exec", name, "sysctl", "-qw", k)
		}
	}
	// The internet: a bridge, the relay's address on it.
	for _, args := range [][]string{
		{"link", "add", "br0", "type", "bridge"},
		{"addr", "add", RelayAddr.String() + "/24", "dev", "br0"},
		{"link", "set", "br0", "up"},
	} {
		if err := t.ipn(ctx, Internet, args...); err != nil {
			return nil, err
		}
	}
	type site struct {
		router, host       Node
		public, lan, hostA netip.Addr
		kind               Kind
		port               string // the router's port on the bridge
	}
	for _, s := range []site{
		{HomeRouter, Home, HomePublic, HomeRouterLAN, HomeAddr, cfg.Home, "home0"},
		{CafeRouter, Cafe, CafePublic, CafeRouterLAN, CafeAddr, cfg.Cafe, "cafe0"},
	} {
		// router wan <-> bridge port; router lan <-> host eth0.
		if err := run(ctx, "ip", "link", "add", "wan", "netns", t.ns[s.router], "type", "veth", "peer", "name", s.port, "netns", t.ns[Internet]); err != nil {
			return nil, err
		}
		if err := run(ctx, "ip", "link", "add", "lan", "netns", t.ns[s.router], "type", "veth", "peer", "name", "eth0", "netns", t.ns[s.host]); err != nil {
			return nil, err
		}
		for _, c := range []struct {
			n    Node
			args []string
		}{
			{Internet, []string{"link", "set", s.port, "master", "br0"}},
			{Internet, []string{"link", "set", s.port, "up"}},
			{s.router, []string{"addr", "add", s.public.String() + "/24", "dev", "wan"}},
			{s.router, []string{"link", "set", "wan", "up"}},
			{s.router, []string{"addr", "add", s.lan.String() + "/24", "dev", "lan"}},
			{s.router, []string{"link", "set", "lan", "up"}},
			{s.host, []string{"addr", "add", s.hostA.String() + "/24", "dev", "eth0"}},
			{s.host, []string{"link", "set", "eth0", "up"}},
			{s.host, []string{"route", "add", "default", "via", s.lan.String()}},
		} {
			if err := t.ipn(ctx, c.n, c.args...); err != nil {
				return nil, err
			}
		}
		if err := run(ctx, "ip", "netns", "exec", t.ns[s.router], "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			return nil, err
		}
		if err := t.nft(ctx, s.router, ruleset(s.kind)); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// ruleset is a router's nftables configuration. ("fwd" is an nft keyword: the chain is
// "forward_filter".) Unsolicited datagrams to the router's public address are dropped in
// input, as a home router's firewall does: accepted (answered with ICMP port unreachable),
// each would leave a conntrack entry holding the tuple public:port ↔ remote, and the
// masquerade of the host's own datagram to that remote a moment later would have to pick
// another port: simultaneous hole punching would fail for a reason of the model, not of
// the NAT kind.
func ruleset(k Kind) string {
	masq := "masquerade"
	if k == Symmetric {
		masq = "masquerade random,fully-random"
	}
	return `table ip rcnat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" ` + masq + `
	}
	chain input_filter {
		type filter hook input priority filter; policy accept;
		iifname "wan" ct state established,related accept
		iifname "wan" drop
	}
	chain forward_filter {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan" oifname "wan" accept
	}
}
`
}

// Config returns the topology's NAT kinds.
func (t *Topology) Config() Config { return t.cfg }

// Namespace returns a node's namespace name, for ip netns exec and friends.
func (t *Topology) Namespace(n Node) string { return t.ns[n] }

// Command returns a command that runs name inside node n (ip netns exec execs it: the
// process's pid is the command's).
func (t *Topology) Command(n Node, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", t.ns[n], name}, args...)...)
}

// CommandContext is Command with a context that kills the process.
func (t *Topology) CommandContext(ctx context.Context, n Node, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", t.ns[n], name}, args...)...)
}

// Run runs fn inside node n, on an OS thread of its own that is discarded afterwards.
// Sockets fn creates stay in the namespace; goroutines it starts do not run there.
func (t *Topology) Run(n Node, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		fd, err := unix.Open("/run/netns/"+t.ns[n], unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("nat: open namespace %s: %w", t.ns[n], err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("nat: setns %s: %w", t.ns[n], err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Conntrack returns a router's NAT table (nft list ruleset is the rules; this is the
// state): for a test's failure message.
func (t *Topology) Conntrack(ctx context.Context, n Node) string {
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", t.ns[n], "cat", "/proc/net/nf_conntrack").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(no conntrack table: %v)", err)
	}
	return string(out)
}

// Close deletes the namespaces, and with them every interface and rule. Idempotent.
func (t *Topology) Close() error {
	t.once.Do(func() {
		var errs []error
		for i := len(t.ns) - 1; i >= 0; i-- {
			if t.ns[i] != "" {
				errs = append(errs, run(context.Background(), "ip", "netns", "del", t.ns[i]))
			}
		}
		t.err = errors.Join(errs...)
	})
	return t.err
}

func (t *Topology) ipn(ctx context.Context, n Node, args ...string) error {
	return run(ctx, "ip", append([]string{"-n", t.ns[n]}, args...)...)
}

func (t *Topology) nft(ctx context.Context, n Node, rules string) error {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", t.ns[n], "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nat: nft in %s: %w: %s", n, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

func run(ctx context.Context, name string, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nat: %s %v: %w: %s", name, args, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}
