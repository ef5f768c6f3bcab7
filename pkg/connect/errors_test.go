package connect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/signaling"
	"github.com/rangecast/rangecast/pkg/wire"
)

// The one table: each layer's errors, wrapped as callers wrap them, get their code.
func TestCodeOf(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("outer: %w", err) }
	for _, tt := range []struct {
		name string
		err  error
		want Code
	}{
		{"nil", nil, ""},
		{"coded", Errorf(CodeRange, "x"), CodeRange},
		{"coded keeps its code", WithCode(CodeBusy, Errorf(CodeRange, "x")), CodeRange},
		{"bad link", wrap(fmt.Errorf("%w: no token", signaling.ErrBadLink)), CodeBadLink},
		{"revoked session", wrap(&rangefs.ProtocolError{Code: wire.CodeRevoked, Remote: true}), CodeLinkRevoked},
		{"expired link", &Error{Code: CodeLinkExpired, Err: ErrLinkExpired}, CodeLinkExpired},
		{"401", &signaling.APIError{Status: 401, Code: signaling.CodeUnauthorized}, CodeUnauthorized},
		{"peer limit", &signaling.APIError{Status: 503, Code: signaling.CodeTooManyPeers}, CodeTooManyPeers},
		// A daemon shutting down is going away, not busy.
		{"shutting down", &signaling.APIError{Status: 503, Code: signaling.CodeShuttingDown}, CodeGoingAway},
		{"signaling timeout", &signaling.APIError{Status: 504, Code: signaling.CodeTimeout}, CodeSetupTimeout},
		{"not a daemon", &signaling.APIError{Status: 404, Code: "http_404"}, CodeUnreachable},
		{"daemon internal", &signaling.APIError{Status: 500, Code: signaling.CodeInternal}, CodeProtocol},
		{"setup timeout", wrap(signaling.ErrSetupTimeout), CodeSetupTimeout},
		{"not found", &rangefs.StatusError{Status: wire.StatusNotFound}, CodeNotFound},
		{"forbidden", &rangefs.StatusError{Status: wire.StatusForbidden}, CodeForbidden},
		{"invalid path", wrap(rangefs.ErrInvalidPath), CodeInvalidPath},
		{"not regular", &rangefs.StatusError{Status: wire.StatusNotRegular}, CodeNotRegular},
		{"not a directory", &rangefs.StatusError{Status: wire.StatusNotDirectory}, CodeNotDirectory},
		{"changed", wrap(rangefs.ErrChanged), CodeChanged},
		{"range", &rangefs.StatusError{Status: wire.StatusRangeInvalid}, CodeRange},
		{"too many streams", &rangefs.StatusError{Status: wire.StatusTooManyStreams}, CodeBusy},
		{"too many handles", &rangefs.StatusError{Status: wire.StatusTooManyHandles}, CodeBusy},
		{"status going away", &rangefs.StatusError{Status: wire.StatusGoingAway}, CodeGoingAway},
		{"canceled", wrap(context.Canceled), CodeCanceled},
		{"GOAWAY then closed", &rangefs.ClosedError{Cause: errors.New("eof"), GoingAway: true}, CodeGoingAway},
		{"shutdown", &rangefs.ProtocolError{Code: wire.CodeShutdown, Remote: true}, CodeGoingAway},
		{"protocol", &rangefs.ProtocolError{Code: wire.CodeProtocol}, CodeProtocol},
		{"session closed", &rangefs.ClosedError{Cause: errors.New("eof")}, CodeClosed},
		{"peer closed", wrap(peer.ErrClosed), CodeClosed},
		{"file closed", wrap(fs.ErrClosed), CodeClosed},
		{"io error", &rangefs.StatusError{Status: wire.StatusIO}, CodeInternal},
		{"unknown", errors.New("something"), CodeInternal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, CodeOf(tt.err))
		})
	}
}

// A failed dial that nothing names means that no daemon is reachable.
func TestDialCodeOf(t *testing.T) {
	assert.Equal(t, CodeUnreachable, DialCodeOf(errors.New("fetch: TypeError: Failed to fetch")))
	assert.Equal(t, CodeUnreachable, DialCodeOf(peer.ErrClosed))
	assert.Equal(t, CodeInternal, DialCodeOf(Errorf(CodeInternal, "a panic")))
	assert.Equal(t, CodeUnauthorized, DialCodeOf(&signaling.APIError{Code: signaling.CodeUnauthorized}))
}
