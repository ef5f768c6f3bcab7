// rangecast service worker: answers the browser's own HTTP requests for <scope>stream/<path> —
// <video src>, <audio src>, <img src>, <iframe src>, a download link, a link pasted into a new
// tab — with bytes read over the daemon connection of a rangecast page in this browser.
//
// A worker cannot hold an RTCPeerConnection, so the bytes come from a controlled app page: for
// each request the worker opens a MessageChannel to a page and asks it to open the file; the
// page answers with the file's size and type, then sends chunks on each "pull" (the
// ReadableStream's pull, so the browser's consumption paces the reads), and stops on "cancel"
// (the browser aborts the body on every seek, which cancels the stream).
//
// Protocol on the per-request port (worker → page, page → worker):
//   → {op: "open", path, download}   ← {ok: true, size, type, etag, mtime} | {ok: false, code, message}
//                                      (download: a GET of ?download=1, which the page lists
//                                      with its progress in its Downloads panel)
//   → {op: "zip", path}              ← {ok: true, name} | {ok: false, code, message}: the folder
//                                      path as a ZIP the page writes; pulls read it in order
//   → {op: "pull", offset, length}   ← {chunks: [Uint8Array…] (their buffers transferred), done} | {done: true} | {error}
//                                      (a file: the first pull of a read gets one chunk, later
//                                      ones up to 1 MiB of them; a zip: one chunk a pull)
//                                      ({waiting: true} before the answer, every few seconds,
//                                      while a download waits for the page's lost connection
//                                      to come back: the pull's timeout starts again)
//   → {op: "cancel"}                 (no answer; the page releases the file)
//   → {op: "close"}                  (no answer; the read ended normally)
"use strict";

// The worker serves its own scope only: "/" on a daemon's page, "/d/<id>/" on a relay's, so
// that each daemon on a relay has its own worker, whose clients are that daemon's pages.
const SCOPE = new URL(self.registration.scope).pathname;
const PREFIX = SCOPE + "stream/";
// zip/<dir>: the folder as a ZIP the page writes as it reads the files (client-zip).
const ZIP_PREFIX = SCOPE + "zip/";
// How long one page may take to answer "open": a page still connecting waits for its session.
const OPEN_TIMEOUT_MS = 20000;
// How long a chunk may take: a page that was closed or reloaded mid-read never answers, and
// the request must fail rather than hang.
const PULL_TIMEOUT_MS = 60000;
// How many bytes a response's stream asks the page for ahead of the browser. Counted in bytes:
// a chunk is one DataChannel message's (32 KiB from a daemon on this host, up to 256 KiB).
const READ_AHEAD = 1 << 20;

self.addEventListener("install", (e) => {
  self.skipWaiting();
  // Only /stream/ needs this worker. Without routes, every request of a controlled page (the
  // navigation, the scripts, the wasm, each signaling call) would first wait for the worker to
  // start and run its fetch handler, which only returns. The static routing API (Chromium
  // 123+) sends the rest straight to the network: the first matching route wins.
  if (typeof e.addRoutes === "function") {
    e.waitUntil(e.addRoutes([
      { condition: { urlPattern: PREFIX + "*" }, source: "fetch-event" },
      { condition: { urlPattern: ZIP_PREFIX + "*" }, source: "fetch-event" },
      { condition: { urlPattern: SCOPE + "*" }, source: "network" },
    ]).catch((err) => console.warn("rangecast worker: static routes not installed:", err)));
  }
});
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));

// The page sends "keepalive" while it serves streams: a message event extends this worker's
// lifetime, so a long download is not cut when Chromium stops idle workers.
self.addEventListener("message", () => {});

self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith(ZIP_PREFIX) && e.request.method === "GET") { e.respondWith(serveZip(e, url)); return; }
  if (!url.pathname.startsWith(PREFIX)) return;
  if (e.request.method !== "GET" && e.request.method !== "HEAD") {
    e.respondWith(textResponse(405, "Only GET and HEAD are supported.", { Allow: "GET, HEAD" }));
    return;
  }
  e.respondWith(serve(e, url));
});

