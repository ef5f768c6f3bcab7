//go:build !js

package udpmux

import (
	"testing"

	"github.com/pion/stun/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSTUN(t *testing.T) {
	build := func(setters ...stun.Setter) []byte {
		m, err := stun.Build(setters...)
		require.NoError(t, err)
		return m.Raw
	}
	tests := []struct {
		name        string
		msg         []byte
		msgType     uint16
		username    string // "" for none
		fingerprint bool
	}{
		{
			name:        "check",
			msg:         build(stun.TransactionID, stun.BindingRequest, stun.NewUsername("abcd:efgh"), stun.NewShortTermIntegrity("pw"), stun.Fingerprint),
			msgType:     stunBindingRequest,
			username:    "abcd:efgh",
			fingerprint: true,
		},
		{
			name:     "no fingerprint",
			msg:      build(stun.TransactionID, stun.BindingRequest, stun.NewUsername("abcd:efgh")),
			msgType:  stunBindingRequest,
			username: "abcd:efgh",
		},
		{
			name:        "no username",
			msg:         build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint),
			msgType:     stunBindingRequest,
			fingerprint: true,
		},
		{
			name:        "success response",
			msg:         build(stun.TransactionID, stun.BindingSuccess, &stun.XORMappedAddress{IP: []byte{127, 0, 0, 1}, Port: 9}, stun.Fingerprint),
			msgType:     0x0101,
			fingerprint: true,
		},
		{
			name:        "odd-length username is padded",
			msg:         build(stun.TransactionID, stun.BindingRequest, stun.NewUsername("abcde:f"), stun.Fingerprint),
			msgType:     stunBindingRequest,
			username:    "abcde:f",
			fingerprint: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.True(t, isSTUN(tt.msg))
			info, err := parseSTUN(tt.msg)
			require.NoError(t, err)
			assert.Equal(t, tt.msgType, info.msgType)
			assert.Equal(t, tt.username, string(info.username))
			assert.Equal(t, tt.fingerprint, info.fingerprint)
		})
	}
}

func TestParseSTUNBadFingerprint(t *testing.T) {
	m, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername("abcd:efgh"), stun.Fingerprint)
	require.NoError(t, err)
	msg := m.Raw
	msg[len(msg)-1] ^= 1
	info, err := parseSTUN(msg)
	require.NoError(t, err)
	assert.False(t, info.fingerprint)

	// A FINGERPRINT that is not the last attribute is malformed.
	m, err = stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint, stun.NewUsername("abcd:efgh"))
	require.NoError(t, err)
	_, err = parseSTUN(m.Raw)
	assert.ErrorIs(t, err, errSTUNFingerprint)
}

// TestParseSTUNTruncated feeds every prefix of a check and expects a clean
// error for each: the declared length no longer matches.
func TestParseSTUNTruncated(t *testing.T) {
	msg := bindingRequest(t, "abcd:efgh")
	for n := range len(msg) {
		_, err := parseSTUN(msg[:n])
		assert.Error(t, err, "prefix of %d bytes", n)
	}
}

func TestParseSTUNErrors(t *testing.T) {
	header := func(length uint16) []byte {
		return []byte{0x00, 0x01, byte(length >> 8), byte(length), 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	}
	tests := []struct {
		name string
		msg  []byte
		err  error
	}{
		{"short", header(0)[:19], errSTUNShort},
		{"no cookie", append([]byte{0, 1, 0, 0, 1, 2, 3, 4}, make([]byte, 12)...), errSTUNNotSTUN},
		{"DTLS first byte", append([]byte{0x16, 0xfe, 0xfd, 0}, make([]byte, 30)...), errSTUNNotSTUN},
		{"length not a multiple of 4", append(header(2), 0, 0), errSTUNLength},
		{"length beyond datagram", header(8), errSTUNLength},
		{"trailing bytes", append(header(0), 0, 0, 0, 0), errSTUNLength},
		{"attribute header cut", append(header(4), 0, 6, 0, 8), errSTUNAttrLength},
		{"attribute value overruns", append(header(8), 0, 6, 0, 200, 'a', 'b', 'c', 'd'), errSTUNAttrLength},
		{"attribute length 0xffff", append(header(8), 0, 6, 0xff, 0xff, 'a', 'b', 'c', 'd'), errSTUNAttrLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSTUN(tt.msg)
			assert.ErrorIs(t, err, tt.err)
		})
	}

	// pion/stun refuses to build a USERNAME this long.
	long := append(header(4+600), 0x00, 0x06, 600>>8, 600&0xff)
	long = append(long, make([]byte, 600)...)
	_, err := parseSTUN(long)
	assert.ErrorIs(t, err, errSTUNUsername)

	// A USERNAME after MESSAGE-INTEGRITY is ignored.
	afterMI := append(header(8+8), 0x00, 0x08, 0x00, 0x04, 1, 2, 3, 4, 0x00, 0x06, 0x00, 0x04, 'a', 'b', 'c', 'd')
	info, err := parseSTUN(afterMI)
	require.NoError(t, err)
	assert.Nil(t, info.username)
}

func TestSplitUsername(t *testing.T) {
	tests := []struct {
		username      string
		local, remote string
		ok            bool
	}{
		{"abcd:efgh", "abcd", "efgh", true},
		{"a+/9:Z", "a+/9", "Z", true},
		{"abcd", "", "", false},
		{":efgh", "", "efgh", false},
		{"abcd:", "abcd", "", false},
		{"ab cd:efgh", "ab cd", "efgh", false},
		{"abcd:ef:gh", "abcd", "ef:gh", false},
	}
	for _, tt := range tests {
		t.Run(tt.username, func(t *testing.T) {
			local, remote, ok := splitUsername([]byte(tt.username))
			assert.Equal(t, tt.ok, ok)
			if tt.ok {
				assert.Equal(t, tt.local, string(local))
				assert.Equal(t, tt.remote, string(remote))
			}
			assert.Equal(t, "abcd", string(localUfrag([]byte("abcd:efgh"))))
		})
	}
}

// FuzzParseSTUN checks that parseSTUN never panics, and that whatever it
// accepts pion/stun decodes too, with the same USERNAME and a FINGERPRINT
// pion agrees with.
func FuzzParseSTUN(f *testing.F) {
	for _, u := range []string{"abcd:efgh", "x:y", ""} {
		setters := []stun.Setter{stun.TransactionID, stun.BindingRequest}
		if u != "" {
			setters = append(setters, stun.NewUsername(u))
		}
		setters = append(setters, stun.Fingerprint)
		m, err := stun.Build(setters...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m.Raw)
	}
	f.Add([]byte{0x16, 0xfe, 0xfd})
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := parseSTUN(b)
		if err != nil {
			return
		}
		m := &stun.Message{Raw: append([]byte(nil), b...)}
		if err := m.Decode(); err != nil {
			t.Fatalf("parseSTUN accepted what pion rejects: %v", err)
		}
		u, uerr := m.Get(stun.AttrUsername)
		if info.username == nil {
			if uerr == nil {
				t.Fatalf("pion found USERNAME %q, parseSTUN none", u)
			}
		} else if uerr != nil || string(u) != string(info.username) {
			t.Fatalf("USERNAME: pion %q (%v), parseSTUN %q", u, uerr, info.username)
		}
		if info.fingerprint {
			if err := stun.Fingerprint.Check(m); err != nil {
				t.Fatalf("parseSTUN accepted a FINGERPRINT pion rejects: %v", err)
			}
		}
	})
}
