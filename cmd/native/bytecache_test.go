package main

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The cache gives back exactly the bytes added at each offset, wherever the additions
// overlap, and never holds more than its bound, dropping what was used least recently.
func TestByteCache(t *testing.T) {
	data := make([]byte, 8<<20)
	_, _ = rand.NewChaCha8([32]byte{3}).Read(data)
	c := newByteCache(3 << 20)
	add := func(off, n int) { c.add("k", data[off:off+n], int64(off)) }
	// cached reports how many bytes from off are cached, checking them.
	cached := func(off int) int {
		n := 0
		for {
			p := make([]byte, 100<<10)
			k := c.read("k", p, int64(off+n))
			if k == 0 {
				return n
			}
			assert.Equal(t, data[off+n:off+n+k], p[:k], "bytes at %d", off+n)
			n += k
		}
	}
	add(1000, 32<<10)
	add(1000+32<<10, 32<<10) // grows the extent
	add(500, 2000)           // overlaps its start
	add(60000, 100000)       // overlaps its end
	assert.Equal(t, 160000-500, cached(500))
	assert.Zero(t, cached(499))
	assert.Zero(t, c.read("other", make([]byte, 10), 1000), "another key")
	assert.Equal(t, int64(160000-500), c.size)

	// 3 MiB more, from 4 MiB: the cache holds at most 3 MiB, and the oldest go first.
	for off := 4 << 20; off < 7<<20; off += 256 << 10 {
		add(off, 256<<10)
	}
	assert.LessOrEqual(t, c.size, int64(3<<20))
	assert.Zero(t, cached(500), "the least recently used extent, dropped")
	assert.Equal(t, int(c.size), cached(7<<20-int(c.size)), "the newest bytes, kept")
}
