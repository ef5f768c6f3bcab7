package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rangecast/rangecast/internal/wan"
)

// benchWAN: throughput through internal/wan's emulated WAN link (docs/WAN.md), rangecast
// against bare pion and against kernel TCP (CUBIC, BBR), interleaved, for each row of the
// matrix RTT × loss × bottleneck. The sender of every method runs in namespace A
// (10.77.0.1), the receiver in B (10.77.0.2):
//
//   - rangecast: `rangecast serve` in A (Link.Command); the native client, with the options of
//     `rangecast get`, is this program as a helper process in B (wanhelper.go);
//   - bare pion: two helper processes, one per namespace, pion's defaults;
//   - TCP: Go's http.FileServer in this process on a listener made in A with the congestion
//     control set on it, and a plain HTTP/1.1 Range GET from a connection made in B;
//   - chromium: the web app in Chromium in B, reading with File.stream() from the default
//     daemon (wanbrowser.go), timed in the page from the open to the last byte.
//
// Each run of a method moves max(2 MiB, its expected rate × 5 s) bytes of big.bin; the
// expected rate is the median of the method's earlier runs in the row, or a guess for the
// first one.
func benchWAN(ctx context.Context, cfg *config) ([]Result, error) {
	rows, err := wanRows(cfg)
	if err != nil {
		return nil, err
	}
	// The daemons serve the web app too, for the chromium method: web/dist must be fresh.
	if cfg, err = browserDaemonBinary(ctx, cfg); err != nil {
		return nil, err
	}
	variants, err := wanVariants()
	if err != nil {
		return nil, err
	}
	var results []Result
	for _, row := range rows {
		rs, err := wanRow(ctx, cfg, row, variants)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", row.label, err)
		}
		results = append(results, rs...)
	}
	return results, nil
}

type wanRowSpec struct {
	label string // 50ms/1% or 50ms/1%/20Mbit
	path  wan.Path
}

var (
	wanRTTs  = []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}
	wanLoss  = []float64{0, 0.001, 0.01, 0.02}
	wanCap   = int64(20e6)
	wanQueue = 50 * time.Millisecond
)

func rowLabel(p wan.Path) string {
	s := fmt.Sprintf("%dms/%g%%", p.RTT.Milliseconds(), 100*p.Loss)
	if p.RateBps > 0 {
		s += fmt.Sprintf("/%gMbit", float64(p.RateBps)/1e6)
	}
	return s
}

