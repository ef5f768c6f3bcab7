package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/share"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// envStateDir names the environment variable that overrides the state directory.
const envStateDir = "RANGECAST_STATE_DIR"

// controlSocket is the name of the daemon's control socket in the state directory.
const controlSocket = "control.sock"

// stateDir is where the daemon keeps its share key (share.key), the links it issued
// (shares.json) and its control socket: --state-dir, else $RANGECAST_STATE_DIR, else the user
// config directory's rangecast/ (beside identity.key).
func stateDir(flagValue string) (string, error) {
	if flagValue != "" {
		return filepath.Abs(flagValue)
	}
	if v := os.Getenv(envStateDir); v != "" {
		return filepath.Abs(v)
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory for the share state (use --state-dir DIR): %w", err)
	}
	return filepath.Join(d, "rangecast"), nil
}

// shareRequest asks the daemon for a new link.
type shareRequest struct {
	Path    string `json:"path"`          // as typed: relative to the served directory
	Abs     string `json:"abs,omitempty"` // the path on this machine, if it exists here
	Expires int64  `json:"expires"`       // seconds from now; 0: never
	Label   string `json:"label,omitempty"`
}

type shareResponse struct {
	ID     string   `json:"id"`
	Scope  string   `json:"scope"`
	Expiry int64    `json:"expiry"`
	Links  []string `json:"links"`
}

type revokeResponse struct {
	Closed int `json:"closed"` // sessions that were open
}

type controlError struct {
	Error string `json:"error"`
}

// controlServer answers `rangecast share` on the daemon's control socket.
type controlServer struct {
	auth  *share.Authority
	srv   *rangefs.Server
	dir   string          // the served directory, absolute, symbolic links resolved
	bases func() []string // the link bases: the direct one, then the relay's
	log   *slog.Logger
}

func (c *controlServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/shares", c.create)
	mux.HandleFunc("GET /v1/shares", func(w http.ResponseWriter, r *http.Request) {
		writeControl(w, http.StatusOK, c.auth.List())
	})
	mux.HandleFunc("POST /v1/shares/{id}/revoke", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		n, err := c.auth.Revoke(id)
		if err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, share.ErrUnknown) {
				code = http.StatusNotFound
			}
			writeControl(w, code, controlError{err.Error()})
			return
		}
		c.log.Info("share link revoked", "link", id, "sessions_closed", n)
		writeControl(w, http.StatusOK, revokeResponse{Closed: n})
	})
	return mux
}

func writeControl(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// scopeOf turns what the user named into a scope under the served directory.
func (c *controlServer) scopeOf(req shareRequest) (string, error) {
	var rel string
	if req.Abs != "" {
		abs, err := filepath.EvalSymlinks(req.Abs)
		if err != nil {
			return "", err
		}
		r, err := filepath.Rel(c.dir, abs)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return "", fmt.Errorf("%s is not under the served directory %s", req.Abs, c.dir)
		}
		rel = filepath.ToSlash(r)
	} else {
		rel = strings.Trim(req.Path, "/")
	}
	if rel == "." || rel == "" {
		return "", nil
	}
	if err := rangefs.CheckPath("share", rel); err != nil {
		return "", err
	}
	if _, err := c.srv.Root().Stat(rel); err != nil {
		return "", fmt.Errorf("%s: not in the served directory: %w", rel, err)
	}
	return rel, nil
}

func (c *controlServer) create(w http.ResponseWriter, r *http.Request) {
	var req shareRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		writeControl(w, http.StatusBadRequest, controlError{err.Error()})
		return
	}
	scope, err := c.scopeOf(req)
	if err != nil {
		writeControl(w, http.StatusBadRequest, controlError{err.Error()})
		return
	}
	l, err := c.auth.Create(scope, req.Label, time.Duration(req.Expires)*time.Second)
	if err != nil {
		writeControl(w, http.StatusInternalServerError, controlError{err.Error()})
		return
	}
	resp := shareResponse{ID: l.ID, Scope: l.Scope, Expiry: l.Expiry}
	for _, b := range c.bases() {
		resp.Links = append(resp.Links, signaling.Link{Base: b, Share: l.String()}.String())
	}
	c.log.Info("share link created", "link", l.ID, "scope", scope, "expiry", l.Expiry, "label", req.Label)
	writeControl(w, http.StatusOK, resp)
}

// listenControl creates the control socket (mode 0600) in dir. If a live daemon already
// answers on it, it returns nil: `rangecast share` talks to that one.
func listenControl(dir string, log *slog.Logger) (net.Listener, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := filepath.Join(dir, controlSocket)
	if c, err := net.DialTimeout("unix", p, time.Second); err == nil {
		_ = c.Close()
		log.Warn("another daemon owns the control socket: 'rangecast share' talks to it, not to this one", "socket", p)
		return nil, nil
	}
	_ = os.Remove(p) // a stale socket of a daemon that is gone
	old := umask(0o177)
	ln, err := net.Listen("unix", p)
	umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return ln, nil
}

