//go:build !js

package connect

import (
	"crypto/hmac"
	"crypto/sha256"
)

// sum256, hmacSum and macEqual are the standard library's natively; the browser build has
// its own (mac_js.go), so that the wasm does not link Go's FIPS 140 module for one MAC.

func sum256(parts ...[]byte) [32]byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func hmacSum(key []byte, msg ...[]byte) [32]byte {
	m := hmac.New(sha256.New, key)
	for _, p := range msg {
		m.Write(p)
	}
	var out [32]byte
	m.Sum(out[:0])
	return out
}

func macEqual(a, b []byte) bool { return hmac.Equal(a, b) }
