package connect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/share"
)

// The authentication exchange (docs/PROTOCOL.md, Authentication): on the rangefs channel,
// before HELLO, the daemon sends a CHALLENGE, the client a PROOF, the daemon a RESULT.
//
//	CHALLENGE  daemon → client  version (1) | nonce (32)        33 bytes
//	PROOF      client → daemon  version (1) | mac (32)          33 bytes
//	PROOF v2   client → daemon  2 | mac (32) | public part       a share link's (below)
//	RESULT     daemon → client  0x00 | confirm (32): accepted   33 bytes
//	                            0x01 | reason (1): refused       2 bytes (1 from older daemons)
//
//	key     = SHA-256("rangecast auth v1" | token)
//	mac     = HMAC-SHA256(key, "rangecast-auth-v1" | nonce | daemon's fingerprint | client's fingerprint)
//	confirm = HMAC-SHA256(key, "rangecast-auth-v1-daemon" | nonce | daemon's fingerprint | client's fingerprint)
//
// The confirmation proves the daemon's knowledge of the token to the client in turn, so that
// a relay cannot answer in the daemon's place and accept any proof.
//
// A share link (pkg/share) proves its secret s instead of the token, with the same MAC and
// confirmation keyed by s itself (key = s), and claims its public part (id, scope, expiry in
// share.Public's binary form) after the MAC. The daemon recomputes s from its share key and
// the claimed public part (no lookup), so a claim of another scope or expiry has another s.
// It checks the MAC first, then the expiry, then the revocation list: only a holder of the
// link's secret learns that it expired or was revoked.
//
// The fingerprints are the 32-byte SHA-256 digests of the two DTLS certificates, each side
// taking its own from its local description and the other's from the remote one
// (peer.Conn.LocalFingerprint, RemoteFingerprint): a party in the middle that terminates DTLS
// on both sides makes the two ends see different pairs, and no MAC it can forward or compute
// without the token matches.
const (
	authVersion       = 1
	authVersionShare  = 2 // PROOF v2: a share link's
	authKeyLabel      = "rangecast auth v1"
	authMACLabel      = "rangecast-auth-v1"
	authConfirmLabel  = "rangecast-auth-v1-daemon"
	authResultSize    = 1 + 32
	authChallengeSize = 1 + 32
	authProofSize     = 1 + 32
	authResultOK      = 0x00
	authResultRefused = 0x01

	// The reason byte after a refusal.
	authReasonRefused = 0x00 // a wrong proof, malformed, or none in time
	authReasonExpired = 0x01 // a share link past its expiry (its proof was right)
	authReasonRevoked = 0x02 // a revoked share link (its proof was right)

	// authReadBuffer is larger than any exchange message (a PROOF v2 with the longest id and
	// scope: 1 + 32 + 1 + 32 + 2 + 4096 + 8), so that a longer one is read whole and refused
	// as malformed rather than left in the channel.
	authReadBuffer = 4352

	// DefaultAuthTimeout bounds each wait of the exchange: the daemon's for the PROOF, the
	// client's for the CHALLENGE and the RESULT.
	DefaultAuthTimeout = 10 * time.Second
)

// ErrAuthRefused is the cause of a Dial that the daemon refused in the authentication
// exchange: the link's token is not the daemon's, or someone in the middle (a relay that
// rewrote the session descriptions) terminates the peer connection. Dial returns it inside an
// *Error with CodeUnauthorized.
var ErrAuthRefused = errors.New("rangecast: the daemon refused the proof of the access token")

// ErrAuthDaemon is the cause of a Dial whose peer accepted the proof without proving in
// turn that it knows the token: it is not the daemon of the link, but someone in the middle
// (a relay) answering in its place. Dial returns it inside an *Error with CodeProtocol.
var ErrAuthDaemon = errors.New("rangecast: the peer did not prove it knows the access token: it is not the link's daemon")

// ErrLinkExpired and ErrLinkRevoked are the causes of a Dial with a share link that the
// daemon refused as expired or revoked (CodeLinkExpired, CodeLinkRevoked). A session whose
// link is revoked while it is open ends with CodeLinkRevoked too.
var (
	ErrLinkExpired = errors.New("rangecast: the share link has expired: ask its owner for a new one")
	ErrLinkRevoked = errors.New("rangecast: the share link was revoked by its owner")
)

// The daemon's reasons to refuse, for its log.
var (
	errAuthExpired   = fmt.Errorf("auth: %w", share.ErrExpired)
	errAuthRevoked   = fmt.Errorf("auth: %w", share.ErrRevoked)
	errAuthNoShare   = errors.New("auth: a share link's proof, and this daemon takes none")
	errAuthBadProof  = errors.New("auth: wrong proof (a wrong token, a replay, or someone in the middle)")
	errAuthMalformed = errors.New("auth: malformed proof")
	errAuthTimeout   = errors.New("auth: no proof in time")
)

