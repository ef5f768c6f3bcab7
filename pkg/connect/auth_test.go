package connect

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/rangecast/rangecast/pkg/peer"
)

// The exchange over an in-memory message pipe: these tests also run under Node, where the
// MAC is internal/minihmac's.

// pipeToken is the daemon's token in these tests.
const pipeToken = "s3cret-token"

// msgPipe is one end of an in-memory, message-preserving pipe.
type msgPipe struct {
	in, out chan []byte
	done    chan struct{}
	sent    [][]byte // what this end wrote, in order
}

func newMsgPipe() (a, b *msgPipe) {
	ab, ba, done := make(chan []byte, 16), make(chan []byte, 16), make(chan struct{})
	return &msgPipe{in: ba, out: ab, done: done}, &msgPipe{in: ab, out: ba, done: done}
}

func (p *msgPipe) Read(b []byte) (int, error) {
	select {
	case m := <-p.in:
		if len(m) > len(b) {
			return 0, io.ErrShortBuffer // the real Channel keeps it; nobody reads it again here
		}
		return copy(b, m), nil
	case <-p.done:
		return 0, io.EOF
	}
}

func (p *msgPipe) Write(b []byte) (int, error) {
	m := bytes.Clone(b)
	p.sent = append(p.sent, m)
	select {
	case p.out <- m:
		return len(b), nil
	case <-p.done:
		return 0, io.ErrClosedPipe
	}
}

var (
	fpDaemon = peer.Fingerprint{0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd}
	fpClient = peer.Fingerprint{0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc}
)

func nonceOf(b byte) *[32]byte {
	var n [32]byte
	for i := range n {
		n[i] = b + byte(i)
	}
	return &n
}

type exchange struct {
	clientErr, daemonErr error
	client, daemon       *msgPipe
}

// runExchange runs both sides over a pipe: the client with token and the fingerprints it
// sees (its own, the daemon's), the daemon with pipeToken, fpDaemon and fpClient.
func runExchange(t *testing.T, token string, clientLocal, clientRemote peer.Fingerprint, nonce *[32]byte) exchange {
	t.Helper()
	c, d := newMsgPipe()
	errc := make(chan error, 1)
	go func() {
		errc <- checkTokenOnly(context.Background(), d, deriveAuthKey(pipeToken), fpDaemon, fpClient, nonce, 5*time.Second)
	}()
	cerr := proveToken(context.Background(), c, token, clientLocal, clientRemote, 5*time.Second)
	derr := <-errc
	close(c.done)
	return exchange{clientErr: cerr, daemonErr: derr, client: c, daemon: d}
}

func TestAuthAccepts(t *testing.T) {
	x := runExchange(t, pipeToken, fpClient, fpDaemon, nonceOf(1))
	if x.clientErr != nil || x.daemonErr != nil {
		t.Fatalf("client: %v, daemon: %v", x.clientErr, x.daemonErr)
	}
	if len(x.daemon.sent) != 2 || len(x.daemon.sent[0]) != authChallengeSize || len(x.daemon.sent[1]) != authResultSize || x.daemon.sent[1][0] != authResultOK {
		t.Errorf("daemon sent %x", x.daemon.sent)
	}
	if len(x.client.sent) != 1 || len(x.client.sent[0]) != authProofSize || x.client.sent[0][0] != authVersion {
		t.Errorf("client sent %x", x.client.sent)
	}
}

// refused checks that the daemon refused with want and the client saw CodeUnauthorized.
func (x exchange) refused(t *testing.T, want error) {
	t.Helper()
	if !errors.Is(x.daemonErr, want) {
		t.Errorf("daemon: %v, want %v", x.daemonErr, want)
	}
	if CodeOf(x.clientErr) != CodeUnauthorized || !errors.Is(x.clientErr, ErrAuthRefused) {
		t.Errorf("client: %v (code %q), want %q", x.clientErr, CodeOf(x.clientErr), CodeUnauthorized)
	}
	if n := len(x.daemon.sent); n == 0 || !bytes.Equal(x.daemon.sent[n-1], []byte{authResultRefused, authReasonRefused}) {
		t.Errorf("daemon's last message %x, want the refusal", x.daemon.sent)
	}
}