// wanRows is the matrix, or the rows -wan-rows names; -quick alone gives one small row.
func wanRows(cfg *config) ([]wanRowSpec, error) {
	var all []wanRowSpec
	for _, rate := range []int64{0, wanCap} {
		for _, rtt := range wanRTTs {
			for _, loss := range wanLoss {
				p := wan.Path{RTT: rtt, Loss: loss, RateBps: rate, Seed: uint64(rtt.Milliseconds())*1000 + uint64(loss*1e4)}
				if rate > 0 {
					p.Queue = wanQueue
				}
				all = append(all, wanRowSpec{label: rowLabel(p), path: p})
			}
		}
	}
	sel := cfg.wanRows
	if sel == "" && cfg.quick {
		sel = "50ms/1%"
	}
	if sel == "" {
		return all, nil
	}
	var out []wanRowSpec
	for _, name := range strings.Split(sel, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(all, func(r wanRowSpec) bool { return r.label == name })
		if i < 0 {
			var names []string
			for _, r := range all {
				names = append(names, r.label)
			}
			return nil, fmt.Errorf("-wan-rows: no row %q (rows: %s)", name, strings.Join(names, ","))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// wanVariant is one rangecast daemon of a row: the default one has no name; others come from
// $RANGECAST_BENCH_WAN_VARIANTS, "NAME:FLAG FLAG…;NAME:…", extra `rangecast serve` flags
// measured next to the default: an A/B test of the daemon's settings. A token VAR=VALUE (an
// upper-case name) is set in that daemon's environment instead. A token connections=N is the
// native client's instead (`rangecast get --connections N`): a variant of the client, which
// has no Chromium of its own.
type wanVariant struct {
	name  string
	flags []string
	env   []string // NAME=VALUE tokens among the flags: the daemon's environment
	conns int      // connections=N: the native client's connections; 0: one, as `rangecast get`
}

// envName is how a variant's token names an environment variable rather than a flag.
var envName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

const envWANVariants = "RANGECAST_BENCH_WAN_VARIANTS"

// methodChromium is the web app in Chromium in B against the default daemon (wanbrowser.go);
// each variant's daemon has a Chromium of its own, "chromium [NAME]".
const methodChromium = "chromium"

func wanVariants() ([]wanVariant, error) {
	vs := []wanVariant{{}}
	for _, v := range strings.Split(os.Getenv(envWANVariants), ";") {
		if strings.TrimSpace(v) == "" {
			continue
		}
		name, flags, ok := strings.Cut(v, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("$%s: %q is not NAME:FLAGS", envWANVariants, v)
		}
		w := wanVariant{name: strings.TrimSpace(name)}
		for _, f := range strings.Fields(flags) {
			k, val, ok := strings.Cut(f, "=")
			switch {
			case ok && k == "connections":
				n, err := strconv.Atoi(val)
				if err != nil || n < 1 {
					return nil, fmt.Errorf("$%s: %q: want connections=N, N ≥ 1", envWANVariants, f)
				}
				w.conns = n
			case ok && envName.MatchString(k):
				w.env = append(w.env, f)
			default:
				w.flags = append(w.flags, f)
			}
		}
		vs = append(vs, w)
	}
	return vs, nil
}

// suffix is what the variant's methods and rows add to the default daemon's: " [NAME]".
func (v wanVariant) suffix() string {
	if v.name == "" {
		return ""
	}
	return " [" + v.name + "]"
}

func (v wanVariant) method() string { return "rangecast" + v.suffix() }

// chromium is the method of the web app in Chromium against the variant's daemon.
func (v wanVariant) chromium() string { return methodChromium + v.suffix() }

// hasChromium reports whether the variant has a Chromium method: not when it varies only the
// native client.
func (v wanVariant) hasChromium() bool {
	return v.conns == 0 || len(v.flags)+len(v.env) > 0
}

// wanTransfer is what one run of one method measured.
type wanTransfer struct {
	mbps    float64
	util    float64 // A→B bytes forwarded / what the cap could carry meanwhile, capped rows
	qdrops  float64 // A→B queue drops / A→B packets, capped rows
	loss    float64 // A→B random-loss drops / A→B packets
	seconds float64
	rcvbuf  uint64 // datagrams B's sockets dropped, their receive buffers full
}

func wanRow(ctx context.Context, cfg *config, row wanRowSpec, variants []wanVariant) (_ []Result, err error) {
	logf("wan %s: %s", row.label, row.path)
	l, err := wan.New(ctx, row.path.Config())
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, l.Close()) }()

	daemons := make([]*daemon, len(variants))
	defer func() {
		for _, d := range daemons {
			if d != nil {
				d.stop()
			}
		}
	}()
	for i, v := range variants {
		// $RANGECAST_BENCH_SERVE_FLAGS reaches every daemon of the group, as in the others;
		// a variant's flags come after them.
		cmd := l.Command(wan.A, cfg.bin, serveArgs(cfg, l.AddrA().String()+":0", 16, v.flags...)...)
		if len(v.env) > 0 {
			cmd.Env = append(os.Environ(), v.env...)
		}
		d, err := startDaemonCmd(ctx, cmd)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.method(), err)
		}
		daemons[i] = d
	}
	tcps := map[string]*tcpServer{}
	defer func() {
		for _, s := range tcps {
			s.close()
		}
	}()
	for _, cc := range []string{"cubic", "bbr"} {
		s, err := startTCPServer(l, cfg.dataDir, cc)
		if err != nil {
			return nil, err
		}
		tcps[cc] = s
	}

	methods := []string{"pion", "tcp cubic", "tcp bbr"}
	for _, v := range variants {
		methods = append(methods, v.method())
	}
	for _, v := range variants {
		if v.hasChromium() {
			methods = append(methods, v.chromium())
		}
	}
	browsers := make([]*wanBrowser, len(variants))
	defer func() {
		for _, br := range browsers {
			if br != nil {
				br.close()
			}
		}
	}()
	got := map[string][]wanTransfer{}
	for run := range cfg.runs {
		// Rotate the order, so that no method always follows the same one.
		order := slices.Clone(methods)
		k := run % len(order)
		order = append(order[k:], order[:k]...)
		for _, m := range order {
			n := wanSize(cfg, row.path, m, got[m])
			before := l.Stats().AtoB
			rcvbufBefore, err := l.UDPReceiveBufferErrors(wan.B)
			if err != nil {
				return nil, err
			}
			var dt time.Duration
			switch {
			case m == "pion":
				dt, err = wanPion(ctx, cfg, l, n)
			case strings.HasPrefix(m, "tcp "):
				dt, err = tcps[strings.TrimPrefix(m, "tcp ")].get(ctx, l, "big.bin", n)
			case strings.HasPrefix(m, methodChromium):
				i := slices.IndexFunc(variants, func(v wanVariant) bool { return v.chromium() == m })
				if browsers[i] == nil {
					if browsers[i], err = startWANBrowser(ctx, cfg, l, daemons[i]); err != nil {
						break
					}
				}
				dt, err = browsers[i].read(n)
			default:
				i := slices.IndexFunc(variants, func(v wanVariant) bool { return v.method() == m })
				dt, err = wanGet(ctx, l, daemons[i], variants[i].conns, n)
			}
			if err != nil {
				return nil, fmt.Errorf("run %d, %s: %w", run+1, m, err)
			}
			after := l.Stats().AtoB
			rcvbufAfter, err := l.UDPReceiveBufferErrors(wan.B)
			if err != nil {
				return nil, err
			}
			t := wanTransfer{mbps: float64(n) / 1e6 / dt.Seconds(), seconds: dt.Seconds(), rcvbuf: rcvbufAfter - rcvbufBefore}
			if pk := float64(after.Packets - before.Packets); pk > 0 {
				t.qdrops = float64(after.DroppedQueue-before.DroppedQueue) / pk
				t.loss = float64(after.DroppedLoss-before.DroppedLoss) / pk
			}
			if row.path.RateBps > 0 {
				t.util = float64(after.ForwardedBytes-before.ForwardedBytes) * 8 / (float64(row.path.RateBps) * dt.Seconds())
			}
			got[m] = append(got[m], t)
			logf("wan %s run %d: %-22s %7.3f MB/s  %s in %.1f s  loss %.2f%%  queue drops %.2f%%  util %.0f%%  receiver's socket drops %d",
				row.label, run+1, m, t.mbps, sizeString(n), t.seconds, 100*t.loss, 100*t.qdrops, 100*t.util, t.rcvbuf)
		}
	}

	// Sharing the bottleneck: each variant's daemon and native client, run by run.
	type shareRuns struct{ jain, drops, tcp []float64 }
	shares := make([]shareRuns, len(variants))
	if row.path.RateBps > 0 {
		for range cfg.runs {
			for i, v := range variants {
				j, q, t, err := wanShare(ctx, l, daemons[i], v.conns, tcps["cubic"], cfg.bigSize)
				if err != nil {
					return nil, fmt.Errorf("share%s: %w", v.suffix(), err)
				}
				sh := &shares[i]
				sh.jain, sh.drops, sh.tcp = append(sh.jain, j), append(sh.drops, 100*q), append(sh.tcp, 100*t)
			}
		}
	}

	st := l.Stats()
	maxLate := max(st.AtoB.MaxLate, st.BtoA.MaxLate)
	var kdrops uint64
	for _, s := range []wan.Side{wan.A, wan.B} {
		k, err := l.KernelDrops(ctx, s)
		if err != nil {
			return nil, err
		}
		kdrops += k
	}
	note := fmt.Sprintf("%s; emulator MaxLate %v, kernel drops %d, overflow %d", row.path,
		maxLate.Round(time.Millisecond), kdrops, st.AtoB.DroppedOverflow+st.BtoA.DroppedOverflow)
	logf("wan %s: %s", row.label, note)
	if kdrops > 0 || maxLate > row.path.RTT/2 {
		logf("wan %s: WARNING: the emulator fell behind (MaxLate %v, kernel drops %d): these figures are untrustworthy", row.label, maxLate, kdrops)
	}

	mbps := func(m string) []float64 {
		var v []float64
		for _, t := range got[m] {
			v = append(v, t.mbps)
		}
		return v
	}
	field := func(m string, f func(wanTransfer) float64) []float64 {
		var v []float64
		for _, t := range got[m] {
			v = append(v, 100*f(t))
		}
		return v
	}
	tPion, tCubic, tBBR := wanTargets(row.path)
	var results []Result
	type rowMethod struct{ m, name string }
	var rms []rowMethod
	for _, v := range variants {
		rms = append(rms, rowMethod{v.method(), "wan " + row.label + v.suffix()})
	}
	for _, v := range variants {
		if v.hasChromium() {
			rms = append(rms, rowMethod{v.chromium(), "wan " + row.label + " chromium" + v.suffix()})
		}
	}
	for i, rm := range rms {
		m, name := rm.m, rm.name
		rs := []Result{
			newResult(name, "MB/s", mbps(m), "bare pion, defaults", mbps("pion"), tPion),
			newResult(name+" vs TCP cubic", "MB/s", mbps(m), "TCP CUBIC, Go net/http", mbps("tcp cubic"), tCubic),
			newResult(name+" vs TCP bbr", "MB/s", mbps(m), "TCP BBR, Go net/http", mbps("tcp bbr"), tBBR),
		}
		if row.path.RateBps > 0 {
			rs = append(rs,
				newResult(name+" utilisation", "%", field(m, func(t wanTransfer) float64 { return t.util }),
					"TCP CUBIC", field("tcp cubic", func(t wanTransfer) float64 { return t.util }), "≥ 90"),
				newResult(name+" queue drops", "%", field(m, func(t wanTransfer) float64 { return t.qdrops }),
					"TCP CUBIC", field("tcp cubic", func(t wanTransfer) float64 { return t.qdrops }), "≤ 2"))
		}
		if row.path.RateBps > 0 && i < len(variants) { // a native client: its sharing tests
			rs = append(rs,
				newResult(name+" 2 downloads, Jain index", "index", shares[i].jain, "", nil, "≥ 0.9"),
				newResult(name+" 2 downloads, queue drops", "%", shares[i].drops, "", nil, "≤ 2"),
				newResult(name+" TCP CUBIC's share beside it", "%", shares[i].tcp, "", nil, "≥ 33"))
		}
		for i := range rs {
			rs[i].Notes = note
		}
		results = append(results, rs...)
	}
	return results, nil
}