// authKey is the MAC key derived from a token.
type authKey [32]byte

func deriveAuthKey(token string) authKey {
	return authKey(sum256([]byte(authKeyLabel), []byte(token)))
}

// authMAC computes the PROOF's MAC. The layout is fixed: every field has a fixed length.
func authMAC(key authKey, nonce *[32]byte, daemonFP, clientFP peer.Fingerprint) [32]byte {
	return hmacSum(key[:], []byte(authMACLabel), nonce[:], daemonFP[:], clientFP[:])
}

// authConfirm computes the accepting RESULT's confirmation.
func authConfirm(key authKey, nonce *[32]byte, daemonFP, clientFP peer.Fingerprint) [32]byte {
	return hmacSum(key[:], []byte(authConfirmLabel), nonce[:], daemonFP[:], clientFP[:])
}

// fingerprints returns conn's (local, remote) DTLS fingerprints.
func fingerprints(conn *peer.Conn) (local, remote peer.Fingerprint, err error) {
	if local, err = conn.LocalFingerprint(); err != nil {
		return local, remote, err
	}
	remote, err = conn.RemoteFingerprint()
	return local, remote, err
}

// readResult is one message read by readMsg's goroutine.
type readResult struct {
	b   []byte
	err error
}

// readMsg reads one message of at most authReadBuffer bytes, waiting at most timeout. On a
// timeout or ctx's end it returns at once, leaving the read pending: the caller closes ch,
// which ends it. A longer message is malformed.
func readMsg(ctx context.Context, ch io.Reader, timeout time.Duration) ([]byte, error) {
	done := make(chan readResult, 1)
	go func() {
		b := make([]byte, authReadBuffer)
		n, err := ch.Read(b)
		if errors.Is(err, io.ErrShortBuffer) {
			err = errAuthMalformed
		}
		done <- readResult{b[:n], err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-done:
		return r.b, r.err
	case <-t.C:
		return nil, errAuthTimeout
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// credential is what a client proves: the link's token (PROOF v1) or a share link's secret
// (PROOF v2, with its public part).
type credential struct {
	key    authKey
	public []byte // nil for a token
}

func tokenCredential(token string) credential { return credential{key: deriveAuthKey(token)} }

func shareCredential(l share.Link) (credential, error) {
	pub, err := l.Public().AppendBinary(nil)
	return credential{key: authKey(l.Secret), public: pub}, err
}

// proveToken runs the client's side of the exchange on ch, a new rangefs channel of a peer
// connection whose fingerprints (its own, the daemon's) are local and remote. It returns nil
// once the daemon accepted the proof and proved in turn that it knows the token; a refusal is
// an *Error with CodeUnauthorized wrapping ErrAuthRefused (CodeLinkExpired, CodeLinkRevoked
// for a share link refused for those), an acceptance without the right confirmation one with
// CodeProtocol wrapping ErrAuthDaemon. On any error the caller closes the connection.
func proveToken(ctx context.Context, ch io.ReadWriter, token string, local, remote peer.Fingerprint, timeout time.Duration) error {
	return prove(ctx, ch, tokenCredential(token), local, remote, timeout)
}

func prove(ctx context.Context, ch io.ReadWriter, cred credential, local, remote peer.Fingerprint, timeout time.Duration) error {
	msg, err := readMsg(ctx, ch, timeout)
	switch {
	case errors.Is(err, errAuthTimeout):
		return Errorf(CodeProtocol, "the daemon sent no authentication challenge within %v: is it a rangecast daemon of this version?", timeout)
	case errors.Is(err, errAuthMalformed):
		return Errorf(CodeProtocol, "the daemon's authentication challenge is malformed")
	case err != nil:
		return err
	case len(msg) != authChallengeSize || msg[0] != authVersion:
		return Errorf(CodeProtocol, "the daemon's authentication challenge is malformed or of another version (%d bytes)", len(msg))
	}
	var nonce [32]byte
	copy(nonce[:], msg[1:])
	key := cred.key
	mac := authMAC(key, &nonce, remote, local)
	version := byte(authVersion)
	if cred.public != nil {
		version = authVersionShare
	}
	proof := make([]byte, 0, authProofSize+len(cred.public))
	proof = append(append(append(proof, version), mac[:]...), cred.public...)
	if _, err := ch.Write(proof); err != nil {
		return err
	}
	msg, err = readMsg(ctx, ch, timeout)
	switch {
	case errors.Is(err, errAuthTimeout):
		return Errorf(CodeProtocol, "the daemon did not answer the authentication proof within %v", timeout)
	case err != nil && !errors.Is(err, errAuthMalformed):
		return err
	case err != nil || len(msg) == 0:
		return Errorf(CodeProtocol, "the daemon's authentication result is malformed")
	case msg[0] != authResultOK:
		if len(msg) >= 2 && cred.public != nil {
			switch msg[1] {
			case authReasonExpired:
				return &Error{Code: CodeLinkExpired, Err: ErrLinkExpired}
			case authReasonRevoked:
				return &Error{Code: CodeLinkRevoked, Err: ErrLinkRevoked}
			}
		}
		return &Error{Code: CodeUnauthorized, Err: ErrAuthRefused}
	}
	confirm := authConfirm(key, &nonce, remote, local)
	if len(msg) != authResultSize || !macEqual(msg[1:], confirm[:]) {
		return &Error{Code: CodeProtocol, Err: ErrAuthDaemon}
	}
	return nil
}

// ShareChecker is the part of ShareAuthority the exchange itself uses.
type ShareChecker interface {
	// Secret recomputes the secret of the link with public part p from the share key.
	Secret(p share.Public) ([share.SecretSize]byte, error)
	// Check is asked once the proof is right: share.ErrExpired, share.ErrRevoked or nil.
	Check(p share.Public) error
}

// verifier checks a PROOF's MAC for checkToken: the token's key, and the share links'
// authority if the daemon takes them.
type verifier struct {
	key    authKey
	shares ShareChecker
}

// checkToken runs the daemon's side of the exchange on ch, the peer's rangefs channel: it
// sends the challenge with nonce (fresh and random for every peer), waits up to timeout for
// the proof, checks it in constant time against v (the token's key, or a share link's secret
// recomputed from the claimed public part) and the fingerprints (the daemon's own, the
// client's), then a share link's expiry and revocation, and sends the result: a refusal with
// its reason, or an acceptance with the confirmation that proves the daemon's own knowledge of
// the key. It returns nil if the proof is right, with the share link's public part if it was
// one (pub != nil); otherwise, when it could, it has sent a refusal, and the caller closes the
// channel and the peer.
func checkToken(ctx context.Context, ch io.ReadWriter, v verifier, local, remote peer.Fingerprint, nonce *[32]byte, timeout time.Duration) (pub *share.Public, err error) {
	challenge := make([]byte, 0, authChallengeSize)
	challenge = append(append(challenge, authVersion), nonce[:]...)
	if _, err := ch.Write(challenge); err != nil {
		return nil, fmt.Errorf("auth: challenge: %w", err)
	}
	msg, err := readMsg(ctx, ch, timeout)
	key := v.key
	switch {
	case errors.Is(err, errAuthTimeout), errors.Is(err, errAuthMalformed):
	case err != nil:
		return nil, fmt.Errorf("auth: %w", err) // the channel is gone: nobody to tell
	case len(msg) > authProofSize && msg[0] == authVersionShare:
		if v.shares == nil {
			err = errAuthNoShare
			break
		}
		p, perr := share.ParsePublic(msg[authProofSize:])
		if perr != nil {
			err = fmt.Errorf("%w: %v", errAuthMalformed, perr)
			break
		}
		s, serr := v.shares.Secret(p)
		if serr != nil {
			err = fmt.Errorf("%w: %v", errAuthMalformed, serr)
			break
		}
		key = authKey(s)
		pub = &p
		want := authMAC(key, nonce, local, remote)
		switch {
		case !macEqual(msg[1:authProofSize], want[:]):
			err = fmt.Errorf("%w (share link %s)", errAuthBadProof, p.ID)
		default:
			switch cerr := v.shares.Check(p); {
			case errors.Is(cerr, share.ErrExpired):
				err = fmt.Errorf("%w (share link %s)", errAuthExpired, p.ID)
			case errors.Is(cerr, share.ErrRevoked):
				err = fmt.Errorf("%w (share link %s)", errAuthRevoked, p.ID)
			case cerr != nil:
				err = cerr
			}
		}
	case len(msg) != authProofSize || msg[0] != authVersion:
		err = errAuthMalformed
	default:
		want := authMAC(key, nonce, local, remote)
		if !macEqual(msg[1:], want[:]) {
			err = errAuthBadProof
		}
	}
	result := []byte{authResultRefused, authReasonRefused}
	switch {
	case err == nil:
		confirm := authConfirm(key, nonce, local, remote)
		result = append([]byte{authResultOK}, confirm[:]...)
	case errors.Is(err, errAuthExpired):
		result[1] = authReasonExpired
	case errors.Is(err, errAuthRevoked):
		result[1] = authReasonRevoked
	}
	if _, werr := ch.Write(result); werr != nil && err == nil {
		err = fmt.Errorf("auth: result: %w", werr)
	}
	if err != nil {
		return nil, err
	}
	return pub, nil
}
