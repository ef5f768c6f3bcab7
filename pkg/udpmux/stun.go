//go:build !js

package udpmux

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// The STUN constants the mux needs (RFC 8489).
const (
	stunHeaderSize  = 20
	stunMagicCookie = 0x2112A442

	stunBindingRequest = 0x0001

	stunAttrUsername    = 0x0006
	stunAttrIntegrity   = 0x0008
	stunAttrIntegrity2  = 0x001C // MESSAGE-INTEGRITY-SHA256
	stunAttrFingerprint = 0x8028

	// RFC 8489 §14.14: "The value of the attribute is computed as the CRC-32
	// of the STUN message up to (but excluding) the FINGERPRINT attribute
	// itself, XOR'ed with the 32-bit value 0x5354554e."
	stunFingerprintXOR = 0x5354554e

	// RFC 8489 §14.3: "It MUST contain a UTF-8-encoded sequence of fewer
	// than 509 bytes". RFC 5389 allowed up to 513; take the larger.
	stunMaxUsername = 513

	// RFC 8445 §5.3: ufrag = 4*256ice-char. The lower bound is left to the
	// ICE agent; the upper bound keeps pending state small.
	maxUfragLen = 256
)

// Errors of parseSTUN. They only feed the malformed counter and tests.
var (
	errSTUNShort       = errors.New("udpmux: STUN message shorter than its header")
	errSTUNNotSTUN     = errors.New("udpmux: not a STUN message")
	errSTUNLength      = errors.New("udpmux: STUN length does not match the datagram")
	errSTUNAttrLength  = errors.New("udpmux: STUN attribute overruns the message")
	errSTUNUsername    = errors.New("udpmux: STUN USERNAME too long")
	errSTUNFingerprint = errors.New("udpmux: STUN FINGERPRINT is not the last attribute or has a bad length")
)

// stunInfo is what the mux reads from a STUN message: no more than it needs
// to route it. The byte slices alias the datagram.
type stunInfo struct {
	msgType     uint16
	username    []byte // nil: no USERNAME attribute
	fingerprint bool   // a FINGERPRINT attribute is present, last, and correct
}

// isSTUN reports whether p looks like a STUN message: RFC 8489 §5 "The most
// significant 2 bits of every STUN message MUST be zeroes", and the magic
// cookie follows the type and length. RFC 7983 uses the first byte alone
// (0..3) to tell STUN from DTLS (20..63) and RTP (128..191) on one port;
// the cookie makes the test stricter.
func isSTUN(p []byte) bool {
	return len(p) >= stunHeaderSize && p[0]&0xC0 == 0 &&
		binary.BigEndian.Uint32(p[4:8]) == stunMagicCookie
}

// parseSTUN checks the framing of a STUN message and extracts its type, its
// USERNAME, and whether it carries a valid FINGERPRINT. It never panics and
// never allocates. Every declared length is checked against what remains
// before slicing.
func parseSTUN(p []byte) (stunInfo, error) {
	var info stunInfo
	if len(p) < stunHeaderSize {
		return info, errSTUNShort
	}
	if !isSTUN(p) {
		return info, errSTUNNotSTUN
	}
	info.msgType = binary.BigEndian.Uint16(p[0:2])
	// RFC 8489 §5: "the message length MUST contain the size of the message
	// in bytes, not including the 20-byte STUN header. Since all STUN
	// attributes are padded to a multiple of 4 bytes, the last 2 bits of this
	// field are always zero."
	declared := int(binary.BigEndian.Uint16(p[2:4]))
	if declared%4 != 0 || declared != len(p)-stunHeaderSize {
		return info, errSTUNLength
	}
	b := p[stunHeaderSize:]
	integrity := false
	for len(b) > 0 {
		if len(b) < 4 {
			return info, errSTUNAttrLength
		}
		typ := binary.BigEndian.Uint16(b[0:2])
		vlen := int(binary.BigEndian.Uint16(b[2:4]))
		padded := (vlen + 3) &^ 3
		if padded > len(b)-4 {
			return info, errSTUNAttrLength
		}
		value := b[4 : 4+vlen]
		switch typ {
		case stunAttrUsername:
			if vlen > stunMaxUsername {
				return info, errSTUNUsername
			}
			// RFC 8489 §14.5: "agents MUST ignore all other attributes that
			// follow MESSAGE-INTEGRITY", save MESSAGE-INTEGRITY-SHA256 and
			// FINGERPRINT.
			if info.username == nil && !integrity {
				info.username = value
			}
		case stunAttrIntegrity, stunAttrIntegrity2:
			integrity = true
		case stunAttrFingerprint:
			// RFC 8489 §14.7: "When present, the FINGERPRINT attribute MUST
			// be the last attribute in the message".
			if vlen != 4 || len(b) != 8 {
				return info, errSTUNFingerprint
			}
			start := len(p) - len(b)
			want := crc32.ChecksumIEEE(p[:start]) ^ stunFingerprintXOR
			info.fingerprint = binary.BigEndian.Uint32(value) == want
		}
		b = b[4+padded:]
	}
	return info, nil
}

// localUfrag returns the part of a connectivity check's USERNAME before the
// first colon. RFC 8445 §7.2.2: the USERNAME of a check is "RFRAG:LFRAG",
// where RFRAG is the ufrag of the agent receiving it, that is ours.
func localUfrag(username []byte) []byte {
	for i, c := range username {
		if c == ':' {
			return username[:i]
		}
	}
	return username
}

// splitUsername splits a connectivity check's USERNAME into the receiver's
// (local) and the sender's (remote) ufrag. ok is false unless both are
// non-empty, at most maxUfragLen long, and made of ice-chars (RFC 8445 §15.4:
// ice-char = ALPHA / DIGIT / "+" / "/").
func splitUsername(username []byte) (local, remote []byte, ok bool) {
	i := -1
	for j, c := range username {
		if c == ':' {
			i = j
			break
		}
	}
	if i < 0 {
		return nil, nil, false
	}
	local, remote = username[:i], username[i+1:]
	return local, remote, validUfrag(local) && validUfrag(remote)
}

func validUfrag(u []byte) bool {
	if len(u) == 0 || len(u) > maxUfragLen {
		return false
	}
	for _, c := range u {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}
