package minihmac

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// Every length around the block and padding boundaries, split at every place.
func TestSum256MatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 300 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		want := sha256.Sum256(b)
		if got := Sum256(b); got != want {
			t.Fatalf("len %d: %x, want %x", n, got, want)
		}
		cut := r.IntN(n + 1)
		if got := Sum256(b[:cut], nil, b[cut:]); got != want {
			t.Fatalf("len %d cut at %d: %x, want %x", n, cut, got, want)
		}
	}
}

func TestSumMatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		key := make([]byte, r.IntN(200))
		msg := make([]byte, r.IntN(300))
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		for i := range msg {
			msg[i] = byte(r.Uint32())
		}
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		want := m.Sum(nil)
		cut := r.IntN(len(msg) + 1)
		got := Sum(key, msg[:cut], msg[cut:])
		if !hmac.Equal(got[:], want) {
			t.Fatalf("key %d bytes, msg %d bytes: %x, want %x", len(key), len(msg), got, want)
		}
	}
}

// RFC 4231, test cases 1, 2 and 6 (a key longer than the block).
func TestSumRFC4231(t *testing.T) {
	rep := func(b byte, n int) []byte {
		s := make([]byte, n)
		for i := range s {
			s[i] = b
		}
		return s
	}
	for _, tc := range []struct {
		key, msg []byte
		want     string
	}{
		{rep(0x0b, 20), []byte("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{[]byte("Jefe"), []byte("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{rep(0xaa, 131), []byte("Test Using Larger Than Block-Size Key - Hash Key First"), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
	} {
		got := Sum(tc.key, tc.msg)
		if hex.EncodeToString(got[:]) != tc.want {
			t.Errorf("HMAC(%q) = %x, want %s", tc.msg, got, tc.want)
		}
	}
}

func TestEqual(t *testing.T) {
	if !Equal([]byte("abc"), []byte("abc")) || Equal([]byte("abc"), []byte("abd")) || Equal([]byte("ab"), []byte("abc")) {
		t.Fatal("Equal is wrong")
	}
}
