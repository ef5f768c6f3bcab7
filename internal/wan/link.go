//go:build linux

package wan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Side names one end of a Link, and the direction that starts there.
type Side int

const (
	// A is the first namespace; the direction A→B starts there.
	A Side = iota
	// B is the second namespace; the direction B→A starts there.
	B
)

func (s Side) String() string {
	switch s {
	case A:
		return "A"
	case B:
		return "B"
	}
	return fmt.Sprintf("Side(%d)", int(s))
}

// Device is the name of the TUN device in each namespace.
const Device = "wan0"

var (
	addrA = netip.MustParseAddr("10.77.0.1")
	addrB = netip.MustParseAddr("10.77.0.2")
)

// Stats counts what each direction of a Link did.
type Stats struct {
	AtoB, BtoA DirectionStats
}

// Link is an emulated WAN link between two network namespaces. Its methods are safe for
// concurrent use.
type Link struct {
	ns    [2]string   // namespace names, by Side
	tun   [2]*os.File // TUN devices, by Side
	pipes [2]*pipe    // by the Side the direction starts at
	done  chan struct{}
	wg    sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

var linkSeq atomic.Uint64

// New creates the two namespaces and their TUN devices and starts forwarding. ctx bounds the
// set-up only; the link lives until Close, which the caller must call (a crashed test leaves
// namespaces named rcwan<pid>-<n>{a,b} behind: ip netns del them).
func New(ctx context.Context, cfg Config) (l *Link, err error) {
	if err := errors.Join(cfg.AtoB.validate(), cfg.BtoA.validate()); err != nil {
		return nil, fmt.Errorf("wan: %w", err)
	}
	// The deferred teardown uses its own variable: every "return nil, err" below sets l to nil
	// before it runs.
	link := &Link{done: make(chan struct{})}
	l = link
	defer func() {
		if err != nil {
			err = errors.Join(err, link.teardown())
		}
	}()
	base := fmt.Sprintf("rcwan%d-%d", os.Getpid(), linkSeq.Add(1))
	for s, suffix := range []string{"a", "b"} {
		name := base + suffix
		if err := ip(ctx, "netns", "add", name); err != nil {
			return nil, err
		}
		l.ns[s] = name
	}
	for s := range l.ns {
		f, err := openTUN(l.ns[s])
		if err != nil {
			return nil, err
		}
		l.tun[s] = f
		local, peer := addrA, addrB
		if Side(s) == B {
			local, peer = addrB, addrA
		}
		for _, args := range [][]string{
			{"link", "set", "lo", "up"},
			// A long transmit queue, so that a burst that outruns the forwarder for a moment
			// waits instead of being dropped by the kernel, out of sight of the counters.
			{"link", "set", Device, "mtu", fmt.Sprint(mtu), "txqueuelen", "4096", "up"},
			{"addr", "add", local.String(), "peer", peer.String() + "/32", "dev", Device},
			{"route", "add", "default", "dev", Device},
		} {
			if err := ip(ctx, append([]string{"-n", l.ns[s]}, args...)...); err != nil {
				return nil, err
			}
		}
	}
	l.pipes[A] = newPipe(l.tun[A], l.tun[B], cfg.AtoB, cfg.Seed, 1, l.done)
	l.pipes[B] = newPipe(l.tun[B], l.tun[A], cfg.BtoA, cfg.Seed, 2, l.done)
	for _, p := range l.pipes {
		l.wg.Add(2)
		go func() { defer l.wg.Done(); p.readLoop() }()
		go func() { defer l.wg.Done(); p.writeLoop() }()
	}
	return l, nil
}

// Namespace returns the name of a side's network namespace, for ip netns exec and friends.
func (l *Link) Namespace(s Side) string { return l.ns[s] }

// Addr returns a side's address on the link.
func (l *Link) Addr(s Side) netip.Addr {
	if s == B {
		return addrB
	}
	return addrA
}

// AddrA returns A's address, 10.77.0.1.
func (l *Link) AddrA() netip.Addr { return addrA }

// AddrB returns B's address, 10.77.0.2.
func (l *Link) AddrB() netip.Addr { return addrB }

// SetDirection replaces the impairments of the direction that starts at from. Packets already
// in flight keep the delay they were given, but are dropped if d.Down.
func (l *Link) SetDirection(from Side, d Direction) error {
	if err := d.validate(); err != nil {
		return fmt.Errorf("wan: %w", err)
	}
	l.pipes[from].set(d)
	return nil
}

// Direction returns the impairments of the direction that starts at from.
func (l *Link) Direction(from Side) Direction {
	p := l.pipes[from]
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg
}

// SetDown cuts (true) or restores (false) both directions, keeping their other settings.
func (l *Link) SetDown(down bool) {
	for _, p := range l.pipes {
		p.mu.Lock()
		p.cfg.Down = down
		p.mu.Unlock()
		p.signal()
	}
}

// Stats returns the counters of both directions.
func (l *Link) Stats() Stats {
	return Stats{AtoB: l.pipes[A].snapshot(), BtoA: l.pipes[B].snapshot()}
}

// KernelDrops returns how many packets the kernel dropped on side s's TUN because the
// forwarder did not read them in time (its transmit queue of 4096 packets was full). These
// are the emulator's own overload, not an impairment, and are in no other counter: a benchmark
// should check that they stay 0.
func (l *Link) KernelDrops(ctx context.Context, s Side) (uint64, error) {
	out, err := exec.CommandContext(ctx, "ip", "-n", l.ns[s], "-j", "-s", "link", "show", "dev", Device).Output()
	if err != nil {
		return 0, fmt.Errorf("wan: ip link show %s in %s: %w", Device, l.ns[s], err)
	}
	var links []struct {
		Stats64 struct {
			TX struct {
				Dropped uint64 `json:"dropped"`
			} `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		return 0, fmt.Errorf("wan: ip -j link show %s in %s: %q: %v", Device, l.ns[s], out, err)
	}
	return links[0].Stats64.TX.Dropped, nil
}

// UDPReceiveBufferErrors returns side s's namespace's count of UDP datagrams dropped because a
// socket's receive buffer was full (RcvbufErrors in /proc/net/snmp, summed over IPv4 and
// IPv6): the receiver's own losses, which the emulator does not see.
func (l *Link) UDPReceiveBufferErrors(s Side) (uint64, error) {
	var total uint64
	// /proc/thread-self/net is the calling thread's namespace, which Run sets.
	err := l.Run(s, func() error {
		for _, f := range []string{"snmp", "snmp6"} {
			b, err := os.ReadFile("/proc/thread-self/net/" + f)
			if err == nil {
				var n uint64
				n, err = rcvbufErrors(string(b))
				total += n
			}
			if err != nil {
				return fmt.Errorf("wan: /proc/net/%s in %s: %w", f, l.ns[s], err)
			}
		}
		return nil
	})
	return total, err
}

// rcvbufErrors reads the UDP receive-buffer errors from /proc/net/snmp (a "Udp:" header line
// followed by a "Udp:" values line) or /proc/net/snmp6 ("Udp6RcvbufErrors N").
func rcvbufErrors(text string) (uint64, error) {
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "Udp6RcvbufErrors" {
			return strconv.ParseUint(f[1], 10, 64)
		}
		if len(f) == 0 || f[0] != "Udp:" || i+1 >= len(lines) {
			continue
		}
		k := slices.Index(f, "RcvbufErrors")
		v := strings.Fields(lines[i+1])
		if k < 0 || k >= len(v) || v[0] != "Udp:" {
			continue
		}
		return strconv.ParseUint(v[k], 10, 64)
	}
	return 0, errors.New("no UDP RcvbufErrors counter")
}

// Command returns a command that runs name inside side's namespace (through ip netns exec,
// which execs it: the process's pid is the command's).
func (l *Link) Command(s Side, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", l.ns[s], name}, args...)...)
}

// CommandContext is Command with a context that kills the process.
func (l *Link) CommandContext(ctx context.Context, s Side, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.ns[s], name}, args...)...)
}

// Run runs fn inside side's namespace, on an OS thread of its own that is discarded
// afterwards, and returns its error. Sockets fn creates stay in the namespace and can be used
// from any goroutine later; goroutines fn starts do not run in the namespace (see the package
// documentation).
func (l *Link) Run(s Side, fn func() error) error {
	return inNamespace(l.ns[s], fn)
}

// Close stops forwarding, closes the TUN devices (which removes them) and deletes the
// namespaces. Processes still running in a namespace keep it alive, without its name, until
// they exit. Close is idempotent.
func (l *Link) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.teardown() })
	return l.closeErr
}

func (l *Link) teardown() error {
	var errs []error
	for _, f := range l.tun {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	close(l.done)
	l.wg.Wait()
	for _, p := range l.pipes {
		if p != nil {
			p.drain()
		}
	}
	for _, name := range l.ns {
		if name != "" {
			errs = append(errs, ip(context.Background(), "netns", "del", name))
		}
	}
	return errors.Join(errs...)
}

// ip runs the ip command, returning its stderr in the error.
func ip(ctx context.Context, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("wan: ip %v: %w: %s", args, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// inNamespace runs fn on a locked OS thread moved into the named namespace. The goroutine
// returns without unlocking, so the runtime ends the thread instead of reusing it in the
// wrong namespace.
func inNamespace(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("wan: open namespace %s: %w", name, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("wan: setns %s: %w", name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// openTUN creates the TUN device Device inside the named namespace: a TUN device belongs to
// the namespace of the thread that opened /dev/net/tun.
func openTUN(ns string) (*os.File, error) {
	var f *os.File
	err := inNamespace(ns, func() error {
		// IPv4 only: without this the kernel sends IPv6 router solicitations and MLD reports
		// over the TUN, which the counters would see. /proc/sys/net is the opener's namespace's.
		for _, conf := range []string{"all", "default"} {
			err := os.WriteFile("/proc/sys/net/ipv6/conf/"+conf+"/disable_ipv6", []byte("1"), 0)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("wan: disable IPv6 in %s: %w", ns, err)
			}
		}
		// Non-blocking, so that os.NewFile puts it in the runtime poller and Close wakes a
		// pending Read.
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("wan: open /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(Device)
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("wan: TUNSETIFF %s in %s: %w", Device, ns, err)
		}
		f = os.NewFile(uintptr(fd), "tun:"+ns)
		return nil
	})
	return f, err
}