// wanTargets are the targets for a row: against bare pion, TCP CUBIC and TCP BBR.
func wanTargets(p wan.Path) (pion, cubic, bbr string) {
	ms := p.RTT.Milliseconds()
	switch {
	case p.RateBps > 0:
	case ms == 50 && p.Loss == 0.01:
		return "≥ 5 and ≥ 15× bare pion", "≥ 1.0× TCP CUBIC", ""
	case ms == 100 && p.Loss == 0.01:
		return "≥ 2.5", "", ""
	case ms == 200 && p.Loss == 0.02:
		return "≥ 0.8", "", ""
	case p.Loss <= 0.001:
		return "", "", "≥ 0.8× TCP BBR"
	}
	return "", "", ""
}

// wanSize is how many bytes method m moves in its next run of the row: enough for about 5 s
// at its expected rate, at least 2 MiB, at most big.bin; 2 MiB with -quick.
func wanSize(cfg *config, p wan.Path, m string, earlier []wanTransfer) int64 {
	const minSize = 2 << 20
	if cfg.quick {
		return minSize
	}
	var rate float64 // bytes/s
	if len(earlier) > 0 {
		var v []float64
		for _, t := range earlier {
			v = append(v, t.mbps*1e6)
		}
		rate, _, _ = summary(v)
	} else {
		// A guess: the loss bound of a 1191-byte-MTU NewReno sender (bare pion), a few times
		// that for the others; without loss 40 MB/s, but 3 MB/s for bare pion (2.2 MB/s
		// measured at 50 ms/0 %: cause not investigated); never above the cap.
		rate = 40e6
		if m == "pion" {
			rate = 3e6
		}
		if p.Loss > 0 {
			rate = 1191 * 1.22 / (p.RTT.Seconds() * sqrt(p.Loss))
			if m != "pion" {
				rate *= 4
			}
		}
		if p.RateBps > 0 {
			rate = min(rate, float64(p.RateBps)/8)
		}
	}
	n := int64(rate*wanSeconds()) &^ (64<<10 - 1)
	return min(max(n, minSize), cfg.bigSize)
}

