package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/rangecast/rangecast/pkg/connect"
)

// The wan group runs the two ends of a transfer as processes inside the emulator's
// namespaces (wan.Link.Command), so that ICE gathers the namespaces' ordinary addresses. Those
// processes are this program, started as `bench wan-helper ROLE ARGS…`; each prints JSON lines
// on stdout.
const helperArg = "wan-helper"

// envHelperConnections is the connections `get` reads over, as `rangecast get --connections`;
// 0 or unset: one.
const envHelperConnections = "RANGECAST_BENCH_HELPER_CONNECTIONS"

// helperResult is the last line a helper prints.
type helperResult struct {
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds,omitempty"`
	Start   int64   `json:"start,omitempty"`   // unix ns: pion-send, when the channel was open
	End     int64   `json:"end,omitempty"`     // unix ns: pion-recv, when the last byte arrived
	Stripes int     `json:"stripes,omitempty"` // get: the connections the read used
}

// helperMain runs a helper role and returns the exit status:
//
//	get LINK FILE BYTES   the native client: dial, open FILE, read its first BYTES, report the
//	                      time from the open file to the last byte
//	get-for LINK FILE DURATION BYTES
//	                      the same, but stop after DURATION, and report what was read by then
//	pion-send BYTES       bare pion, defaults: offer on stdout, answer on stdin, send BYTES
//	                      once open, report the start, stay until stdin closes
//	pion-recv BYTES       bare pion, defaults: offer on stdin, answer on stdout, report the
//	                      arrival of the last of BYTES
func helperMain(args []string) int {
	err := func() error {
		if len(args) < 2 {
			return errors.New("usage: wan-helper ROLE ARGS")
		}
		ctx, cancel := context.WithTimeout(context.Background(), wanTimeout)
		defer cancel()
		n, err := strconv.ParseInt(args[len(args)-1], 10, 64)
		if err != nil {
			return err
		}
		switch args[0] {
		case "get":
			if len(args) != 4 {
				return errors.New("usage: wan-helper get LINK FILE BYTES")
			}
			return helperGet(ctx, args[1], args[2], n, 0)
		case "get-for":
			if len(args) != 5 {
				return errors.New("usage: wan-helper get-for LINK FILE SECONDS BYTES")
			}
			d, err := time.ParseDuration(args[3])
			if err != nil {
				return err
			}
			return helperGet(ctx, args[1], args[2], n, d)
		case "pion-send":
			return helperPionSend(ctx, n)
		case "pion-recv":
			return helperPionRecv(ctx, n)
		}
		return fmt.Errorf("unknown role %q", args[0])
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "wan-helper:", err)
		return 1
	}
	return 0
}

// wanTimeout bounds one transfer: a stalled one fails the group rather than hang it.
const wanTimeout = 5 * time.Minute

func printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Printf("%s\n", b)
	return err
}

func helperGet(ctx context.Context, link, name string, n int64, limit time.Duration) error {
	opts := connect.NativeOptions()
	r, err := connect.Dial(ctx, link, opts)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := r.Open(ctx, name)
	if err != nil {
		return err
	}
	defer f.Close()
	// As `rangecast get --connections N` reads.
	t0 := time.Now()
	var src io.Reader = io.LimitReader(f, n)
	stripes, _ := strconv.Atoi(os.Getenv(envHelperConnections))
	if stripes > 1 {
		st := f.Striped(ctx, 0, n)
		more := connect.DialStripes(ctx, link, opts, st, stripes-1, nil)
		defer more.Close()
		defer st.Close()
		src = st
	}
	got, dt, err := readFor(t0, src, limit)
	if err != nil {
		return err
	}
	if limit == 0 && got != n {
		return fmt.Errorf("read %d bytes of %s, want %d", got, name, n)
	}
	return printJSON(helperResult{Bytes: got, Seconds: dt.Seconds(), Stripes: max(stripes, 1)})
}

