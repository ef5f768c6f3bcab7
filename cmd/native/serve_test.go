package main

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Bad serve flags fail before anything is bound, with a usage error that names the flag.
func TestServeFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"udp not ip:port", []string{"--udp", "localhost:0"}, "--udp"},
		{"udp no port", []string{"--udp", "127.0.0.1"}, "--udp"},
		{"max peers", []string{"--max-peers", "0"}, "--max-peers"},
		{"log level", []string{"--log-level", "loud"}, "--log-level"},
		{"log format", []string{"--log-format", "xml"}, "--log-format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append(append([]string{"serve", "--listen", "127.0.0.1:0"}, tc.args...), dir)
			err := run(t.Context(), args, &stdout, &stderr)
			require.Error(t, err)
			var ue usageError
			assert.True(t, errors.As(err, &ue), "%v is not a usage error", err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, stdout.String(), "a link was printed")
		})
	}
}
