package e2e

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
)

func solid(w, h int, c color.Color) image.Image {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, c)
		}
	}
	return m
}

type thumbState struct {
	Has   bool   `json:"has"`
	Pixel []int  `json:"pixel"`
	Err   string `json:"err"`
}

const thumbJS = `(async (path) => {
  const row = testRow(path);
  const img = row && row.querySelector(".kind-icon img.thumb");
  if (!img) return {has: false, pixel: [], err: row ? "" : "no row"};
  await img.decode();
  const c = document.createElement("canvas"); c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext("2d"); g.drawImage(img, 0, 0);
  const d = g.getImageData(c.width >> 1, c.height >> 1, 1, 1).data;
  return {has: true, pixel: [d[0], d[1], d[2]], err: ""};
})`

// Image rows show a thumbnail made in the page from the file's bytes (its colour checked);
// a file too big for the bounded read, and one that is not an image, keep their icon.
func TestImageThumbnails(t *testing.T) {
	netns.Require(t)
	dir := t.TempDir()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, solid(320, 200, color.RGBA{220, 20, 30, 255})))
	must(os.WriteFile(filepath.Join(dir, "red.png"), b.Bytes(), 0o644))
	b.Reset()
	require.NoError(t, jpeg.Encode(&b, solid(200, 320, color.RGBA{20, 40, 230, 255}), &jpeg.Options{Quality: 95}))
	must(os.WriteFile(filepath.Join(dir, "blue.jpg"), b.Bytes(), 0o644))
	must(os.WriteFile(filepath.Join(dir, "broken.png"), []byte("not a png at all"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "huge.png"), data256[:9<<20], 0o644)) // over the 8 MiB cap
	ctx, _ := startApp(t, dir)
	_, err := eval[bool](ctx, appJS)
	require.NoError(t, err)
	waitFor(t, ctx, `document.querySelectorAll("#files .kind-icon img.thumb").length >= 2`, "two thumbnails")
	time.Sleep(500 * time.Millisecond) // the others, if they were to get one

	for path, want := range map[string][]int{"/red.png": {220, 20, 30}, "/blue.jpg": {20, 40, 230}} {
		s, err := eval[thumbState](ctx, thumbJS+fmt.Sprintf("(%q)", path))
		require.NoError(t, err)
		require.True(t, s.Has, "%s has no thumbnail (%s)", path, s.Err)
		for i := range 3 {
			assert.InDelta(t, want[i], s.Pixel[i], 12, "%s: thumbnail colour %v, want %v", path, s.Pixel, want)
		}
	}
	for _, path := range []string{"/broken.png", "/huge.png"} {
		s, err := eval[thumbState](ctx, thumbJS+fmt.Sprintf("(%q)", path))
		require.NoError(t, err)
		assert.False(t, s.Has, "%s has a thumbnail", path)
	}
	got, err := eval[float64](ctx, `app.remote.stats().bytesReceived`)
	require.NoError(t, err)
	assert.Less(t, got, float64(1<<20), "the page read the 9 MiB image (or more) for a thumbnail")
	shot(t, ctx, "thumbnails.png")
}
