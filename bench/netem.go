package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// benchNetem: throughput of a file with a delay and 1% loss each way, rangecast against
// bare pion, interleaved, at 50 and 100 ms RTT.
//
// Where the kernel has the netem qdisc, it shapes lo: the delay applies on each pass
// through lo, so 25 ms gives a 50 ms RTT; the qdisc is removed afterwards even on failure.
// Kernels built without CONFIG_NET_SCH_NETEM (this CI's, as of 2026-11) get the user-space
// relay of relay.go instead: every run, rangecast's and the baseline's alike, goes through
// a fresh relay that delays each direction by RTT/2 and drops 1% of each direction's
// datagrams. The rows' baseline names the method used.
func benchNetem(ctx context.Context, cfg *config) ([]Result, error) {
	useTC := true
	var results []Result
	for _, oneWay := range []int{25, 50} {
		rtt := 2 * oneWay
		d, err := startDaemon(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if useTC {
			err := tc("qdisc", "add", "dev", "lo", "root", "netem", "delay", fmt.Sprintf("%dms", oneWay), "loss", "1%")
			if err != nil {
				useTC = false
				logf("netem: no netem qdisc on lo (%v): using the user-space relay", err)
			}
		}
		var n netemSetup
		if useTC {
			n = netemSetup{size: 16 << 20, name: "mid.bin", method: fmt.Sprintf("netem on lo: %d ms per pass, 1%% loss", oneWay)}
			if cfg.quick {
				n.size, n.name = 2<<20, "netem.bin"
			}
		} else {
			if n, err = relaySetup(cfg, oneWay); err != nil {
				d.stop()
				return nil, err
			}
		}
		rc, base, err := netemRuns(ctx, cfg, d, n, rtt)
		if useTC {
			_ = tc("qdisc", "del", "dev", "lo", "root")
		}
		d.stop()
		if err != nil {
			return nil, err
		}
		results = append(results, newResult(fmt.Sprintf("%d ms RTT, 1%% loss", rtt), "MB/s", rc,
			fmt.Sprintf("bare pion, defaults (%s), %s", sizeString(n.size), n.method), base, "≥ 2× bare pion"))
	}
	return results, nil
}

// netemSetup is how one RTT is measured.
type netemSetup struct {
	size   int64
	name   string // the file read, of size bytes
	method string
	// via, if set, returns a fresh reroute for one run (user-space relay), dataUp if the
	// data flows from the client to the target.
	via func(run int, dataUp bool) *reroute
}

// Relay sizes at 50 ms RTT, halved at 100 ms. With 1% loss each way both SCTP stacks stay
// near the loss-bound rate (MSS·1.22/(RTT·√p): ~0.3 MB/s at 50 ms, ~0.15 MB/s at 100 ms),
// so the files are much smaller than netem's to keep the group within minutes: ~7 s per
// transfer, ~3 min for -runs 5.
const (
	relaySize      = 2 << 20
	relayQuickSize = 1 << 20
)

// relaySetup writes the file the relay runs read and describes the relay.
func relaySetup(cfg *config, oneWay int) (netemSetup, error) {
	n := netemSetup{size: relaySize}
	if cfg.quick {
		n.size = relayQuickSize
	}
	n.size = n.size * 25 / int64(oneWay)
	n.name = fmt.Sprintf("netem-relay-%d.bin", n.size)
	path := filepath.Join(cfg.dataDir, n.name)
	if fi, err := os.Stat(path); err != nil || fi.Size() != n.size {
		if err := writeRandom(path, n.size); err != nil {
			return n, err
		}
	}
	delay := time.Duration(oneWay) * time.Millisecond
	n.method = fmt.Sprintf("user-space relay: %d ms each way, 1%% loss each way", oneWay)
	// Each run has its seeds, and the data direction draws from the same one in both
	// transfers of a run: in the pion pair data flows from the client (offerer) to the
	// target, in rangecast from the target (daemon) to the client.
	n.via = func(run int, dataUp bool) *reroute {
		data, acks := uint64(1000*oneWay+2*run), uint64(1000*oneWay+2*run+1)
		o := relayOptions{
			Listen: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 2}), 0),
			Delay:  delay, Loss: 0.01, SeedUp: acks, SeedDown: data,
		}
		if dataUp {
			o.SeedUp, o.SeedDown = data, acks
		}
		return newReroute(o)
	}
	return n, nil
}

func sizeString(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

func netemRuns(ctx context.Context, cfg *config, d *daemon, n netemSetup, rtt int) (rc, base []float64, err error) {
	for i := range cfg.runs {
		order := []bool{false, true} // rangecast?
		if i%2 == 1 {
			order = []bool{true, false}
		}
		var r, b float64
		for _, isRC := range order {
			var rt *reroute
			if n.via != nil {
				rt = n.via(i, !isRC)
			}
			var err error
			var what string
			if isRC {
				what = "rangecast"
				r, err = netemRangecast(ctx, d, n, rt)
			} else {
				what = "bare pion"
				b, err = netemPion(ctx, n.size, rt)
			}
			if rt != nil {
				logf("run %d, %d ms RTT, %s: %s", i+1, rtt, what, rt.close())
			}
			if err != nil {
				return nil, nil, fmt.Errorf("%d ms RTT, %s: %w", rtt, what, err)
			}
		}
		rc, base = append(rc, r), append(base, b)
		logf("run %d, %d ms RTT: rangecast %.2f MB/s, bare pion %.2f MB/s", i+1, rtt, r, b)
	}
	return rc, base, nil
}

// netemTimeout bounds one transfer: a stalled one fails the group rather than hang it.
const netemTimeout = 5 * time.Minute

// netemPion is one bare-pion transfer of size bytes, through rt's relay if rt is set.
func netemPion(ctx context.Context, size int64, rt *reroute) (float64, error) {
	if rt == nil {
		mbps, _, err := pionThroughput(ctx, size)
		return mbps, err
	}
	ctx, cancel := context.WithTimeout(ctx, netemTimeout)
	defer cancel()
	p, err := newPionPairVia(ctx, rt)
	if err != nil {
		return 0, err
	}
	defer p.close()
	dt, err := p.transfer(ctx, size)
	if err != nil {
		return 0, err
	}
	return float64(size) / 1e6 / dt.Seconds(), nil
}

// netemRangecast reads n.name from the daemon, through rt's relay if rt is set, and checks
// that it got all n.size bytes.
func netemRangecast(ctx context.Context, d *daemon, n netemSetup, rt *reroute) (float64, error) {
	if rt == nil {
		mbps, _, err := rangecastThroughput(ctx, d, n.name, n.size)
		return mbps, err
	}
	ctx, cancel := context.WithTimeout(ctx, netemTimeout)
	defer cancel()
	s, err := connectWith(ctx, d.link, rt.dialOptions)
	if err != nil {
		if _, rerr := rt.relay(); rerr != nil {
			err = fmt.Errorf("%w (%v)", err, rerr)
		}
		return 0, err
	}
	defer s.Close()
	if _, err := rt.relay(); err != nil {
		return 0, err // connected without the relay: the rerouting is broken
	}
	t0 := time.Now()
	got, err := readAll(ctx, s, n.name)
	dt := time.Since(t0)
	if err != nil {
		return 0, err
	}
	if got != n.size {
		return 0, fmt.Errorf("read %d bytes of %s, want %d", got, n.name, n.size)
	}
	return float64(got) / 1e6 / dt.Seconds(), nil
}

// tc runs tc with args.
func tc(args ...string) error {
	out, err := exec.Command("tc", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("tc %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