function textResponse(status, text, headers = {}) {
  return new Response(text + "\n", {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", ...headers },
  });
}

function filePath(url, prefix = PREFIX) {
  try {
    return "/" + url.pathname.slice(prefix.length).split("/").map(decodeURIComponent).filter(Boolean).join("/");
  } catch {
    return null;
  }
}

// parseRange returns {start, end} (end inclusive), null when there is no usable Range header
// (serve the whole file), or "unsatisfiable".
function parseRange(header, size) {
  if (!header) return null;
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*(,.*)?$/.exec(header.trim());
  // Not one byte range (garbage, or several ranges): RFC 9110 §14.2 lets a server ignore
  // Range, and the whole file in a 200 is right for every request.
  if (!m || m[3] || (m[1] === "" && m[2] === "")) return null;
  let start, end;
  if (m[1] === "") { // suffix: the last N bytes
    const n = Number(m[2]);
    if (n === 0) return "unsatisfiable";
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== "" && Number(m[2]) < start) return null;
  }
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

// A request's conversation with one page over a MessagePort.
class Link {
  constructor(client) {
    const ch = new MessageChannel();
    this.port = ch.port1;
    this.waiting = null;
    this.port.onmessage = (m) => {
      // The page lost its connection mid-download and waits for it to come back: the answer
      // is on its way, later than usual.
      if (m.data && m.data.waiting) { this.waiting?.extend(); return; }
      const w = this.waiting;
      this.waiting = null;
      if (w) w.resolve(m.data);
    };
    client.postMessage({ type: "rangecast:stream" }, [ch.port2]);
  }
  ask(msg, timeoutMs) {
    return new Promise((resolve, reject) => {
      let timer = 0;
      const arm = () => {
        if (!timeoutMs) return;
        clearTimeout(timer);
        timer = setTimeout(() => { this.waiting = null; reject(new Error("timeout")); }, timeoutMs);
      };
      arm();
      this.waiting = { resolve: (v) => { clearTimeout(timer); resolve(v); }, extend: arm };
      this.port.postMessage(msg);
    });
  }
  tell(msg) {
    try { this.port.postMessage(msg); } catch { /* closed */ }
    if (msg.op === "cancel" || msg.op === "close") this.port.close();
  }
}

// appClients lists the pages that may hold a session: app pages (not /stream/ documents),
// the requesting page first. Looked up on every request: the worker keeps no state between
// requests, so it survives being stopped when idle and the page being reloaded.
async function appClients(e) {
  const all = await self.clients.matchAll({ type: "window", includeUncontrolled: false });
  const app = all.filter((c) => !new URL(c.url).pathname.startsWith(PREFIX));
  app.sort((a, b) => (b.id === e.clientId) - (a.id === e.clientId) || (b.focused - a.focused));
  return app;
}

async function open(e, path, download, op = "open") {
  const none = { code: "not_connected", message: "No rangecast page with a connection to the daemon is open in this browser: open the rangecast link in a tab, then reload this one." };
  for (const c of await appClients(e)) {
    const link = new Link(c);
    let r;
    try {
      r = await link.ask({ op, path, download }, OPEN_TIMEOUT_MS);
    } catch {
      link.tell({ op: "cancel" });
      continue;
    }
    if (r.ok) return { link, meta: r };
    link.tell({ op: "cancel" });
    if (r.code !== "not_connected") return { error: r };
  }
  return { error: none };
}

const STATUS = { not_found: 404, forbidden: 403, invalid_path: 400, not_regular: 403, not_connected: 503, busy: 503 };

