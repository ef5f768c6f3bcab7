package relay

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleMessages() []Message {
	pub := make(ed25519.PublicKey, ed25519.PublicKeySize)
	return []Message{
		{Type: MsgChallenge, Challenge: make([]byte, ChallengeSize)},
		{Type: MsgRegister, ID: IDOf(pub), PublicKey: pub, Signature: make([]byte, ed25519.SignatureSize)},
		{Type: MsgRegistered, ID: IDOf(pub)},
		{Type: MsgRequest, Req: 7, Method: "POST", Path: "/api/v1/peers", Client: "127.0.0.1", Body: []byte(`{"type":"offer"}`)},
		{Type: MsgRequest, Req: 1<<32 - 1, Method: "GET", Path: "/api/v1/peers/x/signals", Query: "after=3"},
		{Type: MsgResponse, Req: 7, Status: 201, Header: []Header{{"Content-Type", "application/json"}, {"Retry-After", "1"}}, Body: []byte(`{}`)},
		{Type: MsgResponse, Req: 8, Status: 204},
		{Type: MsgCancel, Req: 9},
		{Type: MsgICEServers, Body: []byte(`{"iceServers":[{"urls":["stun:198.51.100.1:3478"]}],"expires":1}`)},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b, err := m.Marshal()
		require.NoError(t, err, m.Type)
		got, err := ParseMessage(b)
		require.NoError(t, err, m.Type)
		assert.Equal(t, m, got, m.Type)
		for i := range len(b) - len(m.Body) { // every cut before the body is an error, not a panic
			_, err := ParseMessage(b[:i])
			assert.ErrorIs(t, err, ErrBadMessage, "%v cut at %d", m.Type, i)
		}
	}
	_, err := (&Message{Type: MsgRequest, Method: "GET", Body: make([]byte, MaxBody+1)}).Marshal()
	assert.ErrorIs(t, err, ErrBadMessage)
	_, err = ParseMessage(append([]byte{byte(MsgCancel), 0, 0, 0, 1}, 0))
	assert.ErrorIs(t, err, ErrBadMessage, "trailing bytes")
	_, err = ParseMessage([]byte{99})
	assert.ErrorIs(t, err, ErrBadMessage)
}

func FuzzRelayMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		b, _ := m.Marshal()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err != nil {
			return
		}
		// What parses encodes back to a message that parses to the same.
		b2, err := m.Marshal()
		if err != nil {
			t.Fatalf("parsed %v does not marshal: %v", m.Type, err)
		}
		m2, err := ParseMessage(b2)
		if err != nil {
			t.Fatalf("re-encoded %v does not parse: %v", m.Type, err)
		}
		assert.Equal(t, m, m2)
	})
}

func TestIdentity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cfg", "rangecast", "identity.key")
	k1, err := LoadOrCreateIdentity(path)
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	k2, err := LoadOrCreateIdentity(path)
	require.NoError(t, err)
	assert.Equal(t, k1, k2, "the key persists")
	id := IDOf(k1.Public().(ed25519.PublicKey))
	assert.Len(t, id, IDLen)
	assert.True(t, ValidID(id))
	assert.False(t, ValidID("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"))
	entries, _ := os.ReadDir(filepath.Dir(path))
	assert.Len(t, entries, 1, "no temporary file left")

	require.NoError(t, os.Chmod(path, 0o644))
	_, err = LoadOrCreateIdentity(path)
	assert.ErrorContains(t, err, "readable by others")
	require.NoError(t, os.WriteFile(path, []byte("junk"), 0o600))
	_, err = LoadOrCreateIdentity(path)
	assert.Error(t, err)
}
