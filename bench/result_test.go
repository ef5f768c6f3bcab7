package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A run of some groups replaces those groups' rows, keeps the other groups' and drops rows
// written before groups were recorded.
func TestMergeResults(t *testing.T) {
	old := []Result{
		{Group: "mount", Name: "mount: sequential read", Median: 20},
		{Group: "wan", Name: "wan 50ms/1% [rangecast native]", Median: 8},
		{Name: "50 ms RTT, 1% loss", Median: 0.36}, // no group: from before groups
		{Group: "browser", Name: "browser throughput", Median: 25},
	}
	fresh := []Result{
		{Group: "mount", Name: "mount: sequential read", Median: 40},
		{Group: "browser", Name: "browser throughput", Median: 19},
	}
	got := mergeResults(old, fresh, []string{"mount", "browser"})
	assert.Equal(t, []Result{fresh[0], fresh[1], old[1]}, got)

	// A group that ran and measured nothing (no ffmpeg, say) loses its old rows too.
	got = mergeResults(old, nil, []string{"mount"})
	assert.Equal(t, []Result{old[1], old[3]}, got)
}
