package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
)

// hostileMD tries every way of getting markup or script into the page through a Markdown
// file; the preview must show it as text.
const hostileMD = "# Release notes\n\n" +
	"Some **bold**, some *emphasis* and `code`.\n\n" +
	"<script>window.pwned = 1</script>\n\n" +
	"<img src=x onerror=\"window.pwned = 2\">\n\n" +
	"- [a safe link](https://example.com/a)\n" +
	"- [a script link](javascript:window.pwned=3)\n" +
	"- [x] a done task\n\n" +
	"```html\n<b onclick=\"window.pwned=4\">not bold</b>\n```\n\n" +
	"> quoted <iframe src=\"javascript:window.pwned=5\"></iframe>\n"

type previewResult struct {
	Kind     string   `json:"kind"`
	Headings []string `json:"headings"`
	Strong   string   `json:"strong"`
	Links    []string `json:"links"`
	Tags     []string `json:"tags"`
	Text     string   `json:"text"`
	Pwned    bool     `json:"pwned"`
	Cut      bool     `json:"cut"`
	PreLen   int      `json:"preLen"`
	Pre      string   `json:"pre"`
}

const previewJS = `(async (path) => {
  document.querySelector("#viewer-close") && !document.querySelector("#viewer").hidden && document.querySelector("#viewer-close").click();
  testRow(path).querySelector(".open-button").click();
  let box = null;
  for (let i = 0; i < 400 && !(box = document.querySelector("#viewer-body .viewer-text")); i++) await new Promise(r => setTimeout(r, 25));
  if (!box) throw new Error("no preview for " + path + ": " + document.querySelector("#viewer-body").textContent);
  await new Promise(r => setTimeout(r, 200)); // an injected handler, if any, has run
  const pre = box.querySelector("pre.plain");
  return {
    kind: box.dataset.preview,
    headings: [...box.querySelectorAll("h1, h2, h3")].map(h => h.textContent),
    strong: box.querySelector("strong") ? box.querySelector("strong").textContent : "",
    links: [...box.querySelectorAll("a")].map(a => a.getAttribute("href")),
    tags: [...new Set([...box.querySelectorAll("*")].map(e => e.tagName.toLowerCase()))].sort(),
    text: box.textContent,
    pwned: "pwned" in window,
    cut: !!box.querySelector(".preview-cut"),
    preLen: pre ? pre.textContent.length : -1,
    pre: pre ? pre.textContent.slice(0, 200) : "",
  };
})`

// Text and Markdown open inline in the viewer: Markdown rendered without letting the file
// inject markup or script, plain text as it is, a big file cut at the cap with a note.
func TestTextAndMarkdownPreview(t *testing.T) {
	netns.Require(t)
	dir := t.TempDir()
	must(os.WriteFile(filepath.Join(dir, "notes.md"), []byte(hostileMD), 0o644))
	must(os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("plain <b>text</b>\nsecond line\n"), 0o644))
	big := strings.Repeat("0123456789abcdef\n", 40000) // 680,000 bytes: over the 256 KiB cap
	must(os.WriteFile(filepath.Join(dir, "big.log"), []byte(big), 0o644))
	ctx, _ := startApp(t, dir)
	_, err := eval[bool](ctx, appJS)
	require.NoError(t, err)

	r, err := eval[previewResult](ctx, previewJS+`("/notes.md")`)
	require.NoError(t, err)
	assert.Equal(t, "markdown", r.Kind)
	assert.Equal(t, []string{"Release notes"}, r.Headings)
	assert.Equal(t, "bold", r.Strong)
	assert.Equal(t, []string{"https://example.com/a"}, r.Links, "only the safe link is a link")
	for _, tag := range r.Tags {
		assert.NotContains(t, []string{"script", "img", "iframe", "b", "style"}, tag, "the preview holds a <%s>", tag)
	}
	assert.Contains(t, r.Text, "<script>window.pwned = 1</script>", "raw HTML shows as text")
	assert.Contains(t, r.Text, `<b onclick="window.pwned=4">not bold</b>`)
	assert.False(t, r.Pwned, "a script in the Markdown ran")
	assert.False(t, r.Cut)
	shot(t, ctx, "preview-markdown.png")

	r, err = eval[previewResult](ctx, previewJS+`("/hello.txt")`)
	require.NoError(t, err)
	assert.Equal(t, "text", r.Kind)
	assert.Equal(t, "plain <b>text</b>\nsecond line\n", r.Pre)
	assert.NotContains(t, r.Tags, "b")

	r, err = eval[previewResult](ctx, previewJS+`("/big.log")`)
	require.NoError(t, err)
	assert.True(t, r.Cut, "no note that the preview is cut")
	assert.Equal(t, 256<<10, r.PreLen)
	assert.Equal(t, big[:200], r.Pre)
	shot(t, ctx, "preview-text-cut.png")
}
