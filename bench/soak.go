package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rangecast/rangecast/pkg/connect"
	"github.com/rangecast/rangecast/pkg/signaling"
	"github.com/rangecast/rangecast/pkg/wire"
)

// The soak (`-only soak`, `make soak`): mixed clients against one `rangecast serve` for
// -soak-duration (30 min; about 20 s with -quick, which make bench-smoke runs), sampling the
// daemon's RSS, goroutines and open files, then checking that none of them leaked. It is
// not part of a plain `go run ./bench` (only of -quick): it would add half an hour.
//
// Load, all at once, each worker dialing a fresh connection per round and closing it:
//   - soakGetters native clients reading mid.bin whole, checked by sha256;
//   - soakSeekers native clients doing ReadAt at random offsets of big.bin, each checked
//     against the local file's bytes;
//   - one lister reading a directory of soakListEntries entries, checked name by name;
//   - one killer: `rangecast get` of big.bin, SIGKILLed after a random delay;
//   - one hostile client: alternately a session whose channel gets a malformed frame (the
//     daemon must answer ERROR or close the channel), and one that opens handles until the
//     daemon refuses (too many handles), then leaves without closing them;
//   - a UDP flood at the daemon's UDP port, every minute for 10 s (5 s once with -quick):
//     2,000 datagrams/s, half random bytes, half malformed STUN.
//
// Checks: no verification error; the daemon alive; every sample under soakMaxRSS and
// soakMaxFDs; after the load, once every peer is gone and a quiet period has passed,
// goroutines and open files within a small margin of the baseline taken after a warm-up;
// mean RSS of the last third of the load ≤ 1.2 × that of the first third (runs of 2 min
// and more: shorter ones are still warming up).

const (
	soakGetters     = 2
	soakSeekers     = 2
	soakListEntries = 3000
	soakListDir     = "soak-list"
	soakFloodRate   = 2000 // datagrams per second during a flood
	soakMaxRSS      = 768 << 20
	soakMaxFDs      = 1024
	soakRSSGrowth   = 1.20
)

// soakSample is one look at the daemon.
type soakSample struct {
	T          float64 `json:"t_s"` // since the daemon started
	Phase      string  `json:"phase"`
	RSS        float64 `json:"rss_bytes"`
	Goroutines int     `json:"goroutines"`
	OpenFiles  int     `json:"open_files"`
	HeapBytes  float64 `json:"heap_bytes"`
	Peers      int     `json:"peers"`
}

// soakStatus is what the soak reads of the daemon's /api/v1/status.
type soakStatus struct {
	Peers      int      `json:"peers"`
	Goroutines int      `json:"goroutines"`
	OpenFiles  int      `json:"open_files"`
	HeapBytes  float64  `json:"heap_bytes"`
	UDP        []string `json:"udp"`
}

// soakCounts are the operations done, by kind.
type soakCounts struct {
	Gets, Seeks, Lists, Kills, KillsFinished, Malformed, HandleFloods, Datagrams, Dials atomic.Int64
}

func (c *soakCounts) snapshot() map[string]int64 {
	return map[string]int64{
		"gets": c.Gets.Load(), "seeks": c.Seeks.Load(), "lists": c.Lists.Load(), "kills": c.Kills.Load(),
		"kills_finished_first": c.KillsFinished.Load(), "malformed_frames": c.Malformed.Load(),
		"handle_floods": c.HandleFloods.Load(), "datagrams": c.Datagrams.Load(), "dials": c.Dials.Load(),
	}
}

type soakCheck struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Bound string `json:"bound"`
	OK    bool   `json:"ok"`
}

type soakReport struct {
	Duration    string           `json:"duration"`
	Start       time.Time        `json:"start"`
	Baseline    soakSample       `json:"baseline"`
	Final       soakSample       `json:"final"`
	Counts      map[string]int64 `json:"counts"`
	Errors      []string         `json:"errors,omitempty"`
	ErrorsTotal int              `json:"errors_total"`
	Checks      []soakCheck      `json:"checks"`
	Pass        bool             `json:"pass"`
	Samples     []soakSample     `json:"samples"`
}

// soak is the run's shared state.
type soak struct {
	cfg    *config
	d      *daemon
	t0     time.Time
	status *http.Client
	counts soakCounts
	midSum string   // hex
	big    *os.File // the local big.bin, for checking ReadAt

	mu      sync.Mutex
	errs    []string
	nerrs   int
	samples []soakSample
}

