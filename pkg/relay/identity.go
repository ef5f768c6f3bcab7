package relay

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// idEncoding spells daemon ids: lower-case base32, no padding.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// IDLen is the length of a daemon id: 20 bytes in base32.
const IDLen = 32

// IDOf returns the daemon id of a public key: the first 20 bytes of its SHA-256, in
// lower-case base32 without padding (32 characters). The relay derives it itself from the key
// that signed the registration, so an id cannot be claimed without its private key.
func IDOf(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return idEncoding.EncodeToString(sum[:20])
}

// ValidID reports whether s has the form of a daemon id.
func ValidID(s string) bool {
	if len(s) != IDLen {
		return false
	}
	_, err := idEncoding.DecodeString(s)
	return err == nil
}

// DefaultIdentityPath is where a daemon keeps its key unless told otherwise:
// os.UserConfigDir()/rangecast/identity.key.
func DefaultIdentityPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("relay: no config directory for the identity key (use --identity FILE): %w", err)
	}
	return filepath.Join(dir, "rangecast", "identity.key"), nil
}

const pemType = "PRIVATE KEY"

// LoadOrCreateIdentity reads the Ed25519 key at path (PKCS #8, PEM), or creates one there:
// mode 0600, in a directory made 0700 if missing, written atomically (a temporary file linked
// into place, so that two daemons starting at once end up with the same key, never a torn
// one).
func LoadOrCreateIdentity(path string) (ed25519.PrivateKey, error) {
	key, err := loadIdentity(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return key, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der})
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("relay: identity: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".identity-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("relay: identity: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("relay: identity: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("relay: identity: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("relay: identity: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("relay: identity: %w", err)
	}
	// Link, not rename: it fails if another process created the key meanwhile, and then that
	// key is the one.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return loadIdentity(path)
		}
		return nil, fmt.Errorf("relay: identity: %w", err)
	}
	return priv, nil
}

func loadIdentity(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("relay: identity %s is readable by others (mode %v): chmod 600 it", path, st.Mode().Perm())
	}
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != pemType {
		return nil, fmt.Errorf("relay: identity %s: not a PEM %q block", path, pemType)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("relay: identity %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("relay: identity %s: not an Ed25519 key", path)
	}
	return priv, nil
}

// signedMessage is what a daemon signs to register: RegisterContext || challenge || host.
// The host (the relay's, lower case, as the daemon dialed it) keeps a signature made for one
// relay from being replayed to another.
func signedMessage(challenge []byte, host string) []byte {
	m := make([]byte, 0, len(RegisterContext)+len(challenge)+len(host))
	m = append(m, RegisterContext...)
	m = append(m, challenge...)
	return append(m, strings.ToLower(host)...)
}
