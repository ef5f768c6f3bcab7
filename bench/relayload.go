package main

// The relayload group: three relay instances sharing routing over NATS, N idle daemons
// registered on them (light simulated WebSocket clients that speak the registration
// protocol and answer every REQUEST at once, not full daemons), then signaling exchanges
// sent to one instance for daemons registered on another.
//
// The relays run in this process, alone, so that the heap and stack growth measured here
// is theirs; the NATS server, the simulated daemons and the load generator run in a child
// process (this program again, with relayLoadChildEnv set), which it drives over its
// stdin and stdout.

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	natsserver "github.com/nats-io/nats-server/v2/server"

	rrelay "github.com/rangecast/rangecast/pkg/relay"
)

const relayLoadChildEnv = "RANGECAST_BENCH_RELAYLOAD_CHILD"

const (
	metricRelayMemory   = "relay memory per idle daemon (3 instances, NATS)"
	metricRelayExchange = "relay signaling exchanges across instances"
	metricRelayP50      = "relay forward latency across instances, p50"
	metricRelayP99      = "relay forward latency across instances, p99"
)

func init() {
	if os.Getenv(relayLoadChildEnv) == "1" {
		if err := relayLoadChild(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "relayload child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// raiseNoFile lifts the open-files limit to its hard cap: 10,000 WebSockets need as many
// descriptors on each side.
func raiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// relayLoadRun is one run's figures.
type relayLoadRun struct {
	perDaemon     float64 // bytes of heap and stacks per registered daemon
	registerTime  time.Duration
	rate          float64 // exchanges per second
	p50, p99      time.Duration
	errors, total int
}

func benchRelayload(ctx context.Context, cfg *config) ([]Result, error) {
	n, dur := 10000, 5*time.Second
	if cfg.quick {
		n, dur = 200, 2*time.Second
	}
	runs := min(cfg.runs, 3) // each run registers n daemons anew
	var mem, rate, p50, p99 []float64
	for i := range runs {
		r, err := relayLoadOnce(ctx, n, dur)
		if err != nil {
			return nil, err
		}
		logf("relayload run %d: %d daemons registered in %v, %.1f KiB each; %.0f exchanges/s, p50 %v, p99 %v, %d errors of %d",
			i+1, n, r.registerTime.Round(time.Millisecond), r.perDaemon/1024, r.rate, r.p50, r.p99, r.errors, r.total)
		mem = append(mem, r.perDaemon/1024)
		rate = append(rate, r.rate)
		p50 = append(p50, float64(r.p50.Microseconds())/1000)
		p99 = append(p99, float64(r.p99.Microseconds())/1000)
	}
	return []Result{
		newResult(metricRelayMemory, "KiB", mem, "", nil, fmt.Sprintf("≤ 16 KiB (%d daemons)", n)),
		newResult(metricRelayExchange, "exchanges/s", rate, "", nil, "≥ 1000/s"),
		newResult(metricRelayP50, "ms", p50, "", nil, ""),
		newResult(metricRelayP99, "ms", p99, "", nil, "≤ 10 ms"),
	}, nil
}

// liveBytes is the heap in use and the goroutine stacks, after a full collection.
func liveBytes() uint64 {
	// Each collection halves the stacks of goroutines that use less than a quarter of
	// theirs: a few let the registration's deeper calls' stacks shrink back.
	for range 4 {
		runtime.GC()
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}

func relayLoadOnce(ctx context.Context, n int, dur time.Duration) (relayLoadRun, error) {
	raiseNoFile()
	exe, err := os.Executable()
	if err != nil {
		return relayLoadRun{}, err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(cctx, exe)
	cmd.Env = append(os.Environ(), relayLoadChildEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return relayLoadRun{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return relayLoadRun{}, err
	}
	if err := cmd.Start(); err != nil {
		return relayLoadRun{}, err
	}
	defer func() { _ = stdin.Close(); cancel(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	expect := func(word string) ([]string, error) {
		if !lines.Scan() {
			return nil, fmt.Errorf("relayload child ended before %q: %v", word, lines.Err())
		}
		f := strings.Fields(lines.Text())
		if len(f) == 0 || f[0] != word {
			return nil, fmt.Errorf("relayload child said %q, want %q", lines.Text(), word)
		}
		return f[1:], nil
	}
	f, err := expect("nats")
	if err != nil {
		return relayLoadRun{}, err
	}

	// Three relay instances in this process, with the limits a benchmark from one address
	// needs lifted.
	var urls []string
	var closers []func()
	defer func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}()
	for i := range 3 {
		rt, err := rrelay.NewNATSRouter(rrelay.NATSOptions{URL: f[0], Instance: fmt.Sprintf("bench%d", i)})
		if err != nil {
			return relayLoadRun{}, err
		}
		closers = append(closers, func() { _ = rt.Close() })
		s := rrelay.NewServer(rrelay.Options{
			Router: rt, MaxDaemons: n, MaxDaemonsPerIP: n, RegisterRate: 1e6, RegisterBurst: 1e6,
			SignalRate: 1e6, SignalBurst: 1e6, Logger: slog.New(slog.DiscardHandler),
		})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return relayLoadRun{}, err
		}
		hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		closers = append(closers, func() { _ = hs.Close(); _ = s.Close() })
		urls = append(urls, "http://"+ln.Addr().String())
	}
	withRelays := liveBytes()
	fmt.Fprintf(stdin, "relays %d %d %s\n", n, dur.Milliseconds(), strings.Join(urls, " "))
	f, err = expect("registered")
	if err != nil {
		return relayLoadRun{}, err
	}
	took, _ := time.ParseDuration(f[0])
	time.Sleep(500 * time.Millisecond) // the last registrations' claims settle
	loaded := liveBytes()
	out := relayLoadRun{registerTime: took, perDaemon: float64(int64(loaded)-int64(withRelays)) / float64(n)}

	fmt.Fprintln(stdin, "go")
	f, err = expect("load")
	if err != nil {
		return relayLoadRun{}, err
	}
	if len(f) != 5 {
		return relayLoadRun{}, fmt.Errorf("relayload child: bad load line %q", lines.Text())
	}
	out.total, _ = strconv.Atoi(f[0])
	secs, _ := strconv.ParseFloat(f[1], 64)
	p50us, _ := strconv.ParseInt(f[2], 10, 64)
	p99us, _ := strconv.ParseInt(f[3], 10, 64)
	out.errors, _ = strconv.Atoi(f[4])
	out.rate = float64(out.total-out.errors) / secs
	out.p50, out.p99 = time.Duration(p50us)*time.Microsecond, time.Duration(p99us)*time.Microsecond
	if out.errors > out.total/100 {
		return out, fmt.Errorf("relayload: %d of %d exchanges failed", out.errors, out.total)
	}
	return out, nil
}

// simDaemon is one simulated idle daemon: a registration WebSocket that answers every
// REQUEST with 200 {}.
type simDaemon struct {
	id    string
	relay int // the index of the instance it is registered on
}

func simRegister(ctx context.Context, relayURL string, key ed25519.PrivateKey, registered chan<- error) {
	host := strings.TrimPrefix(relayURL, "http://")
	ws, _, err := websocket.Dial(ctx, "ws://"+host+rrelay.RegisterPath, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		registered <- err
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(rrelay.MaxMessage)
	read := func() (rrelay.Message, error) {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return rrelay.Message{}, err
		}
		return rrelay.ParseMessage(b)
	}
	write := func(m *rrelay.Message) error {
		b, err := m.Marshal()
		if err != nil {
			return err
		}
		return ws.Write(ctx, websocket.MessageBinary, b)
	}
	m, err := read()
	if err != nil {
		registered <- err
		return
	}
	pub := key.Public().(ed25519.PublicKey)
	signed := append(append([]byte(rrelay.RegisterContext), m.Challenge...), strings.ToLower(host)...)
	if err := write(&rrelay.Message{Type: rrelay.MsgRegister, ID: rrelay.IDOf(pub), PublicKey: pub, Signature: ed25519.Sign(key, signed)}); err != nil {
		registered <- err
		return
	}
	if m, err = read(); err != nil || m.Type != rrelay.MsgRegistered {
		registered <- fmt.Errorf("not registered: %v %v", m.Type, err)
		return
	}
	registered <- nil
	var wmu sync.Mutex
	for {
		m, err := read()
		if err != nil {
			return
		}
		if m.Type == rrelay.MsgRequest {
			resp := rrelay.Message{Type: rrelay.MsgResponse, Req: m.Req, Status: 200,
				Header: []rrelay.Header{{Name: "Content-Type", Value: "application/json"}}, Body: []byte("{}")}
			wmu.Lock()
			_ = write(&resp)
			wmu.Unlock()
		}
	}
}

// relayLoadChild is the child's side: NATS, the simulated daemons, the load.
func relayLoadChild(in io.Reader, out io.Writer) error {
	raiseNoFile()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		return err
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		return errors.New("NATS did not start")
	}
	defer ns.Shutdown()
	fmt.Fprintln(out, "nats", "nats://"+ns.Addr().String())
	lines := bufio.NewScanner(in)
	if !lines.Scan() {
		return lines.Err()
	}
	f := strings.Fields(lines.Text())
	if len(f) != 6 || f[0] != "relays" {
		return fmt.Errorf("bad command %q", lines.Text())
	}
	n, _ := strconv.Atoi(f[1])
	ms, _ := strconv.Atoi(f[2])
	dur := time.Duration(ms) * time.Millisecond
	urls := f[3:]

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	daemons := make([]simDaemon, n)
	keys := make([]ed25519.PrivateKey, n)
	for i := range keys {
		_, keys[i], _ = ed25519.GenerateKey(rand.Reader)
		daemons[i] = simDaemon{id: rrelay.IDOf(keys[i].Public().(ed25519.PublicKey)), relay: i % len(urls)}
	}
	start := time.Now()
	registered := make(chan error, n)
	sem := make(chan struct{}, 64) // registrations in progress at once
	for i := range daemons {
		sem <- struct{}{}
		r := make(chan error, 1)
		go simRegister(ctx, urls[daemons[i].relay], keys[i], r)
		go func() { err := <-r; <-sem; registered <- err }()
	}
	for range n {
		if err := <-registered; err != nil {
			return fmt.Errorf("registration: %w", err)
		}
	}
	fmt.Fprintln(out, "registered", time.Since(start).String())
	if !lines.Scan() || lines.Text() != "go" {
		return fmt.Errorf("bad command %q", lines.Text())
	}

	// The load: workers each send requests, one at a time, to the instance after the one
	// the daemon is registered on, for daemons picked in turn.
	const workers = 16
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var next, errs atomic.Int64
	lat := make([][]time.Duration, workers)
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				d := daemons[int(next.Add(1))%n]
				url := urls[(d.relay+1)%len(urls)] + rrelay.DaemonPrefix + d.id + "/api/v1/status"
				s := time.Now()
				resp, err := client.Get(url)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				lat[w] = append(lat[w], time.Since(s))
			}
		}()
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))]
	}
	fmt.Fprintln(out, "load", len(all)+int(errs.Load()), strconv.FormatFloat(secs, 'f', 3, 64),
		pct(0.50).Microseconds(), pct(0.99).Microseconds(), errs.Load())
	return nil
}