// controlClient talks to the daemon's control socket.
func controlClient(dir string) *http.Client {
	p := filepath.Join(dir, controlSocket)
	return &http.Client{Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", p)
		},
	}, Timeout: 30 * time.Second}
}

func controlCall(ctx context.Context, dir, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://rangecast"+path, rd)
	if err != nil {
		return err
	}
	resp, err := controlClient(dir).Do(req)
	if err != nil {
		return fmt.Errorf("no daemon answers on %s (is 'rangecast serve' running, with the same --state-dir?): %w", filepath.Join(dir, controlSocket), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var ce controlError
		_ = json.NewDecoder(resp.Body).Decode(&ce)
		return fmt.Errorf("the daemon refused: %s", ce.Error)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

const shareUsage = `Usage: rangecast share [--expires DURATION] [--label L] PATH   print a link to PATH only
       rangecast share list [--json]                         the links issued, their use
       rangecast share revoke ID                             revoke a link, closing its sessions

Asks the running daemon ('rangecast serve', through its control socket in the state
directory) for a share link: a capability for one file or one directory (with everything
under it), until it expires (--expires, default 24h; 0 for never) or is revoked. PATH is a
path on this machine under the served directory, or a path relative to that directory; "."
is all of it. The owner's #t= link keeps opening everything.

Examples:
  rangecast share --expires 24h --label bob ~/Videos/holiday    a folder, for a day
  rangecast get 'http://127.0.0.1:8080/#s=...'                  a shared file: no PATH needed
  rangecast share list
  rangecast share revoke kq3J0x8ZrTo                            its open sessions end at once

Flags:
`

func runShare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("share", flag.ContinueOnError)
	fset.SetOutput(stderr)
	expires := fset.Duration("expires", 24*time.Hour, "how long the link works; 0: until revoked")
	label := fset.String("label", "", "a note for 'share list' (who it is for)")
	asJSON := fset.Bool("json", false, "share list: print JSON")
	dirFlag := fset.String("state-dir", "", "the daemon's state directory (default: $"+envStateDir+", else the user config directory's rangecast/)")
	fset.Usage = func() {
		fmt.Fprint(fset.Output(), shareUsage)
		fset.PrintDefaults()
	}
	pos, help, err := parseFlags(fset, args)
	if help || err != nil {
		return err
	}
	dir, err := stateDir(*dirFlag)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("share takes PATH, list, or revoke ID")
	}
	switch pos[0] {
	case "list":
		if len(pos) != 1 {
			return usagef("share list takes no argument")
		}
		var es []share.Entry
		if err := controlCall(ctx, dir, "GET", "/v1/shares", nil, &es); err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(es)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tLABEL\tSCOPE\tEXPIRES\tSTATE\tSESSIONS\tBYTES READ")
		now := time.Now().Unix()
		for _, e := range es {
			scope, exp, state := e.Scope, "never", "active"
			if scope == "" {
				scope = "."
			}
			if e.Expiry != 0 {
				exp = time.Unix(e.Expiry, 0).Format(time.DateTime)
				if now >= e.Expiry {
					state = "expired"
				}
			}
			if e.Revoked {
				state = "revoked"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", e.ID, e.Label, scope, exp, state, e.Sessions, e.BytesRead)
		}
		return tw.Flush()
	case "revoke":
		if len(pos) != 2 {
			return usagef("share revoke takes one ID")
		}
		var rr revokeResponse
		if err := controlCall(ctx, dir, "POST", "/v1/shares/"+pos[1]+"/revoke", nil, &rr); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s (%d open sessions closed)\n", pos[1], rr.Closed)
		return nil
	}
	if len(pos) != 1 {
		return usagef("share takes one PATH")
	}
	if *expires < 0 {
		return usagef("--expires must not be negative")
	}
	req := shareRequest{Path: pos[0], Expires: int64(expires.Round(time.Second) / time.Second), Label: *label}
	if _, err := os.Stat(pos[0]); err == nil {
		if req.Abs, err = filepath.Abs(pos[0]); err != nil {
			return err
		}
	}
	var resp shareResponse
	if err := controlCall(ctx, dir, "POST", "/v1/shares", req, &resp); err != nil {
		return err
	}
	for _, l := range resp.Links {
		fmt.Fprintln(stdout, l)
	}
	exp := "never expires"
	if resp.Expiry != 0 {
		exp = "expires " + time.Unix(resp.Expiry, 0).Format(time.DateTime)
	}
	scope := resp.Scope
	if scope == "" {
		scope = "."
	}
	fmt.Fprintf(stderr, "link %s for %s, %s; revoke it with: rangecast share revoke %s\n", resp.ID, scope, exp, resp.ID)
	return nil
}