func TestAuthWrongToken(t *testing.T) {
	runExchange(t, "s3cret-tokem", fpClient, fpDaemon, nonceOf(1)).refused(t, errAuthBadProof)
	runExchange(t, "", fpClient, fpDaemon, nonceOf(1)).refused(t, errAuthBadProof)
}

// The proof covers both fingerprints, in their places: a client that sees another daemon
// fingerprint (a relay answered in the daemon's place) or another of its own, or the two
// swapped, is refused.
func TestAuthFingerprintsBound(t *testing.T) {
	other := fpDaemon
	other[31] ^= 1
	runExchange(t, pipeToken, fpClient, other, nonceOf(1)).refused(t, errAuthBadProof)
	runExchange(t, pipeToken, other, fpDaemon, nonceOf(1)).refused(t, errAuthBadProof)
	runExchange(t, pipeToken, fpDaemon, fpClient, nonceOf(1)).refused(t, errAuthBadProof)
}

// A proof recorded from one exchange does not pass another with a new nonce, even with the
// same two certificates on both ends.
func TestAuthReplay(t *testing.T) {
	first := runExchange(t, pipeToken, fpClient, fpDaemon, nonceOf(1))
	if first.clientErr != nil || first.daemonErr != nil {
		t.Fatalf("first exchange: client %v, daemon %v", first.clientErr, first.daemonErr)
	}
	recorded := first.client.sent[0]

	c, d := newMsgPipe()
	defer close(c.done)
	errc := make(chan error, 1)
	go func() {
		errc <- checkTokenOnly(context.Background(), d, deriveAuthKey(pipeToken), fpDaemon, fpClient, nonceOf(2), 5*time.Second)
	}()
	challenge := make([]byte, 64)
	n, err := c.Read(challenge)
	if err != nil || n != authChallengeSize {
		t.Fatalf("challenge: %d bytes, %v", n, err)
	}
	if _, err := c.Write(recorded); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, errAuthBadProof) {
		t.Fatalf("replayed proof: daemon says %v, want a refusal", err)
	}
}

// Anything but a 33-byte proof of version 1 is refused, and so is silence.
func TestAuthMalformedAndSilent(t *testing.T) {
	for name, proof := range map[string][]byte{
		"empty":           {},
		"short":           make([]byte, authProofSize-1),
		"long":            make([]byte, authProofSize+1),
		"too long":        make([]byte, 1000),
		"version 2":       append([]byte{2}, make([]byte, 32)...),
		"a rangefs hello": {0x01, 0, 0, 0, 0, 0, 0, 0, 0, 26},
	} {
		c, d := newMsgPipe()
		errc := make(chan error, 1)
		go func() {
			errc <- checkTokenOnly(context.Background(), d, deriveAuthKey(pipeToken), fpDaemon, fpClient, nonceOf(1), 5*time.Second)
		}()
		_, _ = c.Read(make([]byte, 64))
		_, _ = c.Write(proof)
		if err := <-errc; !errors.Is(err, errAuthMalformed) {
			t.Errorf("%s: %v, want errAuthMalformed", name, err)
		}
		if n := len(d.sent); n != 2 || !bytes.Equal(d.sent[1], []byte{authResultRefused, authReasonRefused}) {
			t.Errorf("%s: daemon sent %x", name, d.sent)
		}
		close(c.done)
	}

	c, d := newMsgPipe()
	defer close(c.done)
	start := time.Now()
	err := checkTokenOnly(context.Background(), d, deriveAuthKey(pipeToken), fpDaemon, fpClient, nonceOf(1), 50*time.Millisecond)
	if !errors.Is(err, errAuthTimeout) || time.Since(start) > 2*time.Second {
		t.Errorf("silent client: %v after %v", err, time.Since(start))
	}
	if n := len(d.sent); n != 2 || !bytes.Equal(d.sent[1], []byte{authResultRefused, authReasonRefused}) {
		t.Errorf("silent client: daemon sent %x", d.sent)
	}
}

