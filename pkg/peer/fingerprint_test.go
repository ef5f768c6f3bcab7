package peer

import (
	"errors"
	"strings"
	"testing"
)

const testFP = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"

func TestParseFingerprint(t *testing.T) {
	lower := strings.ToLower(testFP)
	other := "00" + testFP[2:]
	ok := []string{
		"v=0\r\na=fingerprint:sha-256 " + testFP + "\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
		"v=0\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=fingerprint:SHA-256 " + lower + "\n",
		// session and media level, the same fingerprint, in either case
		"v=0\r\na=fingerprint:sha-256 " + testFP + "\r\nm=application\r\na=fingerprint:sha-256 " + lower + "\r\n",
	}
	for _, sdp := range ok {
		f, err := ParseFingerprint(sdp)
		if err != nil {
			t.Fatalf("ParseFingerprint(%q): %v", sdp, err)
		}
		if got := f.String(); got != "sha-256 "+testFP {
			t.Errorf("String() = %q", got)
		}
	}
	bad := map[string]string{
		"none":                "v=0\r\nm=application\r\n",
		"empty":               "",
		"sha-1":               "a=fingerprint:sha-1 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01\r\n",
		"sha-256 and sha-512": "a=fingerprint:sha-256 " + testFP + "\r\na=fingerprint:sha-512 " + testFP + ":" + testFP + "\r\n",
		"two different":       "a=fingerprint:sha-256 " + testFP + "\r\nm=application\r\na=fingerprint:sha-256 " + other + "\r\n",
		"short":               "a=fingerprint:sha-256 " + testFP[3:] + "\r\n",
		"not hex":             "a=fingerprint:sha-256 " + strings.Replace(testFP, "AB", "XY", 1) + "\r\n",
		"no separator":        "a=fingerprint:sha-256 " + strings.ReplaceAll(testFP, ":", "-") + "\r\n",
		"no value":            "a=fingerprint:sha-256\r\n",
	}
	for name, sdp := range bad {
		if _, err := ParseFingerprint(sdp); !errors.Is(err, ErrFingerprint) {
			t.Errorf("%s: err = %v, want ErrFingerprint", name, err)
		}
	}
}
