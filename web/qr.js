// rangecast web app: a QR code of the page's current link, to open it on a phone, behind a
// button in the toolbar. The code comes from qrcode-generator (npm, copied into dist/ by
// make wasm); without it the button is not shown. The SVG is built here from the library's
// module matrix with DOM calls, so nothing of the link is ever parsed as markup.
"use strict";

(() => {
  if (typeof qrcode !== "function") return; // dist/qrcode.js was not built in

  const SVG_NS = "http://www.w3.org/2000/svg";

  // qrSVG draws the QR code of text: dark modules as one path, a 4-module quiet zone.
  function qrSVG(text) {
    const qr = qrcode(0, "M"); // the smallest version that holds it; 15 % error correction
    qr.addData(text, "Byte");
    qr.make();
    const n = qr.getModuleCount(), q = 4, size = n + 2 * q;
    let d = "";
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c + q} ${r + q}h1v1h-1z`;
    }
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
    svg.setAttribute("shape-rendering", "crispEdges");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "QR code of this page's link");
    svg.classList.add("qr-code");
    const bg = document.createElementNS(SVG_NS, "rect");
    bg.setAttribute("width", String(size));
    bg.setAttribute("height", String(size));
    bg.setAttribute("fill", "#fff");
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", "#000");
    svg.append(bg, path);
    return svg;
  }

  let dialog = null, opener = null;

  function build() {
    dialog = document.createElement("div");
    dialog.id = "qr";
    dialog.className = "viewer qr-dialog";
    dialog.hidden = true;
    dialog.setAttribute("role", "dialog");
    dialog.setAttribute("aria-modal", "true");
    dialog.setAttribute("aria-labelledby", "qr-title");
    dialog.innerHTML = // static markup only; the link goes in with textContent below
      '<div class="viewer-card qr-card"><div class="viewer-head"><h2 id="qr-title">Open this link on another device</h2>' +
      '<div class="viewer-actions"><button type="button" class="button small-button" id="qr-close">Close</button></div></div>' +
      '<div class="qr-body"><div class="qr-image"></div><p class="qr-warning"></p><code class="qr-link"></code></div></div>';
    document.body.append(dialog);
    dialog.querySelector("#qr-close").addEventListener("click", close);
    dialog.addEventListener("click", (e) => { if (e.target === dialog) close(); });
    document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !dialog.hidden) close(); });
  }

  function open() {
    if (!dialog) build();
    const a = document.activeElement;
    opener = a && a !== document.body ? a : button; // focus goes back where it came from
    const link = location.href;
    dialog.querySelector(".qr-image").replaceChildren(qrSVG(link));
    dialog.querySelector(".qr-link").textContent = link;
    dialog.querySelector(".qr-warning").textContent = /#s=/.test(link)
      ? "Whoever scans it gets what this share link grants, until it expires or is revoked."
      : "Whoever scans it gets this link's full access to the shared folder: share links (rangecast share) give less.";
    dialog.dataset.link = link;
    dialog.hidden = false;
    dialog.querySelector("#qr-close").focus();
  }

  function close() {
    dialog.hidden = true;
    if (opener && opener.isConnected) opener.focus();
    opener = null;
  }

  const button = document.createElement("button");
  button.type = "button";
  button.id = "qr-button";
  button.className = "button icon-button";
  button.title = "Show a QR code of this link, to open it on a phone";
  button.setAttribute("aria-label", "Show a QR code of this link");
  const icon = document.createElementNS(SVG_NS, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("aria-hidden", "true");
  for (const [x, y] of [[3, 3], [14, 3], [3, 14]]) {
    const r = document.createElementNS(SVG_NS, "rect");
    for (const [k, v] of Object.entries({ x, y, width: 7, height: 7, rx: 1.5 })) r.setAttribute(k, String(v));
    icon.append(r);
  }
  const dots = document.createElementNS(SVG_NS, "path");
  dots.setAttribute("d", "M14 14h3v3h-3zM18 18h3v3h-3zM14 20h1M20 14h1");
  icon.append(dots);
  button.append(icon);
  button.addEventListener("click", open);
  document.querySelector("#browser .tools")?.append(button);
  // A share link of one file shows the viewer alone: the button is in its head there too.
  const second = document.createElement("button");
  second.type = "button";
  second.id = "qr-viewer-button";
  second.className = "button small-button";
  second.textContent = "QR code";
  second.title = button.title;
  second.addEventListener("click", open);
  document.querySelector("#viewer .viewer-actions")?.prepend(second);

  globalThis.app && (globalThis.app.showQR = open);
})();
