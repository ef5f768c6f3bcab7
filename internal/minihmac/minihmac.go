// Package minihmac is HMAC-SHA256 (RFC 2104, FIPS 180-4) in plain Go for the browser build.
//
// crypto/hmac and crypto/sha256 pull Go's FIPS 140 module into a GOOS=js binary (AES, GCM, a
// DRBG, SHA-3, SHA-512: +55 KB of gzipped wasm as of Go 1.26), for the one MAC the browser
// client computes per connection (pkg/connect's authentication). This is the portable SHA-256
// compression function and the HMAC construction, nothing else; its tests check it against
// the standard library and RFC 4231. Native code uses crypto/hmac. The computation has no
// branch or memory access that depends on the data, only on its length.
package minihmac

import "encoding/binary"

const (
	size      = 32
	blockSize = 64
)

var k = [64]uint32{
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

// digest is a SHA-256 state.
type digest struct {
	h   [8]uint32
	x   [blockSize]byte
	nx  int
	len uint64
}

func (d *digest) reset() {
	d.h = [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}
	d.nx = 0
	d.len = 0
}

func (d *digest) write(p []byte) {
	d.len += uint64(len(p))
	if d.nx > 0 {
		n := copy(d.x[d.nx:], p)
		d.nx += n
		p = p[n:]
		if d.nx == blockSize {
			d.block(d.x[:])
			d.nx = 0
		}
	}
	for len(p) >= blockSize {
		d.block(p[:blockSize])
		p = p[blockSize:]
	}
	if len(p) > 0 {
		d.nx = copy(d.x[:], p)
	}
}

func (d *digest) sum() [size]byte {
	n := d.len
	var pad [blockSize + 8]byte
	pad[0] = 0x80
	padLen := blockSize - int((n+8)%blockSize) // 1 to 64 bytes: 0x80 and zeros
	binary.BigEndian.PutUint64(pad[padLen:], n<<3)
	d.write(pad[:padLen+8])
	var out [size]byte
	for i, v := range d.h {
		binary.BigEndian.PutUint32(out[4*i:], v)
	}
	return out
}

func rotr(x uint32, n uint) uint32 { return x>>n | x<<(32-n) }

// block runs the compression function on one 64-byte block.
func (d *digest) block(p []byte) {
	var w [64]uint32
	for i := range 16 {
		w[i] = binary.BigEndian.Uint32(p[4*i:])
	}
	for i := 16; i < 64; i++ {
		v1, v2 := w[i-2], w[i-15]
		s1 := rotr(v1, 17) ^ rotr(v1, 19) ^ v1>>10
		s0 := rotr(v2, 7) ^ rotr(v2, 18) ^ v2>>3
		w[i] = s1 + w[i-7] + s0 + w[i-16]
	}
	a, b, c, dd, e, f, g, h := d.h[0], d.h[1], d.h[2], d.h[3], d.h[4], d.h[5], d.h[6], d.h[7]
	for i := range 64 {
		t1 := h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + (e&f ^ ^e&g) + k[i] + w[i]
		t2 := (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + (a&b ^ a&c ^ b&c)
		h, g, f, e, dd, c, b, a = g, f, e, dd+t1, c, b, a, t1+t2
	}
	d.h[0] += a
	d.h[1] += b
	d.h[2] += c
	d.h[3] += dd
	d.h[4] += e
	d.h[5] += f
	d.h[6] += g
	d.h[7] += h
}

// Sum256 returns the SHA-256 digest of the concatenation of parts.
func Sum256(parts ...[]byte) [size]byte {
	var d digest
	d.reset()
	for _, p := range parts {
		d.write(p)
	}
	return d.sum()
}

// Sum returns HMAC-SHA256(key, the concatenation of msg).
func Sum(key []byte, msg ...[]byte) [size]byte {
	var k0 [blockSize]byte
	if len(key) > blockSize {
		h := Sum256(key)
		copy(k0[:], h[:])
	} else {
		copy(k0[:], key)
	}
	var ipad, opad [blockSize]byte
	for i := range k0 {
		ipad[i] = k0[i] ^ 0x36
		opad[i] = k0[i] ^ 0x5c
	}
	inner := Sum256(append([][]byte{ipad[:]}, msg...)...)
	return Sum256(opad[:], inner[:])
}

// Equal reports whether a and b are equal, in time that depends only on their lengths.
func Equal(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := range a {
		v |= a[i] ^ b[i]
	}
	return v == 0
}
