//go:build !js

package share

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrUnknown is the error of Revoke for an id the daemon never issued.
var ErrUnknown = errors.New("share: no link with that id")

// Record is what the daemon keeps of a link it issued (never its secret: the key remakes it).
type Record struct {
	ID      string `json:"id"`
	Label   string `json:"label,omitempty"`
	Scope   string `json:"scope"`
	Expiry  int64  `json:"expiry"`
	Created int64  `json:"created"`
	Revoked bool   `json:"revoked,omitempty"`
}

// Entry is a Record with what its sessions did since the daemon started.
type Entry struct {
	Record
	Sessions  int   `json:"sessions"`   // open now
	Total     int   `json:"total"`      // sessions since the daemon started
	BytesRead int64 `json:"bytes_read"` // file bytes sent to them
}

type state struct {
	Links []Record `json:"links"`
}

type link struct {
	Record
	sessions map[*Session]struct{}
	total    int
	bytes    atomic.Int64
}

// Authority is a daemon's share links: the key that signs them and the state of those it
// issued (labels, revocations), kept in a JSON file written atomically. Safe for concurrent use.
type Authority struct {
	key   *Key
	path  string
	clock atomic.Pointer[func() time.Time]

	mu    sync.Mutex
	links map[string]*link
}

// Open loads (or creates) the share key at keyPath and the state at statePath.
func Open(keyPath, statePath string) (*Authority, error) {
	k, err := LoadOrCreateKey(keyPath)
	if err != nil {
		return nil, err
	}
	a := &Authority{key: k, path: statePath, links: map[string]*link{}}
	a.SetClock(time.Now)
	b, err := os.ReadFile(statePath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("share: state: %w", err)
	default:
		var st state
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, fmt.Errorf("share: state %s: %w", statePath, err)
		}
		for _, r := range st.Links {
			a.links[r.ID] = &link{Record: r, sessions: map[*Session]struct{}{}}
		}
	}
	return a, nil
}

// OpenDir opens the authority whose key is dir/share.key and state dir/shares.json.
func OpenDir(dir string) (*Authority, error) {
	return Open(filepath.Join(dir, "share.key"), filepath.Join(dir, "shares.json"))
}

// SetClock replaces time.Now, for tests.
func (a *Authority) SetClock(now func() time.Time) { a.clock.Store(&now) }

func (a *Authority) now() time.Time { return (*a.clock.Load())() }

// Key returns the share key.
func (a *Authority) Key() *Key { return a.key }

func (a *Authority) saveLocked() error {
	st := state{Links: []Record{}}
	for _, l := range a.links {
		st.Links = append(st.Links, l.Record)
	}
	slices.SortFunc(st.Links, func(x, y Record) int { return int(x.Created - y.Created) })
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(a.path, b)
}

// Create issues a link for scope (a checked path, "" for the root), valid for ttl (0:
// forever), and records it with label.
func (a *Authority) Create(scope, label string, ttl time.Duration) (Link, error) {
	now := a.now()
	var exp int64
	if ttl > 0 {
		exp = now.Add(ttl).Unix()
	}
	l, err := a.key.Mint(Public{ID: NewID(), Scope: scope, Expiry: exp})
	if err != nil {
		return l, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.links[l.ID] = &link{Record: Record{ID: l.ID, Label: label, Scope: scope, Expiry: exp, Created: now.Unix()}, sessions: map[*Session]struct{}{}}
	if err := a.saveLocked(); err != nil {
		delete(a.links, l.ID)
		return Link{}, err
	}
	return l, nil
}

// Revoke revokes the link id at once: it is recorded, new proofs with it are refused, and
// the sessions open with it are told and closed. It returns how many were open.
func (a *Authority) Revoke(id string) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.links[id]
	if l == nil {
		return 0, fmt.Errorf("%w: %q", ErrUnknown, id)
	}
	if !l.Revoked {
		l.Revoked = true
		if err := a.saveLocked(); err != nil {
			l.Revoked = false
			return 0, err
		}
	}
	n := len(l.sessions)
	for s := range l.sessions {
		s.revoke()
	}
	return n, nil
}

// List returns every link issued, oldest first.
func (a *Authority) List() []Entry {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Entry, 0, len(a.links))
	for _, l := range a.links {
		out = append(out, Entry{Record: l.Record, Sessions: len(l.sessions), Total: l.total, BytesRead: l.bytes.Load()})
	}
	slices.SortFunc(out, func(x, y Entry) int { return int(x.Created - y.Created) })
	return out
}

// Secret recomputes the secret of the link with public part p.
func (a *Authority) Secret(p Public) ([SecretSize]byte, error) { return a.key.Secret(p) }

// Valid reports whether l was minted with this daemon's key (its secret is right).
func (a *Authority) Valid(l Link) bool { return a.key.Valid(l) }

// Check is the check after the secret: ErrExpired or ErrRevoked, else nil. Only the
// revocation list is looked up, by id; a link minted with the key but not recorded (the
// state file was lost) is accepted until its expiry.
func (a *Authority) Check(p Public) error {
	if p.Expiry != 0 && a.now().Unix() >= p.Expiry {
		return ErrExpired
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.links[p.ID]; l != nil && l.Revoked {
		return ErrRevoked
	}
	return nil
}

// Begin registers a session authenticated with the link of public part p. The caller ends
// it with End.
func (a *Authority) Begin(p Public) *Session {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.links[p.ID]
	if l == nil { // minted with the key, not recorded (a lost state file): track it from now on
		l = &link{Record: Record{ID: p.ID, Scope: p.Scope, Expiry: p.Expiry, Created: a.now().Unix()}, sessions: map[*Session]struct{}{}}
		a.links[p.ID] = l
	}
	s := &Session{a: a, l: l, revoked: make(chan struct{})}
	l.sessions[s] = struct{}{}
	l.total++
	if l.Revoked {
		s.revoke()
	}
	return s
}

// Session is one session authenticated with a share link.
type Session struct {
	a       *Authority
	l       *link
	revoked chan struct{}
	once    sync.Once
	bytes   atomic.Int64
}

func (s *Session) revoke() { s.once.Do(func() { close(s.revoked) }) }

// Revoked is closed when the link is revoked.
func (s *Session) Revoked() <-chan struct{} { return s.revoked }

// AddRead counts n file bytes sent.
func (s *Session) AddRead(n int64) {
	s.bytes.Add(n)
	s.l.bytes.Add(n)
}

// BytesRead returns the file bytes this session was sent.
func (s *Session) BytesRead() int64 { return s.bytes.Load() }

// End unregisters the session.
func (s *Session) End() {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	delete(s.l.sessions, s)
}
