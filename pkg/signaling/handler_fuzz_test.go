//go:build !js

package signaling

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rangecast/rangecast/pkg/peer"
)

// Fuzz operations: what the fuzzed bytes are.
const (
	fuzzOfferBody     = iota // the whole body of POST …/peers
	fuzzOfferSDP             // the SDP of an offer in POST …/peers
	fuzzSignalsBody          // the whole body of POST …/peers/{id}/signals, for a fresh peer
	fuzzCandidateLine        // one candidate's line in POST …/peers/{id}/signals
	fuzzPollAfter            // the after= query of GET …/peers/{id}/signals
	fuzzOps
)

// knownCodes are the codes an error answer may carry.
var knownCodes = map[string]bool{
	CodeUnauthorized: true, CodeTooManyPeers: true, CodeBadRequest: true, CodeTooLarge: true,
	CodeNotFound: true, CodeTimeout: true, CodeShuttingDown: true, CodeMethod: true,
	CodeInternal: true, CodeRateLimited: true,
}

// FuzzHandlerInput feeds arbitrary bytes to the signaling endpoints of a real Handler, called
// directly (no TCP): offers as whole JSON bodies and as SDP, candidates as JSON bodies and as
// candidate lines, and the poll's after= query. Every answer must be a 2xx with the JSON its
// endpoint documents, or an error with a JSON body and a known code; never a 5xx but 503 at
// the peer limit; no panic. When the run ends, Close must leave no peer and no goroutine.
//
// The remote IP filter of loopbackPeer keeps connectivity checks on loopback whatever the
// candidates say; run it in a loopback-only network namespace all the same (a candidate may
// name a host to resolve).
func FuzzHandlerInput(f *testing.F) {
	leaks := goleak.IgnoreCurrent()
	offer := offerSDP(f)
	offerJSON, err := json.Marshal(offer)
	if err != nil {
		f.Fatal(err)
	}
	cand := candidate(9)
	candJSON, err := json.Marshal([]peer.Signal{cand, {Type: peer.SignalEndOfCandidates}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(fuzzOfferBody), offerJSON)
	f.Add(uint8(fuzzOfferBody), []byte(`{"type":"offer","sdp":""}`))
	f.Add(uint8(fuzzOfferBody), []byte(`{"type":"answer","sdp":"v=0"}`))
	f.Add(uint8(fuzzOfferSDP), []byte(offer.SDP))
	f.Add(uint8(fuzzOfferSDP), []byte("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"))
	f.Add(uint8(fuzzSignalsBody), candJSON)
	f.Add(uint8(fuzzSignalsBody), []byte(`[{"type":"offer","sdp":"v=0"}]`))
	f.Add(uint8(fuzzSignalsBody), []byte(`[{"type":"candidate"}]`))
	f.Add(uint8(fuzzCandidateLine), []byte(cand.Candidate.Candidate))
	f.Add(uint8(fuzzCandidateLine), []byte("candidate:1 1 tcp 1 127.0.0.1 9 typ srflx raddr 127.0.0.1 rport 0"))
	f.Add(uint8(fuzzPollAfter), []byte("0"))
	f.Add(uint8(fuzzPollAfter), []byte("99999999999999999999"))
	f.Add(uint8(fuzzPollAfter), []byte("-1"))

	h, err := NewHandler(HandlerOptions{
		Token: testToken, Peer: answererPeer, OnConnect: echo,
		MaxPeers: 8, SetupTimeout: 2 * time.Second, PollTimeout: 10 * time.Millisecond,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		_ = h.Close()
		if n := h.Peers(); n != 0 {
			f.Errorf("%d peers left after Close", n)
		}
		goleak.VerifyNone(f, leaks)
	})

	serve := func(t *testing.T, method, target string, body []byte) (int, []byte) {
		t.Helper()
		req := httptest.NewRequest(method, target, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code, w.Body.Bytes()
	}
	// check applies the invariants to one answer; want is what a 2xx body must decode into.
	check := func(t *testing.T, what string, code int, body []byte, want any) {
		t.Helper()
		if code >= 500 && code != http.StatusServiceUnavailable {
			t.Fatalf("%s: HTTP %d: %s", what, code, body)
		}
		if code >= 400 {
			var e ErrorResponse
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("%s: HTTP %d with a body that is not JSON: %q", what, code, body)
			}
			if !knownCodes[e.Code] {
				t.Fatalf("%s: HTTP %d with unknown code %q", what, code, e.Code)
			}
			if code == http.StatusServiceUnavailable && e.Code != CodeTooManyPeers {
				t.Fatalf("%s: HTTP 503 with code %q, want %q", what, e.Code, CodeTooManyPeers)
			}
			return
		}
		if code == http.StatusNoContent {
			if len(body) != 0 {
				t.Fatalf("%s: 204 with a body: %q", what, body)
			}
			return
		}
		if code < 200 || code >= 300 || want == nil {
			t.Fatalf("%s: unexpected HTTP %d: %s", what, code, body)
		}
		if err := json.Unmarshal(body, want); err != nil {
			t.Fatalf("%s: HTTP %d with a body that is not the expected JSON: %q", what, code, body)
		}
	}
	// create posts an offer body and checks the answer; it returns the peer's id if one was made.
	create := func(t *testing.T, body []byte) string {
		t.Helper()
		code, b := serve(t, "POST", APIPrefix+"peers", body)
		var cr CreateResponse
		check(t, "POST peers", code, b, &cr)
		if code != http.StatusCreated {
			return ""
		}
		if cr.ID == "" || cr.Answer.Type != peer.SignalAnswer || cr.Answer.SDP == "" {
			t.Fatalf("POST peers: 201 without an id and an answer: %s", b)
		}
		return cr.ID
	}
	// drop deletes a peer so that the next iterations find a free slot.
	drop := func(t *testing.T, id string) {
		t.Helper()
		code, b := serve(t, "DELETE", APIPrefix+"peers/"+id, nil)
		if code != http.StatusNoContent && code != http.StatusNotFound {
			t.Fatalf("DELETE peer: HTTP %d: %s", code, b)
		}
	}
	// fresh makes a peer from the real offer for the signal endpoints; the peer limit or a
	// slow machine may refuse it, then the iteration has nothing to test.
	fresh := func(t *testing.T) string {
		t.Helper()
		return create(t, offerJSON)
	}

	f.Fuzz(func(t *testing.T, op uint8, data []byte) {
		switch op % fuzzOps {
		case fuzzOfferBody:
			if id := create(t, data); id != "" {
				drop(t, id)
			}
		case fuzzOfferSDP:
			body, err := json.Marshal(peer.Signal{Type: peer.SignalOffer, SDP: string(data)})
			if err != nil {
				t.Fatal(err)
			}
			if id := create(t, body); id != "" {
				drop(t, id)
			}
		case fuzzSignalsBody, fuzzCandidateLine:
			id := fresh(t)
			if id == "" {
				return
			}
			defer drop(t, id)
			body := data
			if op%fuzzOps == fuzzCandidateLine {
				var err error
				body, err = json.Marshal([]peer.Signal{{Type: peer.SignalCandidate, Candidate: &peer.ICECandidateInit{
					Candidate: string(data), SDPMid: ptr("0"),
				}}})
				if err != nil {
					t.Fatal(err)
				}
			}
			code, b := serve(t, "POST", APIPrefix+"peers/"+id+"/signals", body)
			check(t, "POST signals", code, b, nil)
		case fuzzPollAfter:
			id := fresh(t)
			if id == "" {
				return
			}
			defer drop(t, id)
			target := APIPrefix + "peers/" + id + "/signals?after=" + string(data)
			if _, err := url.ParseRequestURI(target); err != nil || strings.ContainsAny(string(data), " #\x7f") || hasCTL(data) {
				target = APIPrefix + "peers/" + id + "/signals?after=" + url.QueryEscape(string(data))
			}
			code, b := serve(t, "GET", target, nil)
			var pr PollResponse
			check(t, fmt.Sprintf("GET signals?after=%q", data), code, b, &pr)
			if code == http.StatusOK && pr.Next < 0 {
				t.Fatalf("poll: next %d", pr.Next)
			}
		}
	})
}

func hasCTL(b []byte) bool { return bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 }) }
