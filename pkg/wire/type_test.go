package wire_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rangecast/rangecast/pkg/wire"
)

func TestTypeString(t *testing.T) {
	tests := []struct {
		typ     wire.Type
		want    string
		known   bool
		request bool
	}{
		{wire.TypeHello, "HELLO", true, false},
		{wire.TypePing, "PING", true, false},
		{wire.TypePong, "PONG", true, false},
		{wire.TypeGoAway, "GOAWAY", true, false},
		{wire.TypeError, "ERROR", true, false},
		{wire.TypeCredit, "CREDIT", true, false},
		{wire.TypeCancel, "CANCEL", true, false},
		{wire.TypeStat, "STAT", true, true},
		{wire.TypeOpen, "OPEN", true, true},
		{wire.TypeClose, "CLOSE", true, false},
		{wire.TypeList, "LIST", true, true},
		{wire.TypeRead, "READ", true, true},
		{wire.TypeInfo, "INFO", true, false},
		{wire.TypeEntries, "ENTRIES", true, false},
		{wire.TypeData, "DATA", true, false},
		{wire.TypeEnd, "END", true, false},
		{0x00, "Type(0x00)", false, false},
		{0x08, "Type(0x08)", false, false},
		{0x15, "Type(0x15)", false, false},
		{0x24, "Type(0x24)", false, false},
		{0x7f, "Type(0x7f)", false, false},
		{0xff, "Type(0xff)", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.typ.String())
			assert.Equal(t, tt.known, tt.typ.Known())
			assert.Equal(t, tt.request, tt.typ.IsRequest())
		})
	}
}

// TestTypeKnownCount guards against a type being added to the constants but not the name
// table (or the reverse).
func TestTypeKnownCount(t *testing.T) {
	known := 0
	for v := range 256 {
		if wire.Type(v).Known() {
			known++
		}
	}
	assert.Equal(t, 16, known)
}

func TestStatusString(t *testing.T) {
	tests := []struct {
		status wire.Status
		want   string
	}{
		{wire.StatusOK, "ok"},
		{wire.StatusNotFound, "not found"},
		{wire.StatusForbidden, "forbidden"},
		{wire.StatusInvalidPath, "invalid path"},
		{wire.StatusNotRegular, "not a regular file"},
		{wire.StatusNotDirectory, "not a directory"},
		{wire.StatusPreconditionFailed, "precondition failed (file changed)"},
		{wire.StatusRangeInvalid, "range not satisfiable"},
		{wire.StatusTooManyStreams, "too many streams"},
		{wire.StatusTooManyHandles, "too many handles"},
		{wire.StatusBadHandle, "bad handle"},
		{wire.StatusCanceled, "canceled"},
		{wire.StatusTooLarge, "request too large"},
		{wire.StatusIO, "i/o error"},
		{wire.StatusGoingAway, "going away"},
		{wire.StatusBadRequest, "bad request"},
		{16, "status(16)"},
		{0xffff, "status(65535)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.status.String())
		})
	}
}

func TestErrorCodeString(t *testing.T) {
	tests := []struct {
		code wire.ErrorCode
		want string
	}{
		{wire.CodeNoError, "no error"},
		{wire.CodeProtocol, "protocol error"},
		{wire.CodeFrameSize, "frame size error"},
		{wire.CodeFlowControl, "flow control error"},
		{wire.CodeStreamState, "stream state error"},
		{wire.CodeVersion, "version mismatch"},
		{wire.CodeInternal, "internal error"},
		{wire.CodeShutdown, "shutdown"},
		{wire.CodeLimitExceeded, "limit exceeded"},
		{wire.CodeRevoked, "revoked"},
		{wire.CodeExpired, "expired"},
		{11, "code(11)"},
		{0xffff, "code(65535)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.code.String())
		})
	}
}
