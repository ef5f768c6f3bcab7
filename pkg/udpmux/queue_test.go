//go:build !js

package udpmux

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQueueGrowsInOrder: the ring grows from initialQueue to its bound
// while wrapped, keeps FIFO order, and refuses past the bound.
func TestQueueGrowsInOrder(t *testing.T) {
	const bound = 100
	q := newQueue(bound)
	from := netip.MustParseAddrPort("127.0.0.1:9")
	next, want := 0, 0
	push := func(k int) {
		for range k {
			require.Equal(t, pushed, q.push([]byte{byte(next)}, from))
			next++
		}
	}
	pop := func(k int) {
		buf := make([]byte, 4)
		for range k {
			n, got, ok, closed := q.pop(buf)
			require.True(t, ok)
			require.False(t, closed)
			assert.Equal(t, from, got)
			assert.Equal(t, []byte{byte(want)}, buf[:n])
			want++
		}
	}
	push(10)
	pop(7) // head moves, so that growth happens while wrapped
	push(bound - 3)
	assert.Equal(t, bound, q.len())
	assert.Equal(t, pushFull, q.push([]byte{0}, from))
	assert.Len(t, q.ring, bound)
	pop(bound)
	_, _, ok, closed := q.pop(make([]byte, 1))
	assert.False(t, ok)
	assert.False(t, closed)

	push(3)
	q.close()
	assert.Equal(t, 0, q.len())
	assert.Equal(t, pushClosed, q.push([]byte{0}, from))
	assert.Equal(t, pushClosed, q.pushBuf(packet{buf: copyPacket([]byte{1}), from: from}))
	_, _, ok, closed = q.pop(make([]byte, 1))
	assert.False(t, ok)
	assert.True(t, closed)
	q.close()
}

func TestCopyPacketSizes(t *testing.T) {
	for _, n := range []int{0, 1, smallPacket, smallPacket + 1, maxPacket} {
		p := make([]byte, n)
		bp := copyPacket(p)
		assert.Len(t, *bp, n)
		freePacket(bp)
	}
}