// readFor reads r to the end, or until limit has passed since t0 if it is not 0, and returns
// the bytes read and the time since t0.
func readFor(t0 time.Time, r io.Reader, limit time.Duration) (int64, time.Duration, error) {
	buf := make([]byte, 1<<20)
	var got int64
	for {
		n, err := r.Read(buf)
		got += int64(n)
		if err == io.EOF {
			return got, time.Since(t0), nil
		}
		if err != nil {
			return got, 0, err
		}
		if dt := time.Since(t0); limit > 0 && dt >= limit {
			return got, dt, nil
		}
	}
}

// pionAPI is pion with its defaults, except multicast DNS, which would only add queries to
// the link.
func pionAPI() *webrtc.API {
	var se webrtc.SettingEngine
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

func readDescription(in *bufio.Reader) (webrtc.SessionDescription, error) {
	var d webrtc.SessionDescription
	line, err := in.ReadBytes('\n')
	if err != nil {
		return d, fmt.Errorf("read description: %w", err)
	}
	return d, json.Unmarshal(line, &d)
}

func helperPionSend(ctx context.Context, total int64) error {
	in := bufio.NewReader(os.Stdin)
	pc, err := pionAPI().NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	defer pc.Close()
	dc, err := pc.CreateDataChannel("bench", nil)
	if err != nil {
		return err
	}
	open := make(chan struct{})
	dc.OnOpen(func() { close(open) })
	offer, err := gatheredDescription(ctx, pc, func() (webrtc.SessionDescription, error) { return pc.CreateOffer(nil) })
	if err != nil {
		return err
	}
	if err := printJSON(offer); err != nil {
		return err
	}
	answer, err := readDescription(in)
	if err != nil {
		return err
	}
	if err := pc.SetRemoteDescription(answer); err != nil {
		return err
	}
	if err := wait(ctx, open); err != nil {
		return fmt.Errorf("channel did not open: %w", err)
	}
	// As pionPair.transfer: 64 KiB messages, at most 4 MiB buffered.
	const msg = 64 << 10
	const high, low = 4 << 20, 1 << 20
	drained := make(chan struct{}, 1)
	dc.SetBufferedAmountLowThreshold(low)
	dc.OnBufferedAmountLow(func() {
		select {
		case drained <- struct{}{}:
		default:
		}
	})
	if err := printJSON(helperResult{Start: time.Now().UnixNano()}); err != nil {
		return err
	}
	buf := make([]byte, msg)
	for sent := int64(0); sent < total; {
		for dc.BufferedAmount() > high {
			select {
			case <-drained:
			case <-time.After(50 * time.Millisecond):
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		n := min(int64(msg), total-sent)
		if err := dc.Send(buf[:n]); err != nil {
			return err
		}
		sent += n
	}
	// Closing now would abort what is still buffered: stay until the bench says.
	_, _ = io.Copy(io.Discard, in)
	return nil
}

func helperPionRecv(ctx context.Context, total int64) error {
	in := bufio.NewReader(os.Stdin)
	pc, err := pionAPI().NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	defer pc.Close()
	var got atomic.Int64
	done := make(chan int64, 1)
	var once sync.Once
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			if got.Add(int64(len(m.Data))) >= total {
				once.Do(func() { done <- time.Now().UnixNano() })
			}
		})
	})
	offer, err := readDescription(in)
	if err != nil {
		return err
	}
	if err := pc.SetRemoteDescription(offer); err != nil {
		return err
	}
	answer, err := gatheredDescription(ctx, pc, func() (webrtc.SessionDescription, error) { return pc.CreateAnswer(nil) })
	if err != nil {
		return err
	}
	if err := printJSON(answer); err != nil {
		return err
	}
	select {
	case end := <-done:
		return printJSON(helperResult{Bytes: got.Load(), End: end})
	case <-ctx.Done():
		return fmt.Errorf("received %d of %d bytes: %w", got.Load(), total, context.Cause(ctx))
	}
}
