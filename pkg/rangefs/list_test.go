package rangefs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// makeBigDir creates dir/name holding n empty files, f000000 … and returns their names in
// order.
func makeBigDir(tb testing.TB, dir, name string, n int) []string {
	tb.Helper()
	p := filepath.Join(dir, name)
	require.NoError(tb, os.Mkdir(p, 0o755))
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("f%06d", i)
		f, err := os.Create(filepath.Join(p, names[i]))
		require.NoError(tb, err)
		require.NoError(tb, f.Close())
	}
	return names
}

// TestConcurrentListsShareSnapshot lists one big directory from many goroutines at once, page
// by page: every listing is complete and sorted, and the directory is read from disk once,
// not once per page per listing.
func TestConcurrentListsShareSnapshot(t *testing.T) {
	dir := t.TempDir()
	want := makeBigDir(t, dir, "big", 10_000)
	time.Sleep(listStableAfter + 100*time.Millisecond) // younger ones are not cached; see listCache
	ts := startSession(t, dir, ServerOptions{}, ClientOptions{})

	const listers = 16
	var wg sync.WaitGroup
	got := make([][]string, listers)
	errs := make([]error, listers)
	for i := range listers {
		wg.Go(func() {
			ents, err := ts.c.ReadDir(t.Context(), "big")
			errs[i] = err
			for _, e := range ents {
				got[i] = append(got[i], e.Name())
			}
		})
	}
	wg.Wait()
	for i := range listers {
		require.NoError(t, errs[i])
		assert.Len(t, got[i], len(want))
		assert.True(t, slices.Equal(want, got[i]), "listing %d is not the sorted directory", i)
	}
	assert.EqualValues(t, 1, ts.srv.dirReads.Load(), "directory reads for %d listings of %d pages", listers, len(want)/1000)

	// A change to the directory is seen by the next page.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big", "f999999"), nil, 0o644))
	page, more, err := ts.c.ListPage(t.Context(), "big", "f009999", 0)
	require.NoError(t, err)
	assert.False(t, more)
	if assert.Len(t, page, 1) {
		assert.Equal(t, "f999999", page[0].Name())
	}
	assert.EqualValues(t, 2, ts.srv.dirReads.Load())
}