async function serve(e, url) {
  const path = filePath(url);
  if (!path || path === "/") return textResponse(400, "Not a file path.");
  const download = url.searchParams.has("download") && e.request.method === "GET";
  const { link, meta, error } = await open(e, path, download);
  if (error) return textResponse(STATUS[error.code] || 502, `${path}: ${error.message}`);

  const size = meta.size;
  const headers = {
    "Content-Type": meta.type || "application/octet-stream",
    "Accept-Ranges": "bytes",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  };
  if (meta.etag) headers.ETag = `"${meta.etag}"`;
  if (meta.mtime) headers["Last-Modified"] = new Date(meta.mtime).toUTCString();
  if (url.searchParams.has("download")) {
    const name = path.slice(path.lastIndexOf("/") + 1);
    const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
    headers["Content-Disposition"] = `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
  }

  let range = e.request.headers.get("Range") ? parseRange(e.request.headers.get("Range"), size) : null;
  if (range && headers.ETag) {
    const ifRange = e.request.headers.get("If-Range");
    if (ifRange && ifRange !== headers.ETag) range = null; // changed: send it whole
  }
  if (range === "unsatisfiable") {
    link.tell({ op: "cancel" });
    return new Response(null, { status: 416, headers: { ...headers, "Content-Range": `bytes */${size}` } });
  }
  let status = 200, start = 0, end = size - 1;
  if (range) {
    status = 206;
    ({ start, end } = range);
    headers["Content-Range"] = `bytes ${start}-${end}/${size}`;
  }
  headers["Content-Length"] = String(end - start + 1);
  if (e.request.method === "HEAD" || end < start) {
    link.tell({ op: "cancel" });
    return new Response(null, { status, headers });
  }

  let pos = start;
  const body = new ReadableStream({
    async pull(ctrl) {
      let r;
      try {
        r = await link.ask({ op: "pull", offset: pos, length: end + 1 - pos }, PULL_TIMEOUT_MS);
      } catch {
        r = { error: "the page serving this file stopped answering" };
      }
      if (r.error) {
        link.tell({ op: "cancel" });
        ctrl.error(new Error(r.error));
        return;
      }
      pos += enqueueChunks(ctrl, r);
      if (r.done || pos > end) {
        link.tell({ op: "close" });
        ctrl.close();
      }
    },
    cancel() {
      // The browser dropped the response: a seek, a closed tab, a canceled download.
      link.tell({ op: "cancel" });
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: READ_AHEAD })); // keeps the channel busy
  return new Response(body, { status, headers });
}

// enqueueChunks puts the chunks of a page's answer to a pull into the response's stream and
// returns how many bytes they held.
function enqueueChunks(ctrl, r) {
  let n = 0;
  for (const c of r.chunks || []) {
    if (c.byteLength === 0) continue;
    ctrl.enqueue(c instanceof ArrayBuffer ? new Uint8Array(c) : c); // a page of an older version sent ArrayBuffers
    n += c.byteLength;
  }
  return n;
}

// serveZip answers zip/<dir>: a 200 with the ZIP as the page writes it, chunk by chunk on
// each pull (its length is not known ahead: no Content-Length, no ranges).
async function serveZip(e, url) {
  const path = filePath(url, ZIP_PREFIX);
  if (path === null) return textResponse(400, "Not a folder path.");
  const { link, meta, error } = await open(e, path, true, "zip");
  if (error) return textResponse(STATUS[error.code] || 502, `${path}: ${error.message}`);
  const name = (meta.name || "files") + ".zip";
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  const headers = {
    "Content-Type": "application/zip",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Disposition": `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`,
  };
  let pos = 0;
  const body = new ReadableStream({
    async pull(ctrl) {
      let r;
      try {
        r = await link.ask({ op: "pull", offset: pos, length: 1 << 30 }, PULL_TIMEOUT_MS);
      } catch {
        r = { error: "the page writing this zip stopped answering" };
      }
      if (r.error) {
        link.tell({ op: "cancel" });
        ctrl.error(new Error(r.error));
        return;
      }
      pos += enqueueChunks(ctrl, r);
      if (r.done) {
        link.tell({ op: "close" });
        ctrl.close();
      }
    },
    cancel() {
      link.tell({ op: "cancel" });
    },
  }, { highWaterMark: 4 });
  return new Response(body, { status: 200, headers });
}