func (s *soak) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nerrs++
	if len(s.errs) < 50 {
		s.errs = append(s.errs, fmt.Sprintf("%.1fs %s", time.Since(s.t0).Seconds(), msg))
		logf("  soak error: %s", msg)
	}
}

func (s *soak) errCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nerrs
}

func benchSoak(ctx context.Context, cfg *config) ([]Result, error) {
	dur := cfg.soakDuration
	logf("soak: %s of mixed clients against one daemon", dur)
	if err := writeSoakData(cfg); err != nil {
		return nil, err
	}
	s := &soak{cfg: cfg, status: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}}
	sum, err := fileSHA256(filepath.Join(cfg.dataDir, "mid.bin"))
	if err != nil {
		return nil, err
	}
	s.midSum = sum
	if s.big, err = os.Open(filepath.Join(cfg.dataDir, "big.bin")); err != nil {
		return nil, err
	}
	defer s.big.Close()

	d, err := startDaemon(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	s.d, s.t0 = d, time.Now()
	st, err := s.getStatus(ctx)
	if err != nil {
		return nil, err
	}
	if len(st.UDP) == 0 {
		return nil, fmt.Errorf("soak: the daemon's status names no UDP address")
	}
	udpAddr := st.UDP[0]

	interval := min(10*time.Second, max(dur/10, time.Second))
	quiet := 20 * time.Second
	if dur < 2*time.Minute {
		quiet = 5 * time.Second
	}

	// Warm-up: one of each kind, then wait for the daemon to be idle, then the baseline.
	logf("soak: warm-up")
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))
	s.getOnce(ctx, rng)
	s.seekOnce(ctx, rng, 20)
	s.listOnce(ctx)
	s.malformedOnce(ctx, rng)
	s.handlesOnce(ctx)
	if err := s.waitIdle(ctx, time.Minute); err != nil {
		return nil, err
	}
	time.Sleep(2 * time.Second)
	base, err := s.sample(ctx, "baseline")
	if err != nil {
		return nil, err
	}
	logf("soak: baseline RSS %.1f MiB, %d goroutines, %d open files, heap %.1f MiB",
		base.RSS/(1<<20), base.Goroutines, base.OpenFiles, base.HeapBytes/(1<<20))
	if s.errCount() > 0 {
		return nil, fmt.Errorf("soak: the warm-up failed")
	}

	// Load.
	lctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var wg sync.WaitGroup
	worker := func(seed uint64, fn func(context.Context, *mrand.Rand)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(seed, uint64(time.Now().UnixNano())))
			for lctx.Err() == nil {
				fn(lctx, r)
				sleepCtx(lctx, time.Duration(r.Int64N(int64(300*time.Millisecond))))
			}
		}()
	}
	for i := range soakGetters {
		worker(uint64(100+i), s.getRound)
	}
	for i := range soakSeekers {
		worker(uint64(200+i), s.seekRound)
	}
	worker(300, s.listRound)
	worker(400, s.killRound)
	worker(500, s.hostileRound)
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.floods(lctx, udpAddr, dur)
	}()

	tick := time.NewTicker(interval)
	defer tick.Stop()
	every := time.Minute
	if dur < 2*time.Minute {
		every = interval * 2
	}
	lastSummary, prev := time.Now(), s.counts.snapshot()
	loadStart := time.Now()
	loadErr := error(nil)