// envWANSeconds sets how long a transfer of the wan group is meant to last, at its method's
// expected rate: 5 s unless set. Longer transfers weigh setup less (a download striped over
// several connections dials them while it runs).
const envWANSeconds = "RANGECAST_BENCH_WAN_SECONDS"

func wanSeconds() float64 {
	if v, err := strconv.ParseFloat(os.Getenv(envWANSeconds), 64); err == nil && v > 0 {
		return v
	}
	return 5
}

func sqrt(x float64) float64 {
	z := x
	for range 30 {
		z = (z + x/z) / 2
	}
	return z
}

// wanGet runs the native client in B against d for n bytes of big.bin.
func wanGet(ctx context.Context, l *wan.Link, d *daemon, conns int, n int64) (time.Duration, error) {
	_, dt, err := wanGetFor(ctx, l, d, conns, n, 0)
	return dt, err
}

// wanGetFor runs the native client in B against d for n bytes of big.bin, or as many as it
// reads in limit if that is not 0.
func wanGetFor(ctx context.Context, l *wan.Link, d *daemon, conns int, n int64, limit time.Duration) (int64, time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	args := []string{helperArg, "get", d.link, "big.bin", strconv.FormatInt(n, 10)}
	if limit > 0 {
		args = []string{helperArg, "get-for", d.link, "big.bin", limit.String(), strconv.FormatInt(n, 10)}
	}
	cmd := l.CommandContext(ctx, wan.B, self, args...)
	cmd.Env = append(os.Environ(), envHelperConnections+"="+strconv.Itoa(conns))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", cmd, err)
	}
	var r helperResult
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, 0, fmt.Errorf("get: %q: %w", out, err)
	}
	if r.Stripes > 1 {
		logf("  get read over %d connections", r.Stripes)
	}
	return r.Bytes, time.Duration(r.Seconds * float64(time.Second)), nil
}