// The client refuses a challenge of another version or size without answering it.
func TestAuthBadChallenge(t *testing.T) {
	c, d := newMsgPipe()
	defer close(c.done)
	_, _ = d.Write(append([]byte{2}, make([]byte, 32)...))
	err := proveToken(context.Background(), c, pipeToken, fpClient, fpDaemon, time.Second)
	if CodeOf(err) != CodeProtocol || len(c.sent) != 0 {
		t.Errorf("err %v (code %q), client sent %x", err, CodeOf(err), c.sent)
	}
}

// A fixed vector, computed independently (Python's hmac and hashlib), so that the layout
// documented in docs/PROTOCOL.md is the one implemented.
func TestAuthVector(t *testing.T) {
	var nonce [32]byte
	for i := range nonce {
		nonce[i] = byte(i)
	}
	key := deriveAuthKey("s3cret-token")
	if got := hex.EncodeToString(key[:]); got != "f564d1896a03ad40156f6fa58132f83fab9bc94123c8232579a1f8013f06f136" {
		t.Errorf("key %s", got)
	}
	mac := authMAC(key, &nonce, fpDaemon, fpClient)
	if got := hex.EncodeToString(mac[:]); got != "d45ad9bcd48ede64a6ae23263135fb7f6eaee337be64867da269095392dcecf3" {
		t.Errorf("mac %s", got)
	}
	confirm := authConfirm(key, &nonce, fpDaemon, fpClient)
	if got := hex.EncodeToString(confirm[:]); got != "30229f415cd4ca79f8c5c1c79026a77d419d466c6676d97e6991498e508a539d" {
		t.Errorf("confirm %s", got)
	}
}

// Someone answering in the daemon's place, without the token, cannot accept a proof: an
// acceptance without the right confirmation (none, one for other fingerprints, the client's
// own mac reflected) fails the client with ErrAuthDaemon.
func TestAuthImpostorDaemon(t *testing.T) {
	key := deriveAuthKey(pipeToken)
	otherFP := fpDaemon
	otherFP[0] ^= 1
	forOther := authConfirm(key, nonceOf(1), otherFP, fpClient)
	reflected := authMAC(key, nonceOf(1), fpDaemon, fpClient)
	for name, result := range map[string][]byte{
		"bare accept":         {authResultOK},
		"zero confirmation":   make([]byte, authResultSize),
		"other fingerprints":  append([]byte{authResultOK}, forOther[:]...),
		"the client's mac":    append([]byte{authResultOK}, reflected[:]...),
		"a longer acceptance": append([]byte{authResultOK}, make([]byte, 40)...),
	} {
		c, d := newMsgPipe()
		_, _ = d.Write(append([]byte{authVersion}, nonceOf(1)[:]...))
		_, _ = d.Write(result)
		err := proveToken(context.Background(), c, pipeToken, fpClient, fpDaemon, time.Second)
		if CodeOf(err) != CodeProtocol || !errors.Is(err, ErrAuthDaemon) {
			t.Errorf("%s: %v (code %q), want ErrAuthDaemon", name, err, CodeOf(err))
		}
		close(c.done)
	}
}

// checkTokenOnly is checkToken for a daemon that takes no share links.
func checkTokenOnly(ctx context.Context, ch io.ReadWriter, key authKey, local, remote peer.Fingerprint, nonce *[32]byte, timeout time.Duration) error {
	_, err := checkToken(ctx, ch, verifier{key: key}, local, remote, nonce, timeout)
	return err
}
