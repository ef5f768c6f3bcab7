//go:build !js

package share

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAuthority(t *testing.T) {
	dir := t.TempDir()
	a, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "share.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	l, err := a.Create("docs", "for bob", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Valid(l) || a.Check(l.Public()) != nil {
		t.Fatal("a fresh link is refused")
	}
	forged := l
	forged.Scope = ""
	if a.Valid(forged) {
		t.Fatal("a widened scope is accepted")
	}
	other, _ := OpenDir(t.TempDir())
	if other.Valid(l) {
		t.Fatal("another daemon accepts the link")
	}
	a.SetClock(func() time.Time { return time.Now().Add(25 * time.Hour) })
	if err := a.Check(l.Public()); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	a.SetClock(time.Now)

	s := a.Begin(l.Public())
	s.AddRead(10)
	if n, err := a.Revoke(l.ID); err != nil || n != 1 {
		t.Fatalf("Revoke = %d, %v", n, err)
	}
	select {
	case <-s.Revoked():
	default:
		t.Fatal("open session not told")
	}
	s.End()
	if _, err := a.Revoke("nope"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("unknown id: %v", err)
	}

	// The state survives a restart: the same key, the label, the revocation.
	b, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Valid(l) {
		t.Fatal("key not kept")
	}
	if err := b.Check(l.Public()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revocation not kept: %v", err)
	}
	es := b.List()
	if len(es) != 1 || es[0].Label != "for bob" || es[0].Scope != "docs" || !es[0].Revoked {
		t.Fatalf("List = %+v", es)
	}
}

// An id never starts like a command-line flag (rangecast share revoke ID), and is valid.
func TestNewIDNotAFlag(t *testing.T) {
	for range 5000 { // 1 in 32 would start with '-' or '_' if nothing prevented it
		id := NewID()
		if err := CheckID(id); err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(id[:1], "-_") {
			t.Fatalf("id %q starts like a flag", id)
		}
	}
}
