package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rangecast/rangecast/internal/wan"
)

// tcpServer is the TCP baseline's sender: Go's http.FileServer on the served directory, in
// namespace A, its listening socket set to one congestion control (TCP_CONGESTION), which
// the connections it accepts inherit.
type tcpServer struct {
	cc   string
	addr string
	srv  *http.Server

	mu     sync.Mutex
	seenCC string // the congestion control of the last accepted connection
	ccErr  error
}

// startTCPServer serves dir on A's address with congestion control cc (cubic, bbr).
func startTCPServer(l *wan.Link, dir, cc string) (*tcpServer, error) {
	var ln net.Listener
	err := l.Run(wan.A, func() (err error) {
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, cc)
			})
			return errors.Join(err, serr)
		}}
		ln, err = lc.Listen(context.Background(), "tcp4", l.AddrA().String()+":0")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tcp %s: listen: %w", cc, err)
	}
	s := &tcpServer{cc: cc, addr: ln.Addr().String()}
	s.srv = &http.Server{
		Handler: http.FileServer(http.Dir(dir)),
		ConnState: func(c net.Conn, st http.ConnState) {
			if st != http.StateNew {
				return
			}
			got, err := tcpCongestion(c)
			s.mu.Lock()
			s.seenCC, s.ccErr = got, err
			s.mu.Unlock()
		},
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func tcpCongestion(c net.Conn) (string, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return "", fmt.Errorf("%T is not a TCP connection", c)
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return "", err
	}
	var cc string
	var gerr error
	err = rc.Control(func(fd uintptr) {
		cc, gerr = unix.GetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION)
	})
	return cc, errors.Join(err, gerr)
}

func (s *tcpServer) close() { _ = s.srv.Close() }

// get reads the first n bytes of name (a Range request on a fresh connection made in B) and
// returns the time from the request to the last byte. It checks that the server's side of
// the connection ran the congestion control asked for.
func (s *tcpServer) get(ctx context.Context, l *wan.Link, name string, n int64) (time.Duration, error) {
	got, dt, err := s.getFor(ctx, l, name, n, 0)
	if err == nil && got != n {
		err = fmt.Errorf("tcp %s: read %d bytes, want %d", s.cc, got, n)
	}
	return dt, err
}

// getFor is get that stops after limit, if not 0, and returns the bytes read by then.
func (s *tcpServer) getFor(ctx context.Context, l *wan.Link, name string, n int64, limit time.Duration) (int64, time.Duration, error) {
	var c net.Conn
	if err := l.Run(wan.B, func() (err error) {
		c, err = (&net.Dialer{Timeout: 10 * time.Second}).Dial("tcp4", s.addr)
		return err
	}); err != nil {
		return 0, 0, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	_ = c.SetDeadline(time.Now().Add(wanTimeout))
	t0 := time.Now()
	if _, err := fmt.Fprintf(c, "GET /%s HTTP/1.1\r\nHost: bench\r\nRange: bytes=0-%d\r\nConnection: close\r\n\r\n", name, n-1); err != nil {
		return 0, 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 1<<20), nil)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		return 0, 0, fmt.Errorf("tcp %s: HTTP %s", s.cc, resp.Status)
	}
	got, _, err := readFor(time.Now(), resp.Body, limit)
	if err != nil {
		return 0, 0, err
	}
	dt := time.Since(t0) // from the request, as for the other methods
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ccErr != nil || s.seenCC != s.cc {
		return 0, 0, fmt.Errorf("tcp: the server's connection ran %q, not %q (%v)", s.seenCC, s.cc, s.ccErr)
	}
	return got, dt, nil
}
