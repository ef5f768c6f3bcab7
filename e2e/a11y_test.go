package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/pkg/share"
)

// axeSource is axe-core (package.json, installed into node_modules/ by make deps).
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "node_modules", "axe-core", "axe.min.js"))
	require.NoError(t, err, "axe-core is missing: run make deps (npm ci installs package-lock.json's packages)")
	return string(b)
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeCheck runs axe-core on the page as it is and fails the test on every serious or
// critical violation; the others are logged.
func axeCheck(t *testing.T, ctx context.Context, src, screen string) {
	t.Helper()
	if _, err := eval[bool](ctx, `typeof axe === "object"`); err != nil {
		t.Fatal(err)
	}
	if ok, _ := eval[bool](ctx, `typeof axe === "object"`); !ok {
		_, err := eval[bool](ctx, src+";true")
		require.NoError(t, err)
	}
	vs, err := eval[[]axeViolation](ctx, `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
	  id: v.id, impact: v.impact || "", help: v.help, nodes: v.nodes.slice(0, 6).map(n => n.target.join(" ") + ": " + (n.failureSummary || "").split("\n").slice(1).join(" ")),
	})))`)
	require.NoError(t, err)
	for _, v := range vs {
		msg := fmt.Sprintf("%s: axe %s (%s): %s\n\t%s", screen, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Error(msg)
		} else {
			t.Log(msg)
		}
	}
}

// The list, the viewer, the QR code and the error screens (the share link screens among them) have no
// serious or critical accessibility violation, on a desktop and on a phone-sized screen.
func TestAccessibility(t *testing.T) {
	netns.Require(t)
	src := axeSource(t)
	d := startShareDaemon(t, shareTree(t))
	_, links := d.share(t, "pub")
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"mobile", 390, 844}} {
		t.Run(size.name, func(t *testing.T) {
			ctx := browser(t)
			require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h)))
			check := func(screen string) {
				t.Helper()
				axeCheck(t, ctx, src, screen)
				hc, err := eval[headerCheck](ctx, headerFitsJS+`(false)`)
				require.NoError(t, err)
				assert.Empty(t, hc.Overflow, "%s: header elements cut or spilling", screen)
				if screen == "viewer" {
					vc, err := eval[headerCheck](ctx, headerFitsJS+`(false, ".viewer-head")`)
					require.NoError(t, err)
					assert.Empty(t, vc.Overflow, "%s: the viewer's title bar cut or spilling", screen)
				}
				shot(t, ctx, fmt.Sprintf("a11y-%s-%s.png", screen, size.name))
			}

			openApp(t, ctx, d.Base+"/#t=owner-token-e2e", "browsing")
			waitFor(t, ctx, `document.querySelectorAll("#files tbody tr[data-path]").length === 2`, "the list")
			check("list")
			_, err := eval[bool](ctx, `(app.navigate("/pub"), true)`)
			require.NoError(t, err)
			waitFor(t, ctx, `!!document.querySelector('#files tr[data-path="/pub/hello.txt"] .open-button')`, "the folder")
			_, err = eval[bool](ctx, `(document.querySelector('#files tr[data-path="/pub/clip.mp4"] .open-button').click(), true)`)
			require.NoError(t, err)
			waitFor(t, ctx, `!document.querySelector("#viewer").hidden`, "the viewer")
			check("viewer")
			waitFor(t, ctx, `!!document.querySelector("#qr-button")`, "the QR button (qr.js comes after the first listing)")
			_, err = eval[bool](ctx, `(document.querySelector("#viewer-close").click(), document.querySelector("#qr-button").click(), !document.querySelector("#qr").hidden)`)
			require.NoError(t, err)
			check("qr")
			_, err = eval[bool](ctx, `(document.querySelector("#qr-close").click(), true)`)
			require.NoError(t, err)

			openApp(t, ctx, links[0], "browsing")
			waitFor(t, ctx, `!!document.querySelector("#share-banner") && document.querySelectorAll("#files tbody tr[data-path]").length === 4`, "the share link's folder")
			check("share-list")

			key, err := share.LoadOrCreateKey(filepath.Join(d.state, "share.key"))
			require.NoError(t, err)
			expired, err := key.Mint(share.Public{ID: "a11yexpired", Scope: "pub", Expiry: time.Now().Add(-time.Minute).Unix()})
			require.NoError(t, err)
			for _, c := range []struct{ screen, link string }{
				{"error-unauthorized", d.Base + "/#t=wrong-token"},
				{"error-bad-link", d.Base + "/"},
				{"error-share-expired", d.Base + "/#s=" + expired.String()},
				{"error-share-forged", d.Base + "/#s=" + expired.ID + ".cHVi.0." + strings.Repeat("A", 43)},
			} {
				require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
				openApp(t, ctx, c.link, "error")
				check(c.screen)
			}
		})
	}
}
