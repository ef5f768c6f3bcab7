//go:build js

package signaling

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/peer"
)

// The browser build's JSON (json_js.go) must say what encoding/json says for the daemon and
// the relay: the same JSON for what the client sends, the same values or an error for what
// it receives, good input and bad.

func strp(s string) *string { return &s }
func u16p(i uint16) *uint16 { return &i }

func TestEncodeJSONAsEncodingJSON(t *testing.T) {
	signals := []peer.Signal{
		{Type: peer.SignalOffer, SDP: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=<&>\"\\ é\r\n"},
		{Type: peer.SignalCandidate, Candidate: &peer.ICECandidateInit{
			Candidate: "candidate:1 1 udp 2122260223 10.0.0.2 5000 typ host", SDPMid: strp("0"),
			SDPMLineIndex: u16p(0), UsernameFragment: strp("abcd"),
		}},
		{Type: peer.SignalCandidate, Candidate: &peer.ICECandidateInit{Candidate: "candidate:2 1 udp 1 ::1 9 typ host"}},
		{Type: peer.SignalEndOfCandidates},
	}
	for i, in := range []any{signals[0], signals, signals[1:2], []peer.Signal{}} {
		got, err := encodeJSON(in)
		require.NoError(t, err, "value %d", i)
		want, err := json.Marshal(in)
		require.NoError(t, err)
		var g, w any
		require.NoError(t, json.Unmarshal(got, &g), "value %d: %s", i, got)
		require.NoError(t, json.Unmarshal(want, &w))
		assert.Equal(t, w, g, "value %d: %s", i, got)
	}
	_, err := encodeJSON(map[string]int{"a": 1})
	assert.Error(t, err, "a type the browser build does not send")
}

func TestDecodeJSONAsEncodingJSON(t *testing.T) {
	sig := `{"type":"answer","sdp":"v=0\r\n","extra":[1,{"x":2}],"candidate":{"candidate":"c","sdpMid":"0","sdpMLineIndex":3,"usernameFragment":null}}`
	cases := map[string][]string{
		"create": {
			`{"id":"p1","answer":` + sig + `}`,
			`{"id":"p1"}`, `{}`, `null`, `{"id":null,"answer":null}`,
			`{"id":5}`, `{"id":"p1","answer":"x"}`, `{"id":"p1","answer":[]}`, `[]`, `"x"`, `7`,
			`{"answer":{"type":1}}`, `{"answer":{"candidate":"c"}}`, `{"answer":{"candidate":{"sdpMLineIndex":-1}}}`,
			`{"answer":{"candidate":{"sdpMLineIndex":65536}}}`, `{"answer":{"candidate":{"sdpMLineIndex":65535}}}`,
			`{"answer":{"candidate":{"sdpMLineIndex":1.5}}}`, `{"answer":{"candidate":{"sdpMid":true}}}`,
			`{"id":"p1"`, ``, `{"id":"\ud800"}`,
		},
		"poll": {
			`{"signals":[` + sig + `,{"type":"end-of-candidates"},null],"next":4,"done":true}`,
			`{"signals":[],"next":0,"done":false}`, `{"signals":null}`, `{"next":-3}`,
			`{"signals":{}}`, `{"signals":[1]}`, `{"signals":[[]]}`, `{"next":"4"}`, `{"next":2.5}`,
			`{"next":true}`, `{"done":1}`, `{"done":"true"}`, `{"next":9007199254740992}`,
		},
		"error": {
			`{"code":"daemon_offline","error":"the daemon is not connected"}`, `{"code":1}`, `{"error":{}}`, `{"message":"x"}`,
		},
		"ice": {
			`{"iceServers":[{"urls":["stun:127.0.0.1:3478","turn:127.0.0.1:3478?transport=udp"],"username":"1700000000:d","credential":"c2VjcmV0"}],"expires":1700000000}`,
			`{"iceServers":[]}`, `{"iceServers":[null]}`, `{"iceServers":[{"urls":null}]}`, `{"expires":-1}`,
			`{"iceServers":[{"urls":"stun:x"}]}`, `{"iceServers":[{"urls":[1]}]}`, `{"iceServers":["x"]}`,
			`{"iceServers":[{"username":7}]}`, `{"expires":"1"}`, `{"expires":1.25}`,
		},
	}
	fresh := map[string]func() any{
		"create": func() any { return new(CreateResponse) },
		"poll":   func() any { return new(PollResponse) },
		"error":  func() any { return new(ErrorResponse) },
		"ice":    func() any { return new(ICEResponse) },
	}
	for kind, inputs := range cases {
		for _, in := range inputs {
			t.Run(fmt.Sprintf("%s %s", kind, in), func(t *testing.T) {
				got, want := fresh[kind](), fresh[kind]()
				gerr := decodeJSON([]byte(in), got)
				werr := json.Unmarshal([]byte(in), want)
				if werr != nil {
					assert.Error(t, gerr, "encoding/json: %v", werr)
					return
				}
				require.NoError(t, gerr)
				assert.True(t, reflect.DeepEqual(want, got), "got %+v, encoding/json %+v", got, want)
			})
		}
	}
	assert.Error(t, decodeJSON([]byte(`{}`), new(peer.Signal)), "a type the browser build does not receive")
}