// wanShareTime is how long each download of a sharing test runs.
const wanShareTime = 10 * time.Second

// wanShare runs two downloads at once through the row's bottleneck for wanShareTime: two
// rangecast downloads from d (their Jain fairness index, and the queue drops meanwhile), then
// one from d beside a TCP CUBIC one (TCP's share of the total). Each rangecast download reads
// over conns connections (0: one), as `rangecast get --connections`. A striped download's bytes
// count as it hands them on, in order: at a share of 20 Mbit/s a 2 MiB chunk takes seconds, so
// its rate (and with it the Jain index and TCP's share) lags what it carried; its queue drops
// do not.
func wanShare(ctx context.Context, l *wan.Link, d *daemon, conns int, tcp *tcpServer, bigSize int64) (jain, qdrops, tcpShare float64, err error) {
	type res struct {
		mbps float64
		err  error
	}
	both := func(a, b func() (int64, time.Duration, error)) ([2]float64, error) {
		ch := make(chan res, 2)
		out := [2]float64{}
		for i, f := range []func() (int64, time.Duration, error){a, b} {
			go func() {
				n, dt, err := f()
				r := res{err: err}
				if err == nil {
					r.mbps = float64(n) / 1e6 / dt.Seconds()
				}
				out[i] = r.mbps
				ch <- r
			}()
		}
		var errs []error
		for range 2 {
			errs = append(errs, (<-ch).err)
		}
		return out, errors.Join(errs...)
	}
	rc := func() (int64, time.Duration, error) { return wanGetFor(ctx, l, d, conns, bigSize, wanShareTime) }
	before := l.Stats().AtoB
	r, err := both(rc, rc)
	if err != nil {
		return 0, 0, 0, err
	}
	after := l.Stats().AtoB
	jain = (r[0] + r[1]) * (r[0] + r[1]) / (2 * (r[0]*r[0] + r[1]*r[1]))
	if pk := float64(after.Packets - before.Packets); pk > 0 {
		qdrops = float64(after.DroppedQueue-before.DroppedQueue) / pk
	}
	logf("share: two rangecast downloads %.3f and %.3f MB/s: Jain %.3f, queue drops %.2f%%", r[0], r[1], jain, 100*qdrops)
	t, err := both(rc, func() (int64, time.Duration, error) { return tcp.getFor(ctx, l, "big.bin", bigSize, wanShareTime) })
	if err != nil {
		return 0, 0, 0, err
	}
	tcpShare = t[1] / (t[0] + t[1])
	logf("share: rangecast %.3f MB/s beside TCP CUBIC %.3f MB/s: TCP's share %.0f%%", t[0], t[1], 100*tcpShare)
	return jain, qdrops, tcpShare, nil
}