loop:
	for {
		select {
		case <-lctx.Done():
			break loop
		case err := <-d.done:
			loadErr = fmt.Errorf("soak: the daemon exited: %v", err)
			d.done <- err
			break loop
		case <-tick.C:
			smp, err := s.sample(lctx, "load")
			if err != nil {
				if lctx.Err() != nil {
					break loop
				}
				s.fail("sample: %v", err)
				continue
			}
			if time.Since(lastSummary) >= every-time.Second {
				now := s.counts.snapshot()
				logf("soak %5.1f min: RSS %6.1f MiB, %4d goroutines, %3d fds, %2d peers | +%d gets +%d seeks +%d lists +%d kills +%d malformed +%d handle floods +%d datagrams | %d errors",
					time.Since(loadStart).Minutes(), smp.RSS/(1<<20), smp.Goroutines, smp.OpenFiles, smp.Peers,
					now["gets"]-prev["gets"], now["seeks"]-prev["seeks"], now["lists"]-prev["lists"], now["kills"]-prev["kills"],
					now["malformed_frames"]-prev["malformed_frames"], now["handle_floods"]-prev["handle_floods"],
					now["datagrams"]-prev["datagrams"], s.errCount())
				lastSummary, prev = time.Now(), now
			}
		}
	}
	cancel()
	wg.Wait()
	if loadErr != nil {
		return nil, loadErr
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	// Quiet: every client gone, then the final samples.
	logf("soak: load over; waiting for every peer to go, then %s quiet", quiet)
	if err := s.waitIdle(ctx, time.Minute); err != nil {
		s.fail("%v", err)
	}
	qend := time.Now().Add(quiet)
	for time.Now().Before(qend) {
		sleepCtx(ctx, min(interval, time.Until(qend)))
		if _, err := s.sample(ctx, "quiet"); err != nil {
			s.fail("sample: %v", err)
		}
	}
	final, err := s.sample(ctx, "final")
	if err != nil {
		return nil, err
	}
	rep := s.report(base, final, dur)
	printSoak(os.Stdout, rep)
	if !cfg.quick {
		name := filepath.Join(filepath.Dir(cfg.out), "soak.json")
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
			return nil, err
		}
		logf("wrote %s", name)
	}
	if !rep.Pass {
		var bad []string
		for _, c := range rep.Checks {
			if !c.OK {
				bad = append(bad, fmt.Sprintf("%s: %s, bound %s", c.Name, c.Value, c.Bound))
			}
		}
		return nil, fmt.Errorf("soak failed: %s", strings.Join(bad, "; "))
	}
	return nil, nil
}

// report runs the checks.
func (s *soak) report(base, final soakSample, dur time.Duration) *soakReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep := &soakReport{
		Duration: dur.String(), Start: s.t0, Baseline: base, Final: final, Counts: s.counts.snapshot(),
		Errors: s.errs, ErrorsTotal: s.nerrs, Samples: s.samples,
	}
	add := func(name, value, bound string, ok bool) {
		rep.Checks = append(rep.Checks, soakCheck{name, value, bound, ok})
	}
	add("verification errors", fmt.Sprint(s.nerrs), "0", s.nerrs == 0)
	var load []soakSample
	maxRSS, maxFDs := 0.0, 0
	for _, x := range s.samples {
		maxRSS, maxFDs = max(maxRSS, x.RSS), max(maxFDs, x.OpenFiles)
		if x.Phase == "load" {
			load = append(load, x)
		}
	}
	add("RSS, every sample", fmt.Sprintf("max %.1f MiB", maxRSS/(1<<20)), fmt.Sprintf("≤ %d MiB", soakMaxRSS>>20), maxRSS <= soakMaxRSS)
	add("open files, every sample", fmt.Sprintf("max %d", maxFDs), fmt.Sprintf("≤ %d", soakMaxFDs), maxFDs <= soakMaxFDs)
	gMargin := max(10, base.Goroutines/10)
	add("goroutines after the quiet period", fmt.Sprintf("%d (baseline %d)", final.Goroutines, base.Goroutines),
		fmt.Sprintf("≤ %d", base.Goroutines+gMargin), final.Goroutines <= base.Goroutines+gMargin)
	add("open files after the quiet period", fmt.Sprintf("%d (baseline %d)", final.OpenFiles, base.OpenFiles),
		fmt.Sprintf("≤ %d", base.OpenFiles+4), final.OpenFiles <= base.OpenFiles+4)
	add("peers after the quiet period", fmt.Sprint(final.Peers), "0", final.Peers == 0)
	if n := len(load) / 3; n >= 2 {
		first, last := meanRSS(load[:n]), meanRSS(load[len(load)-n:])
		growth := last / first
		v := fmt.Sprintf("%.1f → %.1f MiB (%+.1f %%)", first/(1<<20), last/(1<<20), (growth-1)*100)
		if dur >= 2*time.Minute {
			add("RSS, last third of the load vs first", v, fmt.Sprintf("≤ %+.0f %%", (soakRSSGrowth-1)*100), growth <= soakRSSGrowth)
		} else {
			add("RSS, last third of the load vs first", v, "not checked under 2 min", true)
		}
	}
	rep.Pass = true
	for _, c := range rep.Checks {
		rep.Pass = rep.Pass && c.OK
	}
	return rep
}

