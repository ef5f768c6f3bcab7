package e2e

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
)

// decodeQRJS decodes a PNG (a screenshot of the QR code as the page draws it) with jsQR
// (npm, package.json): what a phone's camera would read.
const decodeQRJS = `(async (png) => {
  const img = new Image();
  await new Promise((ok, fail) => { img.onload = ok; img.onerror = () => fail(new Error("the screenshot does not load")); img.src = "data:image/png;base64," + png; });
  const c = document.createElement("canvas"); c.width = img.width; c.height = img.height;
  const g = c.getContext("2d"); g.drawImage(img, 0, 0);
  const code = jsQR(g.getImageData(0, 0, c.width, c.height).data, c.width, c.height);
  const dlg = document.querySelector("#qr");
  return {decoded: code ? code.data : "", href: location.href, shown: dlg.querySelector(".qr-link").textContent,
    focus: document.activeElement && document.activeElement.id};
})`

type qrResult struct {
	Decoded string `json:"decoded"`
	Href    string `json:"href"`
	Shown   string `json:"shown"`
	Focus   string `json:"focus"`
}

// The toolbar's QR button shows a code that decodes to the page's current link (the folder
// included), and Escape closes it, giving focus back.
func TestQRCodeOfLink(t *testing.T) {
	netns.Require(t)
	requireDist(t, "qrcode.js")
	b, err := os.ReadFile(filepath.Join(repoRoot, "node_modules", "jsqr", "dist", "jsQR.js"))
	require.NoError(t, err, "jsqr is missing: run make deps")
	ctx, _ := startApp(t, dataDir)
	_, err = eval[bool](ctx, string(b)+";typeof jsQR === 'function'")
	require.NoError(t, err)
	_, err = eval[bool](ctx, `(app.navigate("/docs/deep"), true)`)
	require.NoError(t, err)
	waitFor(t, ctx, `app.dir === "/docs/deep" && !!document.querySelector("#qr-button")`, "the folder and the QR button (qr.js comes after the first listing)")

	_, err = eval[bool](ctx, `(document.querySelector("#qr-button").click(), !document.querySelector("#qr").hidden)`)
	require.NoError(t, err)
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#qr svg.qr-code")))
	require.NoError(t, err)
	r, err := eval[qrResult](ctx, decodeQRJS+`("`+base64.StdEncoding.EncodeToString(png)+`")`)
	require.NoError(t, err)
	assert.Contains(t, r.Href, "#t=")
	assert.Contains(t, r.Href, "&p=/docs/deep")
	assert.Equal(t, r.Href, r.Decoded, "the QR code decodes to something else than the page's link")
	assert.Equal(t, r.Href, r.Shown)
	assert.Equal(t, "qr-close", r.Focus)
	shot(t, ctx, "qr-code.png")

	closed, err := eval[string](ctx, `(document.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape"})), document.querySelector("#qr").hidden + " " + document.activeElement.id)`)
	require.NoError(t, err)
	assert.Equal(t, "true qr-button", closed)
}

// requireDist fails the test at once, saying what to run, when make wasm did not copy a
// browser library of package.json into web/dist (the daemon embeds what is there).
func requireDist(t *testing.T, name string) {
	t.Helper()
	_, err := os.Stat(filepath.Join(repoRoot, "web", "dist", name))
	require.NoError(t, err, "web/dist/%s is missing: run make deps, then make wasm", name)
}
