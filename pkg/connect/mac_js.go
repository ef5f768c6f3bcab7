package connect

import "github.com/rangecast/rangecast/internal/minihmac"

// The browser build's SHA-256 and HMAC: see mac.go.

func sum256(parts ...[]byte) [32]byte { return minihmac.Sum256(parts...) }

func hmacSum(key []byte, msg ...[]byte) [32]byte { return minihmac.Sum(key, msg...) }

func macEqual(a, b []byte) bool { return minihmac.Equal(a, b) }
