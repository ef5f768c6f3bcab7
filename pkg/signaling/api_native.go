//go:build !js

package signaling

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"time"
)

// netAPI is the native api: its own Transport, so that idle connections are closed with it,
// and no proxy, so that a link to a LAN or loopback daemon is never sent through one.
type netAPI struct {
	c *http.Client
}

func newAPI() api {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		ResponseHeaderTimeout: 60 * time.Second,
		MaxIdleConnsPerHost:   2,
	}
	return &netAPI{c: &http.Client{Transport: tr}}
}

func (a *netAPI) do(ctx context.Context, method, url, token string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if token != "" { // none for a relayed link: the relay must not see it
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	return resp.StatusCode, b, err
}

func (a *netAPI) close() { a.c.CloseIdleConnections() }
