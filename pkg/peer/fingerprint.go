package peer

import (
	"errors"
	"fmt"
	"strings"
)

// ErrFingerprint reports that a session description states no DTLS certificate fingerprint
// this package can bind to: none, one of a hash other than SHA-256, a malformed one, or two
// that differ.
var ErrFingerprint = errors.New("peer: no usable DTLS fingerprint")

// Fingerprint is the SHA-256 digest of a DTLS certificate, as an SDP a=fingerprint line
// (RFC 8122) states it. DTLS checks that the peer's certificate matches the fingerprint of
// the remote description, so a Fingerprint taken from each description names the two ends of
// the DTLS session: a layer above can bind a secret to them (pkg/connect's authentication),
// which a party that rewrote the SDP in flight to terminate DTLS itself cannot match.
type Fingerprint [32]byte

// String returns the fingerprint in its SDP form: "sha-256 AB:CD:…".
func (f Fingerprint) String() string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len("sha-256 ")+3*len(f)-1)
	b = append(b, "sha-256 "...)
	for i, x := range f {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hex[x>>4], hex[x&0xf])
	}
	return string(b)
}

// ParseFingerprint returns the DTLS fingerprint a session description states, at session or
// media level. Exactly one distinct fingerprint is accepted, and only a SHA-256 one: pion
// (and so this package natively), Chromium and Firefox state one. Anything else fails with
// ErrFingerprint, on purpose: DTLS accepts a certificate that matches any one of the stated
// fingerprints, so with two of them a layer above could not tell which one DTLS matched, and
// a party that added its own beside the genuine one would go unnoticed. The hex digits are
// case-insensitive.
func ParseFingerprint(sdp string) (Fingerprint, error) {
	var fp Fingerprint
	found := false
	for line := range strings.Lines(sdp) {
		line = strings.TrimRight(line, "\r\n")
		val, ok := strings.CutPrefix(line, "a=fingerprint:")
		if !ok {
			continue
		}
		alg, hexval, ok := strings.Cut(strings.TrimSpace(val), " ")
		if !ok {
			return Fingerprint{}, fmt.Errorf("%w: malformed a=fingerprint line", ErrFingerprint)
		}
		if !strings.EqualFold(alg, "sha-256") {
			return Fingerprint{}, fmt.Errorf("%w: hash %q (only sha-256 is accepted)", ErrFingerprint, alg)
		}
		f, err := parseFingerprintHex(strings.TrimSpace(hexval))
		if err != nil {
			return Fingerprint{}, err
		}
		if found && f != fp {
			return Fingerprint{}, fmt.Errorf("%w: the description states two different fingerprints", ErrFingerprint)
		}
		fp, found = f, true
	}
	if !found {
		return Fingerprint{}, fmt.Errorf("%w: the description states none", ErrFingerprint)
	}
	return fp, nil
}

// parseFingerprintHex parses 32 colon-separated pairs of hex digits.
func parseFingerprintHex(s string) (Fingerprint, error) {
	var f Fingerprint
	if len(s) != 3*len(f)-1 {
		return f, fmt.Errorf("%w: a sha-256 fingerprint of %d characters", ErrFingerprint, len(s))
	}
	for i := range f {
		if i > 0 && s[3*i-1] != ':' {
			return f, fmt.Errorf("%w: malformed fingerprint", ErrFingerprint)
		}
		hi, ok1 := unhex(s[3*i])
		lo, ok2 := unhex(s[3*i+1])
		if !ok1 || !ok2 {
			return f, fmt.Errorf("%w: malformed fingerprint", ErrFingerprint)
		}
		f[i] = hi<<4 | lo
	}
	return f, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// LocalFingerprint returns the fingerprint of this end's DTLS certificate, from the local
// description (the offer or answer this Conn made). It fails with ErrFingerprint before the
// local description is set, or if it states no usable fingerprint.
func (c *Conn) LocalFingerprint() (Fingerprint, error) {
	return ParseFingerprint(c.localSDP())
}

// RemoteFingerprint returns the fingerprint the peer's DTLS certificate must match, from the
// remote description: once the Conn is connected, DTLS has checked that the peer's
// certificate does. It fails with ErrFingerprint before the remote description is set, or if
// it states no usable fingerprint.
func (c *Conn) RemoteFingerprint() (Fingerprint, error) {
	return ParseFingerprint(c.remoteSDP())
}