func meanRSS(xs []soakSample) float64 {
	var t float64
	for _, x := range xs {
		t += x.RSS
	}
	return t / float64(len(xs))
}

func printSoak(w io.Writer, rep *soakReport) {
	var load []soakSample
	for _, x := range rep.Samples {
		if x.Phase == "load" {
			load = append(load, x)
		}
	}
	stat := func(f func(soakSample) float64) (lo, med, hi float64) {
		v := make([]float64, len(load))
		for i, x := range load {
			v[i] = f(x)
		}
		med, lo, hi = summary(v)
		return lo, med, hi
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "soak %s\tbaseline\tload min\tload median\tload max\tfinal\t\n", rep.Duration)
	for _, row := range []struct {
		name string
		f    func(soakSample) float64
	}{
		{"RSS MiB", func(x soakSample) float64 { return x.RSS / (1 << 20) }},
		{"heap MiB", func(x soakSample) float64 { return x.HeapBytes / (1 << 20) }},
		{"goroutines", func(x soakSample) float64 { return float64(x.Goroutines) }},
		{"open files", func(x soakSample) float64 { return float64(x.OpenFiles) }},
		{"peers", func(x soakSample) float64 { return float64(x.Peers) }},
	} {
		lo, med, hi := stat(row.f)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", row.name, num(row.f(rep.Baseline)), num(lo), num(med), num(hi), num(row.f(rep.Final)))
	}
	tw.Flush()
	keys := make([]string, 0, len(rep.Counts))
	for k := range rep.Counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, rep.Counts[k]))
	}
	fmt.Fprintf(w, "operations: %s\n", strings.Join(parts, ", "))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "check\tvalue\tbound\tok\t")
	for _, c := range rep.Checks {
		ok := "ok"
		if !c.OK {
			ok = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", c.Name, c.Value, c.Bound, ok)
	}
	tw.Flush()
}

