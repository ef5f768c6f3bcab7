//go:build !js

package share

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Key is a daemon's share key: the secret every share link's secret is derived from.
type Key [32]byte

// Secret computes the secret of the link with public part p.
func (k *Key) Secret(p Public) ([SecretSize]byte, error) {
	var out [SecretSize]byte
	b, err := p.AppendBinary([]byte(Label))
	if err != nil {
		return out, err
	}
	m := hmac.New(sha256.New, k[:])
	m.Write(b)
	m.Sum(out[:0])
	return out, nil
}

// Mint makes the link for p.
func (k *Key) Mint(p Public) (Link, error) {
	s, err := k.Secret(p)
	return Link{ID: p.ID, Scope: p.Scope, Expiry: p.Expiry, Secret: s}, err
}

// Valid reports, in constant time, whether l was minted with k.
func (k *Key) Valid(l Link) bool {
	s, err := k.Secret(l.Public())
	return err == nil && hmac.Equal(s[:], l.Secret[:])
}

// NewID returns a new random link id: 8 bytes, 11 base64url characters, the first of them a
// letter or a digit, so that no id reads as a command-line flag (rangecast share revoke ID).
func NewID() string {
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		if id := b64.EncodeToString(b[:]); id[0] != '-' && id[0] != '_' {
			return id
		}
	}
}

// LoadOrCreateKey reads the share key at path, or creates one there (mode 0600, written
// atomically, its directory 0700). A new key is linked into place, never renamed over
// another: two daemons starting at once end up with the same key.
func LoadOrCreateKey(path string) (*Key, error) {
	k, err := loadKey(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	k = new(Key)
	_, _ = rand.Read(k[:])
	if err := createFileAtomic(path, k[:]); err != nil {
		if errors.Is(err, os.ErrExist) {
			return loadKey(path) // another process created it first
		}
		return nil, fmt.Errorf("share: key: %w", err)
	}
	return k, nil
}

func loadKey(path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != len(Key{}) {
			return nil, fmt.Errorf("share: key %s: %d bytes, want %d", path, len(b), len(Key{}))
		}
		var k Key
		copy(k[:], b)
		return &k, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return nil, fmt.Errorf("share: key: %w", err)
}

// createFileAtomic writes b to path (mode 0600) unless path exists (os.ErrExist).
func createFileAtomic(path string, b []byte) error {
	return writeTemp(path, b, func(tmp string) error { return os.Link(tmp, path) })
}

// WriteFileAtomic writes b to path with mode 0600 through a temporary file and a rename, so
// that a reader sees the old content or the new, never part of it.
func WriteFileAtomic(path string, b []byte) error {
	return writeTemp(path, b, func(tmp string) error { return os.Rename(tmp, path) })
}

// writeTemp writes b to a temporary file beside path, synced, and calls place with its name;
// the temporary file is removed afterwards.
func writeTemp(path string, b []byte, place func(tmp string) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, a no-op
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return place(f.Name())
}
