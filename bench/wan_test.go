package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// $RANGECAST_BENCH_WAN_VARIANTS names daemons with extra flags; an upper-case NAME=VALUE
// token goes to that daemon's environment, not its flags; a variant without a name is an error.
func TestWANVariants(t *testing.T) {
	t.Setenv(envWANVariants, "a:--pacing=false RANGECAST_X=1 --send-buffer=0; b: --sctp-min-cwnd=0 ;")
	vs, err := wanVariants()
	require.NoError(t, err)
	require.Len(t, vs, 3)
	assert.Equal(t, wanVariant{}, vs[0], "the default daemon comes first")
	assert.Equal(t, wanVariant{name: "a", flags: []string{"--pacing=false", "--send-buffer=0"}, env: []string{"RANGECAST_X=1"}}, vs[1])
	assert.Equal(t, wanVariant{name: "b", flags: []string{"--sctp-min-cwnd=0"}}, vs[2])
	assert.Equal(t, "chromium [a]", vs[1].chromium())
	assert.Equal(t, "chromium", vs[0].chromium())

	t.Setenv(envWANVariants, "one:connections=1;both:connections=2 --pacing=false")
	vs, err = wanVariants()
	require.NoError(t, err)
	require.Len(t, vs, 3)
	assert.Equal(t, wanVariant{name: "one", conns: 1}, vs[1], "connections=N is the client's, not a flag")
	assert.False(t, vs[1].hasChromium(), "a variant of the native client alone has no Chromium")
	assert.Equal(t, wanVariant{name: "both", conns: 2, flags: []string{"--pacing=false"}}, vs[2])
	assert.True(t, vs[2].hasChromium())
	assert.True(t, vs[0].hasChromium())

	t.Setenv(envWANVariants, "x:connections=0")
	_, err = wanVariants()
	assert.Error(t, err)

	t.Setenv(envWANVariants, ":--pacing=false")
	_, err = wanVariants()
	assert.Error(t, err)
}
