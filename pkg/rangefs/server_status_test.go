package rangefs

import (
	"fmt"
	"io/fs"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rangecast/rangecast/pkg/wire"
)

// TestStatusOf checks the one conversion from how a request ended to what its END carries.
func TestStatusOf(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus wire.Status
		wantMsg    string
	}{
		{"nil is OK", nil, wire.StatusOK, ""},
		{"status error", statusErrorf(wire.StatusBadHandle, "no such handle %d", 7), wire.StatusBadHandle, "no such handle 7"},
		{"status error without message", errCanceled, wire.StatusCanceled, ""},
		{"wrapped status error", fmt.Errorf("serving: %w", errNotDirectory), wire.StatusNotDirectory, "not a directory"},
		{"CheckPath", CheckPath("stat", "../x"), wire.StatusInvalidPath, "path must be relative, slash-separated, without . or .. elements"},
		{"not exist", &fs.PathError{Op: "stat", Path: "/srv/secret/x", Err: fs.ErrNotExist}, wire.StatusNotFound, "no such file or directory"},
		{"permission", &fs.PathError{Op: "open", Path: "/srv/secret/x", Err: os.ErrPermission}, wire.StatusForbidden, "permission denied"},
		{"anything else", fmt.Errorf("disk on fire"), wire.StatusIO, "i/o error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, msg := statusOf(tt.err)
			assert.Equal(t, tt.wantStatus, status)
			assert.Equal(t, tt.wantMsg, msg)
			assert.Equal(t, &wire.End{Status: tt.wantStatus, Message: tt.wantMsg}, endFrame(tt.err))
		})
	}
}

// A StatusError made inside the server names no operation or path.
func TestStatusErrorWithoutOp(t *testing.T) {
	assert.Equal(t, "rangefs: bad handle: no such handle", statusErrorf(wire.StatusBadHandle, "no such handle").Error())
	assert.Equal(t, "rangefs: canceled", errCanceled.Error())
}