// wanPion runs the bare-pion pair, sender in A and receiver in B, relaying their offer and
// answer, and returns the time from the sender's open channel to the receiver's last byte.
func wanPion(ctx context.Context, cfg *config, l *wan.Link, n int64) (time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, wanTimeout)
	defer cancel()
	start := func(side wan.Side, role string) (*exec.Cmd, io.WriteCloser, *bufio.Reader, error) {
		cmd := l.CommandContext(ctx, side, self, helperArg, role, strconv.FormatInt(n, 10))
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, nil, nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, nil, err
		}
		return cmd, in, bufio.NewReader(out), cmd.Start()
	}
	send, sendIn, sendOut, err := start(wan.A, "pion-send")
	if err != nil {
		return 0, err
	}
	defer func() { _ = sendIn.Close(); _ = send.Wait() }()
	recv, recvIn, recvOut, err := start(wan.B, "pion-recv")
	if err != nil {
		return 0, err
	}
	defer func() { _ = recvIn.Close(); _ = recv.Wait() }()
	relay := func(from *bufio.Reader, to io.Writer) error {
		line, err := from.ReadBytes('\n')
		if err != nil {
			return err
		}
		_, err = to.Write(line)
		return err
	}
	if err := relay(sendOut, recvIn); err != nil {
		return 0, fmt.Errorf("offer: %w", err)
	}
	if err := relay(recvOut, sendIn); err != nil {
		return 0, fmt.Errorf("answer: %w", err)
	}
	var s, r helperResult
	for _, x := range []struct {
		from *bufio.Reader
		into *helperResult
	}{{sendOut, &s}, {recvOut, &r}} {
		line, err := x.from.ReadBytes('\n')
		if err != nil {
			return 0, fmt.Errorf("pion: %w", err)
		}
		if err := json.Unmarshal(line, x.into); err != nil {
			return 0, err
		}
	}
	if r.Bytes < n || s.Start == 0 || r.End < s.Start {
		return 0, fmt.Errorf("pion: got %+v from the sender and %+v from the receiver", s, r)
	}
	return time.Duration(r.End - s.Start), nil
}

func sizeString(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
