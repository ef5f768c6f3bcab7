// Package share is the format of scoped, expiring, revocable share links, and (natively) the
// daemon's side of them: the share key that signs them, and the state of those it issued.
//
// A share link's fragment is #s=ID.SCOPE.EXPIRY.SECRET (docs/PROTOCOL.md, Share links):
//
//	ID      1 to 32 characters of the base64url alphabet, random
//	SCOPE   base64url (no padding) of the path it opens: a file or a subtree; empty: the root
//	EXPIRY  unix seconds in decimal, 0 for none
//	SECRET  base64url (no padding) of s = HMAC-SHA256(share key, "rangecast-share-v1" | Public)
//
// where Public is the public part's binary form, as the PROOF v2 message carries it:
// id length (1 byte) | id | scope length (2 bytes, big-endian) | scope | expiry (8 bytes,
// big-endian). The daemon checks a link without a lookup: it recomputes s.
package share

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parse errors: every error Parse returns matches one of them (errors.Is).
var (
	// ErrMalformed: the string is not a share link's fragment value.
	ErrMalformed = errors.New("share: malformed link")
	// ErrTruncated: a share link that lacks its end (a field, or part of the secret): it was
	// probably cut when copied.
	ErrTruncated = errors.New("share: truncated link (was it cut when copied?)")
)

// Refusals the daemon makes of a link whose secret is right.
var (
	ErrExpired = errors.New("share: the link has expired")
	ErrRevoked = errors.New("share: the link was revoked")
)

const (
	// MaxID is the longest id.
	MaxID = 32
	// MaxScope is the longest scope, as rangefs paths.
	MaxScope = 4096
	// SecretSize is the length of a link's secret.
	SecretSize = 32
	// Label starts the MAC input of a link's secret.
	Label = "rangecast-share-v1"
)

// Link is a parsed share link: a capability for Scope until Expiry.
type Link struct {
	ID     string
	Scope  string // "" for the whole root, else a relative slash-separated path
	Expiry int64  // unix seconds; 0: none
	Secret [SecretSize]byte
}

// Public is a link without its secret: what a client claims in its proof.
type Public struct {
	ID     string
	Scope  string
	Expiry int64
}

// Public returns l's public part.
func (l Link) Public() Public { return Public{ID: l.ID, Scope: l.Scope, Expiry: l.Expiry} }

var b64 = base64.RawURLEncoding.Strict() // one encoding per value: a link has one form

// String returns the fragment value, ID.SCOPE.EXPIRY.SECRET.
func (l Link) String() string {
	return l.ID + "." + b64.EncodeToString([]byte(l.Scope)) + "." + strconv.FormatInt(l.Expiry, 10) + "." + b64.EncodeToString(l.Secret[:])
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func truncated(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrTruncated, fmt.Sprintf(format, args...))
}

// Parse parses a fragment value ID.SCOPE.EXPIRY.SECRET (without "s=").
func Parse(s string) (Link, error) {
	var l Link
	if len(s) > 4*MaxScope {
		return l, malformed("longer than any link")
	}
	parts := strings.Split(s, ".")
	switch {
	case len(parts) > 4:
		return l, malformed("%d fields, want 4 (id.scope.expiry.secret)", len(parts))
	case len(parts) < 4:
		return l, truncated("%d of its 4 fields (id.scope.expiry.secret)", len(parts))
	}
	if err := CheckID(parts[0]); err != nil {
		return l, err
	}
	l.ID = parts[0]
	scope, err := b64.DecodeString(parts[1])
	if err != nil {
		return l, malformed("scope is not base64url")
	}
	if err := CheckScope(string(scope)); err != nil {
		return l, err
	}
	l.Scope = string(scope)
	e := parts[2]
	if e == "" || len(e) > 1 && e[0] == '0' || strings.TrimLeft(e, "0123456789") != "" {
		return l, malformed("expiry %q is not a decimal number of seconds", e)
	}
	if l.Expiry, err = strconv.ParseInt(e, 10, 64); err != nil {
		return l, malformed("expiry out of range")
	}
	sec := parts[3]
	want := b64.EncodedLen(SecretSize)
	switch {
	case len(sec) < want && validB64(sec):
		return l, truncated("the secret has %d of its %d characters", len(sec), want)
	case len(sec) != want:
		return l, malformed("the secret is not %d base64url characters", want)
	}
	raw, err := b64.DecodeString(sec)
	if err != nil || len(raw) != SecretSize {
		return l, malformed("the secret is not base64url")
	}
	copy(l.Secret[:], raw)
	return l, nil
}

func validB64(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isB64(s[i]) {
			return false
		}
	}
	return true
}

func isB64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// CheckID reports whether id is a valid link id.
func CheckID(id string) error {
	if id == "" || len(id) > MaxID || !validB64(id) {
		return malformed("the id must be 1 to %d base64url characters", MaxID)
	}
	return nil
}

// CheckScope reports whether scope is a valid scope: "" (the root) or a path in the form
// rangefs accepts (relative, slash-separated, no "." or ".." elements, valid UTF-8, no
// backslash or NUL, at most MaxScope bytes).
func CheckScope(scope string) error {
	switch {
	case scope == "":
		return nil
	case len(scope) > MaxScope:
		return malformed("scope longer than %d bytes", MaxScope)
	case !utf8.ValidString(scope), strings.ContainsAny(scope, "\\\x00"), scope == ".", !fs.ValidPath(scope):
		return malformed("scope %q is not a relative slash-separated path", scope)
	}
	return nil
}

// AppendBinary appends p's binary form: id length (1) | id | scope length (2) | scope |
// expiry (8), big-endian.
func (p Public) AppendBinary(b []byte) ([]byte, error) {
	if err := CheckID(p.ID); err != nil {
		return b, err
	}
	if err := CheckScope(p.Scope); err != nil {
		return b, err
	}
	b = append(b, byte(len(p.ID)))
	b = append(b, p.ID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.Scope)))
	b = append(b, p.Scope...)
	return binary.BigEndian.AppendUint64(b, uint64(p.Expiry)), nil
}

// ParsePublic parses exactly one public part in binary form.
func ParsePublic(b []byte) (Public, error) {
	var p Public
	if len(b) < 1 {
		return p, truncated("no id")
	}
	n := int(b[0])
	b = b[1:]
	if len(b) < n+2 {
		return p, truncated("public part cut in its id")
	}
	p.ID = string(b[:n])
	b = b[n:]
	m := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if len(b) < m+8 {
		return p, truncated("public part cut in its scope or expiry")
	}
	p.Scope = string(b[:m])
	b = b[m:]
	p.Expiry = int64(binary.BigEndian.Uint64(b))
	if len(b) != 8 {
		return p, malformed("bytes after the public part")
	}
	if err := CheckID(p.ID); err != nil {
		return p, err
	}
	if err := CheckScope(p.Scope); err != nil {
		return p, err
	}
	if p.Expiry < 0 {
		return p, malformed("negative expiry")
	}
	return p, nil
}
