package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
)

type searchView struct {
	Rows    []string `json:"rows"`
	InDir   []string `json:"inDir"`
	Running bool     `json:"running"`
	Folders int      `json:"folders"`
	Summary string   `json:"summary"`
}

const searchViewJS = `({
  rows: [...document.querySelectorAll("#files tbody tr[data-path]")].map(r => r.dataset.path),
  inDir: [...document.querySelectorAll("#files tbody tr[data-path] .in-dir")].map(s => s.textContent),
  running: app.search.running, folders: app.search.counts ? app.search.counts.folders : -1,
  summary: document.querySelector("#summary").textContent,
})`

// "All folders" turns the filter into a search of every name under the folder: matches from
// any depth stream into the list with their folder, a folder among them opens, and Stop
// ends a walk in progress.
func TestSearchAllFolders(t *testing.T) {
	netns.Require(t)
	dir := t.TempDir()
	for _, p := range []string{"a/b/c/Target-1.txt", "a/other.txt", "x/target-2.bin", "target-3.md", "y/z/nothing.txt", "y/target-dir/inside.txt"} {
		must(os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755))
		must(os.WriteFile(filepath.Join(dir, p), []byte(p), 0o644))
	}
	// A wide tree for the stop: 400 folders.
	for i := range 400 {
		d := filepath.Join(dir, "wide", fmt.Sprintf("d%03d", i))
		must(os.MkdirAll(d, 0o755))
		must(os.WriteFile(filepath.Join(d, "f.txt"), nil, 0o644))
	}
	ctx, _ := startApp(t, dir)

	_, err := eval[bool](ctx, `(document.querySelector("#search-all").click(), document.querySelector("#filter").value = "target", document.querySelector("#filter").dispatchEvent(new Event("input")), true)`)
	require.NoError(t, err)
	waitFor(t, ctx, `!app.search.running && app.search.counts && app.search.counts.folders > 400`, "the search to finish")
	v, err := eval[searchView](ctx, searchViewJS)
	require.NoError(t, err)
	sort.Strings(v.Rows)
	assert.Equal(t, []string{"/a/b/c/Target-1.txt", "/target-3.md", "/x/target-2.bin", "/y/target-dir"}, v.Rows)
	assert.ElementsMatch(t, []string{"/a/b/c", "/", "/x", "/y"}, v.InDir)
	assert.Contains(t, v.Summary, "4 matches for “target”")
	shot(t, ctx, "search-all-folders.png")

	// A folder among the results opens, and the search ends.
	_, err = eval[bool](ctx, `(document.querySelector('#files tr[data-path="/y/target-dir"] a.entry').click(), true)`)
	require.NoError(t, err)
	waitFor(t, ctx, `app.dir === "/y/target-dir" && !!document.querySelector('#files tr[data-path="/y/target-dir/inside.txt"]')`, "the folder from the results")
	pressed, err := eval[string](ctx, `document.querySelector("#search-all").getAttribute("aria-pressed")`)
	require.NoError(t, err)
	assert.Equal(t, "false", pressed)

	// Stop: the walk ends where it is.
	_, err = eval[bool](ctx, `(app.navigate("/"), true)`)
	require.NoError(t, err)
	waitFor(t, ctx, `app.dir === "/" && !!document.querySelector('#files tr[data-path="/wide"]')`, "the top folder")
	_, err = eval[bool](ctx, `(document.querySelector("#search-all").click(), document.querySelector("#filter").value = "no-such-name", document.querySelector("#filter").dispatchEvent(new Event("input")), true)`)
	require.NoError(t, err)
	waitFor(t, ctx, `app.search.running && app.search.counts.folders >= 5 && !!document.querySelector("#search-stop")`, "the search to start")
	_, err = eval[bool](ctx, `(document.querySelector("#search-stop").click(), true)`)
	require.NoError(t, err)
	v, err = eval[searchView](ctx, searchViewJS)
	require.NoError(t, err)
	assert.False(t, v.Running)
	time.Sleep(700 * time.Millisecond)
	after, err := eval[searchView](ctx, searchViewJS)
	require.NoError(t, err)
	assert.Equal(t, v.Folders, after.Folders, "the walk went on after Stop")
	assert.Less(t, after.Folders, 400, "the walk was not stopped part way")
	t.Logf("stopped after %d folders", after.Folders)
}
