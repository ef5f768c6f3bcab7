package peer

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestControlMessageLayout pins the control channel's bytes as docs/PROTOCOL.md gives them:
// third-party peers implement them from there.
func TestControlMessageLayout(t *testing.T) {
	assert.Equal(t, "rangecast-control", controlLabel)
	assert.Equal(t, uint16(0), controlID)
	assert.Equal(t, 1024, controlMaxMessage)
	assert.Equal(t, []byte("\x01"+"\x00\x00\x00\x00\x00\x00\x01\x02"), appendPing(nil, controlPing, 0x0102))
	assert.Equal(t, []byte("\x02"+"\xff\xff\xff\xff\xff\xff\xff\xfe"), appendPing(nil, controlPong, 1<<64-2))
	// appendPing appends.
	assert.Equal(t, []byte("junk"+"\x01"+"\x00\x00\x00\x00\x00\x00\x00\x07"), appendPing([]byte("junk"), controlPing, 7))
}