// writeSoakData adds the directory the lister reads: soakListEntries empty files.
func writeSoakData(cfg *config) error {
	dir := filepath.Join(cfg.dataDir, soakListDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := range soakListEntries {
		if err := os.WriteFile(filepath.Join(dir, soakEntry(i)), nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func soakEntry(i int) string { return fmt.Sprintf("entry-%05d.txt", i) }

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (s *soak) getStatus(ctx context.Context) (soakStatus, error) {
	var st soakStatus
	return st, s.d.status(ctx, s.status, &st)
}

func (s *soak) sample(ctx context.Context, phase string) (soakSample, error) {
	st, err := s.getStatus(ctx)
	if err != nil {
		return soakSample{}, err
	}
	rss, err := s.d.rssBytes()
	if err != nil {
		return soakSample{}, err
	}
	x := soakSample{T: time.Since(s.t0).Seconds(), Phase: phase, RSS: rss, Goroutines: st.Goroutines,
		OpenFiles: st.OpenFiles, HeapBytes: st.HeapBytes, Peers: st.Peers}
	s.mu.Lock()
	s.samples = append(s.samples, x)
	s.mu.Unlock()
	return x, nil
}

// waitIdle waits until the daemon has no peer left (a killed client's slot is freed within
// ~8 s, once ICE gives up on it).
func (s *soak) waitIdle(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		st, err := s.getStatus(ctx)
		if err != nil {
			return err
		}
		if st.Peers == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the daemon still has %d peers %s after the clients left", st.Peers, limit)
		}
		sleepCtx(ctx, 250*time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// dial connects a native client; a failure while the load is ending is not an error.
func (s *soak) dial(ctx context.Context, what string) *connect.Remote {
	r, err := dial(ctx, s.d.link)
	if err != nil {
		if ctx.Err() == nil {
			s.fail("%s: dial: %v", what, err)
		}
		return nil
	}
	s.counts.Dials.Add(1)
	return r
}

// check records err unless the load is ending (ctx done), which cancels requests.
func (s *soak) check(ctx context.Context, what string, err error) bool {
	if err == nil {
		return true
	}
	if ctx.Err() == nil {
		s.fail("%s: %v", what, err)
	}
	return false
}

func (s *soak) getRound(ctx context.Context, rng *mrand.Rand) {
	r := s.dial(ctx, "get")
	if r == nil {
		return
	}
	defer r.Close()
	for range 1 + rng.IntN(3) {
		if !s.getWith(ctx, r) {
			return
		}
	}
}

func (s *soak) getOnce(ctx context.Context, _ *mrand.Rand) {
	if r := s.dial(ctx, "get"); r != nil {
		s.getWith(ctx, r)
		_ = r.Close()
	}
}

func (s *soak) getWith(ctx context.Context, r *connect.Remote) bool {
	f, err := r.Open(ctx, "mid.bin")
	if !s.check(ctx, "get: open", err) {
		return false
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, readerCtx{ctx, f}, make([]byte, 256<<10))
	if !s.check(ctx, "get: read", err) {
		return false
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != s.midSum {
		s.fail("get: mid.bin: %d bytes with sha256 %s, want %s", n, got, s.midSum)
		return false
	}
	s.counts.Gets.Add(1)
	return true
}

// readerCtx reads a remote file with a context.
type readerCtx struct {
	ctx context.Context
	f   interface {
		ReadContext(context.Context, []byte) (int, error)
	}
}

func (r readerCtx) Read(p []byte) (int, error) { return r.f.ReadContext(r.ctx, p) }

func (s *soak) seekRound(ctx context.Context, rng *mrand.Rand) {
	s.seekOnce(ctx, rng, 50+rng.IntN(200))
}

func (s *soak) seekOnce(ctx context.Context, rng *mrand.Rand, reads int) {
	r := s.dial(ctx, "seek")
	if r == nil {
		return
	}
	defer r.Close()
	f, err := r.Open(ctx, "big.bin")
	if !s.check(ctx, "seek: open", err) {
		return
	}
	defer f.Close()
	size := f.Size()
	got, want := make([]byte, 64<<10), make([]byte, 64<<10)
	for range reads {
		n := 1 + rng.IntN(len(got))
		off := rng.Int64N(size)
		k, err := f.ReadAtContext(ctx, got[:n], off)
		if err == io.EOF && off+int64(k) == size {
			err = nil
		}
		if !s.check(ctx, fmt.Sprintf("seek: ReadAt(%d, %d)", n, off), err) {
			return
		}
		m, err := s.big.ReadAt(want[:n], off)
		if err != nil && err != io.EOF {
			s.fail("seek: local ReadAt: %v", err)
			return
		}
		if k != m || !slices.Equal(got[:k], want[:m]) {
			s.fail("seek: ReadAt(%d, %d): %d bytes that differ from the file's %d", n, off, k, m)
			return
		}
		s.counts.Seeks.Add(1)
	}
}

func (s *soak) listRound(ctx context.Context, _ *mrand.Rand) {
	s.listOnce(ctx)
}

func (s *soak) listOnce(ctx context.Context) {
	r := s.dial(ctx, "list")
	if r == nil {
		return
	}
	defer r.Close()
	for range 2 {
		es, err := r.ReadDir(ctx, soakListDir)
		if !s.check(ctx, "list", err) {
			return
		}
		if len(es) != soakListEntries {
			s.fail("list: %d entries, want %d", len(es), soakListEntries)
			return
		}
		names := make([]string, len(es))
		for i, e := range es {
			names[i] = e.Name()
		}
		sort.Strings(names)
		for i, n := range names {
			if n != soakEntry(i) {
				s.fail("list: entry %d is %q, want %q", i, n, soakEntry(i))
				return
			}
		}
		s.counts.Lists.Add(1)
	}
}

// killRound runs `rangecast get` of big.bin and SIGKILLs it after a random delay.
func (s *soak) killRound(ctx context.Context, rng *mrand.Rand) {
	out := filepath.Join(s.cfg.tmp, "soak-killed.bin")
	cmd := exec.Command(s.cfg.bin, "get", "-o", out, s.d.link, "big.bin")
	if err := cmd.Start(); err != nil {
		s.fail("kill: start: %v", err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	delay := time.Duration(50+rng.IntN(1500)) * time.Millisecond
	select {
	case err := <-done:
		// It finished before the kill: it must have succeeded.
		if err != nil {
			s.fail("kill: rangecast get exited before the kill: %v", err)
		}
		s.counts.KillsFinished.Add(1)
	case <-time.After(delay):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		s.counts.Kills.Add(1)
	}
	_ = os.Remove(out)
	// A killed client's peer lingers until ICE gives up (~8 s): do not pile them up.
	sleepCtx(ctx, time.Duration(1000+rng.IntN(2000))*time.Millisecond)
}

func (s *soak) hostileRound(ctx context.Context, rng *mrand.Rand) {
	if rng.IntN(2) == 0 {
		s.malformedOnce(ctx, rng)
	} else {
		s.handlesOnce(ctx)
	}
	sleepCtx(ctx, time.Duration(500+rng.IntN(1500))*time.Millisecond)
}

// malformedOnce opens a rangefs channel and sends a malformed frame on it: random bytes
// instead of HELLO, or a HELLO followed by a frame whose header lies about its length, a
// CREDIT too short (after a frame of an unknown type, which must be ignored), or a READ with a
// random payload. The daemon must answer ERROR or close.
func (s *soak) malformedOnce(ctx context.Context, rng *mrand.Rand) {
	opts := connect.NativeOptions()
	conn, err := signaling.Dial(ctx, s.d.link, opts.Signal)
	if !s.check(ctx, "malformed: dial", err) {
		return
	}
	defer conn.Close()
	s.counts.Dials.Add(1)
	ch, err := conn.CreateChannel(ctx, connect.ChannelLabel)
	if !s.check(ctx, "malformed: channel", err) {
		return
	}
	defer ch.Close()
	var msg []byte
	kind := rng.IntN(4)
	if kind > 0 {
		hello := wire.AppendFrame(nil, 0, &wire.Hello{Version: 1, MaxFrame: wire.MinFrameSize, StreamWindow: 1 << 20, SessionWindow: 4 << 20})
		if _, err := ch.Write(hello); !s.check(ctx, "malformed: hello", err) {
			return
		}
	}
	switch kind {
	case 0: // junk instead of HELLO
		msg = make([]byte, 1+rng.IntN(64))
		_, _ = rand.Read(msg)
	case 1: // a header declaring more payload than the message holds
		msg = wire.AppendHeader(nil, wire.Header{Type: wire.TypeRead, Stream: 1, Length: 1000})
		msg = append(msg, 1, 2, 3)
	case 2: // an unknown frame type (ignored, docs/PROTOCOL.md), then a CREDIT too short
		unknown := append(wire.AppendHeader(nil, wire.Header{Type: 0xee, Stream: 3, Length: 4}), 0, 0, 0, 0)
		if _, err := ch.Write(unknown); !s.check(ctx, "malformed: unknown frame", err) {
			return
		}
		msg = append(wire.AppendHeader(nil, wire.Header{Type: wire.TypeCredit, Stream: 0, Length: 1}), 7)
	case 3: // a READ whose payload is random bytes
		p := make([]byte, 1+rng.IntN(40))
		_, _ = rand.Read(p)
		msg = append(wire.AppendHeader(nil, wire.Header{Type: wire.TypeRead, Stream: 5, Length: uint32(len(p))}), p...)
	}
	if _, err := ch.Write(msg); err != nil {
		// The daemon may already have closed the channel (it did not like HELLO's windows,
		// say): that is a clean refusal.
		s.counts.Malformed.Add(1)
		return
	}
	// Read until ERROR or the channel closes; the daemon must not just sit on it.
	answered := make(chan bool, 1)
	go func() {
		buf := make([]byte, 1<<20)
		for {
			n, err := ch.Read(buf)
			if err != nil {
				answered <- true
				return
			}
			if n < wire.HeaderLen {
				continue
			}
			// ERROR ends the session; random bytes may also make a READ that is
			// merely wrong (no such path, say), which END on its stream refuses.
			h, _ := wire.ParseHeader(buf[:n], math.MaxUint32)
			if h.Type == wire.TypeError || h.Type == wire.TypeEnd && h.Stream == 5 {
				answered <- true
				return
			}
		}
	}()
	select {
	case <-answered:
		s.counts.Malformed.Add(1)
	case <-time.After(10 * time.Second):
		s.fail("malformed frame (kind %d): the daemon neither answered ERROR nor closed in 10 s", kind)
	case <-ctx.Done():
	}
	_ = conn.Close() // ends the reader
}

// handlesOnce opens tiny.bin until the daemon refuses, then leaves without closing them.
func (s *soak) handlesOnce(ctx context.Context) {
	r := s.dial(ctx, "handles")
	if r == nil {
		return
	}
	defer r.Close()
	for i := 0; ; i++ {
		_, err := r.Open(ctx, "tiny.bin")
		if err == nil {
			if i > 10000 {
				s.fail("handles: %d opens and no refusal", i)
				return
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if connect.CodeOf(err) != connect.CodeBusy || i == 0 {
			s.fail("handles: open %d refused with %v (code %s), want busy after a few", i, err, connect.CodeOf(err))
			return
		}
		s.counts.HandleFloods.Add(1)
		return
	}
}

// floods sends junk datagrams at the daemon's UDP port: at 20 s into every minute, for 10 s
// (with a run under 2 min: once, 5 s in, for 5 s), soakFloodRate datagrams a second from 8
// sockets, half random bytes and half malformed STUN.
func (s *soak) floods(ctx context.Context, addr string, dur time.Duration) {
	dst, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		s.fail("flood: %v", err)
		return
	}
	var socks []*net.UDPConn
	for range 8 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: dst.IP})
		if err != nil {
			s.fail("flood: %v", err)
			return
		}
		defer c.Close()
		socks = append(socks, c)
	}
	offset, length, period := 20*time.Second, 10*time.Second, time.Minute
	if dur < 2*time.Minute {
		offset, length, period = 5*time.Second, 5*time.Second, 24*time.Hour
	}
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 99))
	start := time.Now()
	for next := start.Add(offset); ; next = next.Add(period) {
		sleepCtx(ctx, time.Until(next))
		if ctx.Err() != nil {
			return
		}
		const tick = 10 * time.Millisecond
		perTick := soakFloodRate * int(tick) / int(time.Second)
		t := time.NewTicker(tick)
		end := time.Now().Add(length)
		for time.Now().Before(end) && ctx.Err() == nil {
			for i := range perTick {
				b := junkDatagram(rng, i%2 == 1)
				if _, err := socks[rng.IntN(len(socks))].WriteToUDP(b, dst); err == nil {
					s.counts.Datagrams.Add(1)
				}
			}
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
		t.Stop()
	}
}

// junkDatagram is random bytes, or a STUN message that is wrong somewhere: a length field
// that lies, an attribute running past the end, a USERNAME no peer has, a bogus
// MESSAGE-INTEGRITY, an unknown message type.
func junkDatagram(rng *mrand.Rand, stun bool) []byte {
	if !stun {
		b := make([]byte, 1+rng.IntN(1200))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	types := []uint16{0x0001, 0x0101, 0x0111, 0x0003, 0x3fff}
	b := make([]byte, 20, 200)
	binary.BigEndian.PutUint16(b[0:], types[rng.IntN(len(types))])
	binary.BigEndian.PutUint32(b[4:], 0x2112A442)
	for i := 8; i < 20; i++ {
		b[i] = byte(rng.Uint32())
	}
	attr := func(typ uint16, declared int, body []byte) {
		b = binary.BigEndian.AppendUint16(b, typ)
		b = binary.BigEndian.AppendUint16(b, uint16(declared))
		b = append(b, body...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	user := fmt.Sprintf("%08x:%08x", rng.Uint32(), rng.Uint32())
	switch rng.IntN(4) {
	case 0: // USERNAME then MESSAGE-INTEGRITY of random bytes
		attr(0x0006, len(user), []byte(user))
		mi := make([]byte, 20)
		for i := range mi {
			mi[i] = byte(rng.Uint32())
		}
		attr(0x0008, 20, mi)
	case 1: // an attribute whose length runs past the end
		attr(0x0006, 400, []byte(user))
	case 2: // a zero-length USERNAME and a FINGERPRINT that does not match
		attr(0x0006, 0, nil)
		attr(0x8028, 4, []byte{1, 2, 3, 4})
	case 3: // a truncated header (nothing but the first bytes)
		return b[:1+rng.IntN(19)]
	}
	msgLen := len(b) - 20
	if rng.IntN(3) == 0 {
		msgLen = rng.IntN(1 << 16) // lies
	}
	binary.BigEndian.PutUint16(b[2:], uint16(msgLen))
	return b
}
