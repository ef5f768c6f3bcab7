package main

import (
	"sort"
	"sync"
)

// byteCache keeps the bytes the http gateway read of remote files, for the requests that
// follow: what the kernel's page cache does for the mount. A player opening a film over
// HTTP reads its start, its index and its start again, each in a request of its own, and
// every new ffmpeg does it all over; with the cache only the first fetches them. Bytes are
// kept per path and ETag, so a file changed on the daemon is read anew and never mixed
// with what was cached of the old version; at most max bytes in all, in extents of up to
// extentMax bytes, the least recently used dropped first.
type byteCache struct {
	max int64

	mu    sync.Mutex
	size  int64
	tick  uint64
	files map[string][]*extent // by key, sorted by offset, not overlapping
}

// extent is a run of cached bytes of one file.
type extent struct {
	off  int64
	b    []byte
	used uint64 // the cache's tick when last read or written
}

func (e *extent) end() int64 { return e.off + int64(len(e.b)) }

const extentMax = 1 << 20

func newByteCache(max int64) *byteCache {
	return &byteCache{max: max, files: map[string][]*extent{}}
}

// cacheKey names one version of a file.
func cacheKey(path, etag string) string { return path + "\x00" + etag }

// read copies into p the cached bytes of key from off on, up to the end of the extent
// that holds off, and returns how many it copied: 0 if off is not cached.
func (c *byteCache) read(key string, p []byte, off int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	es := c.files[key]
	i := sort.Search(len(es), func(i int) bool { return es[i].end() > off })
	if i == len(es) || es[i].off > off {
		return 0
	}
	c.tick++
	es[i].used = c.tick
	return copy(p, es[i].b[off-es[i].off:])
}

// add caches b, the bytes of key at off (it keeps no reference to b).
func (c *byteCache) add(key string, b []byte, off int64) {
	if c.max <= 0 || len(b) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick++
	for len(b) > 0 {
		es := c.files[key]
		i := sort.Search(len(es), func(i int) bool { return es[i].end() > off })
		if i < len(es) && es[i].off <= off {
			// Cached already: skip it.
			k := min(int64(len(b)), es[i].end()-off)
			b, off = b[k:], off+k
			continue
		}
		n := int64(len(b))
		if i < len(es) {
			n = min(n, es[i].off-off) // up to the next extent
		}
		if i > 0 && es[i-1].end() == off && len(es[i-1].b) < extentMax {
			// Grow the extent that ends here.
			e := es[i-1]
			n = min(n, int64(extentMax-len(e.b)))
			e.b = append(e.b, b[:n]...)
			e.used = c.tick
		} else {
			n = min(n, extentMax)
			e := &extent{off: off, b: append([]byte(nil), b[:n]...), used: c.tick}
			es = append(es, nil)
			copy(es[i+1:], es[i:])
			es[i] = e
			c.files[key] = es
		}
		c.size += n
		b, off = b[n:], off+n
	}
	c.evict()
}

// evict drops the least recently used extents until the cache holds at most max bytes.
func (c *byteCache) evict() {
	for c.size > c.max {
		var lk string
		li := -1
		for k, es := range c.files {
			for i, e := range es {
				if li < 0 || e.used < c.files[lk][li].used {
					lk, li = k, i
				}
			}
		}
		es := c.files[lk]
		c.size -= int64(len(es[li].b))
		es = append(es[:li], es[li+1:]...)
		if len(es) == 0 {
			delete(c.files, lk)
		} else {
			c.files[lk] = es
		}
	}
}
