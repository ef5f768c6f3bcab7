// rangecast web app: a file browser with downloads, on the Go/wasm client's JavaScript API
// (globalThis.rangecast, declared in api.d.ts). Plain JavaScript, no build step; the page's
// CSP forbids inline scripts, so everything lives here.
"use strict";

(() => {
  const $ = (sel, root = document) => root.querySelector(sel);

  // ---------------------------------------------------------------- state and test hooks

  const state = {
    rc: null,         // globalThis.rangecast, once the wasm has installed it
    remote: null,     // the current Remote (rangecast.connect)
    token: "",
    share: "",        // a share link's fragment value (#s=), when the page was opened with one
    shareInfo: null,  // its public part: {id, scope, expiry} (share.js)
    root: "/",        // the top folder this page may show: the share link's folder, else "/"
    single: null,     // the entry a share link of one file opens, else null
    dir: "/",
    entries: [],
    listError: null,
    sort: { key: "name", dir: 1 },
    filter: "",
    rootName: "",
    udp: "", // the daemon's UDP address(es), from api/v1/status
    navSeq: 0,
    lastDetail: null, // the last statechange detail, for the reconnect countdown
  };

  // window.app is what end-to-end tests (and curious developers) use.
  const app = {
    get remote() { return state.remote; },
    get state() { return document.body.dataset.state; },
    get dir() { return state.dir; },
    downloads: new Map(),
    navigate: (p) => go(p),
    get root() { return state.root; },
    get single() { return state.single; },
  };
  window.app = app;

  function setPageState(s) {
    document.body.dataset.state = s;
  }

  // ---------------------------------------------------------------- formatting

  const KIB = 1024;
  function formatBytes(n) {
    if (n == null || !Number.isFinite(n)) return "–";
    if (n < KIB) return `${n} B`;
    const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    let v = n / KIB, i = 0;
    while (v >= KIB && i < units.length - 1) { v /= KIB; i++; }
    return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
  }
  function formatRate(bps) {
    if (!bps || bps < 1) return "0 B/s";
    return `${formatBytes(Math.round(bps))}/s`;
  }
  function formatDuration(sec) {
    if (!Number.isFinite(sec) || sec < 0) return "";
    if (sec < 10) return `${sec < 1 ? sec.toFixed(2) : sec.toFixed(1)} s`;
    sec = Math.ceil(sec);
    if (sec < 60) return `${sec} s`;
    const m = Math.floor(sec / 60), s = sec % 60;
    if (m < 60) return `${m} min ${String(s).padStart(2, "0")} s`;
    return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
  }
  function formatRTT(ms) {
    if (ms == null) return "–";
    return ms < 10 ? `${ms.toFixed(2)} ms` : `${Math.round(ms)} ms`;
  }
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const dateFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });
  const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });
  function formatTime(ms) {
    const d = Date.now() - ms;
    if (d >= -60e3 && d < 60e3) return "just now";
    if (d > 0 && d < 3600e3) return rtf.format(-Math.round(d / 60e3), "minute");
    if (d > 0 && d < 86400e3) return rtf.format(-Math.round(d / 3600e3), "hour");
    if (d > 0 && d < 7 * 86400e3) return rtf.format(-Math.round(d / 86400e3), "day");
    return dateFmt.format(ms);
  }

  // ---------------------------------------------------------------- kinds and icons

  const EXT = {
    video: "mp4 m4v mkv webm mov avi wmv flv mpg mpeg ts m2ts 3gp ogv",
    audio: "mp3 wav flac ogg oga opus m4a aac wma aiff aif mid midi",
    image: "png jpg jpeg gif webp avif svg bmp ico tif tiff heic heif raw cr2 nef psd",
    document: "pdf txt md markdown rst doc docx odt rtf tex epub html htm xls xlsx ods ppt pptx odp pages key numbers log " +
      "go js mjs ts tsx jsx py rs c h cc cpp hpp java kt swift rb php sh css scss toml ini cfg conf",
    archive: "zip tar gz tgz bz2 tbz xz txz zst 7z rar lz lz4 iso dmg img deb rpm apk jar war whl cab",
    data: "json jsonl ndjson csv tsv xml yaml yml bin dat db sqlite sqlite3 parquet arrow avro npy npz h5 hdf5 pb proto wasm",
  };
  const extKind = new Map();
  for (const [kind, list] of Object.entries(EXT)) for (const e of list.split(" ")) extKind.set(e, kind);

  function kindOf(entry) {
    if (entry.isDir) return "folder";
    const t = entry.type || "";
    if (t.startsWith("video/")) return "video";
    if (t.startsWith("audio/")) return "audio";
    if (t.startsWith("image/")) return "image";
    const dot = entry.name.lastIndexOf(".");
    const ext = dot > 0 ? entry.name.slice(dot + 1).toLowerCase() : "";
    if (extKind.has(ext)) return extKind.get(ext);
    if (t.startsWith("text/") || t === "application/pdf") return "document";
    return /^(readme|license|changelog|notes|authors|makefile|dockerfile)$/i.test(entry.name) ? "document" : "data";
  }
  const KIND_LABEL = {
    special: "Special file", folder: "Folder", video: "Video", audio: "Audio", image: "Image",
    document: "Document", archive: "Archive", data: "Data",
  };

  const ICON_PATHS = {
    folder: '<path d="M3 7.5A2.5 2.5 0 0 1 5.5 5h3.6l2.2 2.2h7.2A2.5 2.5 0 0 1 21 9.7v7.8a2.5 2.5 0 0 1-2.5 2.5h-13A2.5 2.5 0 0 1 3 17.5z"/>',
    video: '<rect x="2.5" y="6" width="14" height="12" rx="2.5"/><path d="m16.5 10.5 5-3v9l-5-3"/>',
    audio: '<path d="M9 18V5.5l11-2v12.5"/><circle cx="6.5" cy="18" r="2.5"/><circle cx="17.5" cy="16" r="2.5"/>',
    image: '<rect x="3" y="4" width="18" height="16" rx="2.5"/><circle cx="8.5" cy="9.5" r="1.6"/><path d="m21 15.5-4.8-4.8L6 20.5"/>',
    document: '<path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z"/><path d="M14 3v5h5M9 13h6M9 17h4"/>',
    archive: '<rect x="3" y="3.5" width="18" height="5" rx="1.5"/><path d="M5 8.5V19a1.5 1.5 0 0 0 1.5 1.5h11A1.5 1.5 0 0 0 19 19V8.5M10 12.5h4"/>',
    special: '<circle cx="12" cy="12" r="8.5"/><path d="m6 6 12 12"/>',
    data: '<ellipse cx="12" cy="6" rx="7.5" ry="3"/><path d="M4.5 6v12c0 1.7 3.4 3 7.5 3s7.5-1.3 7.5-3V6M4.5 12c0 1.7 3.4 3 7.5 3s7.5-1.3 7.5-3"/>',
  };
  const UI_ICONS = {
    download: '<path d="M12 4v11m-4.5-4.5L12 15l4.5-4.5M5 20h14"/>',
    x: '<path d="M17 7 7 17M7 7l10 10"/>',
    retry: '<path d="M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7"/>',
    save: '<path d="M12 4v11m-4.5-4.5L12 15l4.5-4.5M5 20h14"/>',
    home: '<path d="M3.5 10.5 12 4l8.5 6.5V19a1.5 1.5 0 0 1-1.5 1.5h-4.5V15h-5v5.5H5A1.5 1.5 0 0 1 3.5 19z"/>',
    chevron: '<path d="m9 6 6 6-6 6"/>',
  };
  function svg(paths) {
    const s = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    s.setAttribute("viewBox", "0 0 24 24");
    s.setAttribute("aria-hidden", "true");
    s.innerHTML = paths; // static strings from this file only
    return s;
  }
  function kindIcon(kind) {
    const span = document.createElement("span");
    span.className = "kind-icon";
    span.append(svg(ICON_PATHS[kind] || ICON_PATHS.data));
    return span;
  }
  function el(tag, props = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "dataset") Object.assign(e.dataset, v);
      else if (k in e && k !== "type") e[k] = v;
      else e.setAttribute(k, v);
    }
    e.append(...children.filter((c) => c != null));
    return e;
  }

  // ---------------------------------------------------------------- the link in the fragment

  // The fragment carries the token (or a share link, #s=) and the folder: #t=TOKEN&p=/dir.
  // It never reaches the server (no logs, no Referer), and links to folders keep the token.
  function parseHash() {
    const q = new URLSearchParams(location.hash.slice(1));
    const token = q.get("t") || "";
    return { token, share: token ? "" : q.get("s") || "", path: normPath(q.get("p") || "/"), hasPath: q.has("p") };
  }
  // credential is the fragment's part that names what the page proves: the token or the
  // share link (whose characters need no escaping).
  function credential() {
    return state.token ? "t=" + encodeURIComponent(state.token) : "s=" + state.share;
  }
  // within keeps a path inside what this page may show (a share link's folder): anything
  // else is its top folder. The daemon refuses what is outside anyway; this keeps the app
  // from asking.
  function within(p) {
    const r = state.root;
    return r === "/" || p === r || p.startsWith(r + "/") ? p : r;
  }
  function normPath(p) {
    return "/" + p.split("/").filter((s) => s && s !== "." && s !== "..").join("/");
  }
  function hashFor(path) {
    let h = "#" + credential();
    if (path !== state.root) h += "&p=" + encodeURIComponent(path).replace(/%2F/g, "/");
    return h;
  }
  function linkFor() {
    return location.origin + location.pathname + "#" + credential();
  }

  // ---------------------------------------------------------------- error screens

  const ERRORS = {
    bad_link: ["This link has no access token",
      "Open the complete link the daemon printed, including the part after #t=.", false],
    unauthorized: ["The daemon refused this link's token",
      "The daemon may have restarted with a new token: open the link it printed most recently.", false],
    unreachable: ["Can't reach the daemon",
      "Check that rangecast serve is still running on that machine, then try again.", true],
    too_many_peers: ["The daemon is busy",
      "It is already serving as many browsers as it allows: close another rangecast tab or wait a moment, then try again.", true],
    setup_timeout: ["The connection could not be set up",
      "The daemon answered but the peer-to-peer connection never came up; a firewall may block UDP. Try again.", true],
    closed: ["Disconnected from the daemon",
      "The connection ended. Check that the daemon is running, then reconnect.", true],
    going_away: ["The daemon is shutting down",
      "It stopped serving files. Start it again, then reconnect.", true],
    protocol: ["The daemon answered something unexpected",
      "This page and the daemon may be different versions: reload the page, then try again.", true],
    link_expired: ["This share link has expired",
      "Ask the person who shared it with you for a new link.", false],
    link_revoked: ["This share link was revoked",
      "Its owner has taken it back. Ask them for a new link if you still need the files.", false],
    internal: ["Something went wrong",
      "Reload the page and try again; if it keeps happening, please report it with the details below.", true],
  };

  let retryAction = null;
  function showError(err, retry) {
    const code = (err && err.code) || "internal";
    const shared = state.share ? RangecastShare.errorFor(code, state.shareInfo) : null;
    const [title, text, canRetry] = shared || ERRORS[code] || ERRORS.internal;
    if (shared) RangecastShare.show(null); // the link grants nothing now
    const box = $("#error");
    box.dataset.code = code;
    box.dataset.share = state.share ? "1" : "";
    $("[data-field=title]", box).textContent = title;
    $("[data-field=text]", box).textContent = text;
    $("[data-field=detail]", box).textContent = `${code}: ${(err && err.message) || err}`;
    retryAction = canRetry ? (retry || (() => location.reload())) : null;
    $("#retry").hidden = !canRetry;
    $("#retry").parentElement.hidden = !canRetry;
    document.title = `${title} — rangecast`;
    $("#toast").hidden = true;
    closeViewer(true); // it would cover the screen
    stopTimers();
    setPageState("error");
    updateConn();
    if (canRetry) $("#retry").focus({ preventScroll: true });
  }

  function showSplash(title, text, status = "") {
    $("#splash [data-field=title]").textContent = title;
    $("#splash [data-field=text]").textContent = text;
    $("#splash [data-field=status]").textContent = status;
  }

  // ---------------------------------------------------------------- loading the wasm

  async function loadClient() {
    if (typeof Go !== "function") throw Object.assign(new Error("dist/wasm_exec.js did not load"), { code: "internal" });
    const go = new Go();
    // main() installs globalThis.rangecast and fires this event before go.run returns.
    const ready = new Promise((resolve) =>
      globalThis.addEventListener("rangecast:ready", (e) => resolve(e.detail), { once: true }));
    let result;
    try {
      // boot.js has been compiling the wasm (and connecting) since the page started.
      const boot = globalThis.rangecastBoot;
      result = boot ? { instance: await WebAssembly.instantiate(await boot.module, go.importObject) }
        : await WebAssembly.instantiateStreaming(fetch("dist/rangecast.wasm"), go.importObject);
    } catch (e) {
      // A server that sends the wasm with another Content-Type: compile from bytes instead.
      const resp = await fetch("dist/rangecast.wasm");
      if (!resp.ok) throw Object.assign(new Error(`dist/rangecast.wasm: HTTP ${resp.status}`), { code: "internal" });
      result = await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject);
    }
    // The Go heap lives in this memory, outside the JS heap: tests watch both.
    app.wasmMemoryBytes = () => result.instance.exports.mem.buffer.byteLength;
    const exited = go.run(result.instance);
    exited.then(() => {
      // The Go program never returns on its own: this is a crash.
      state.remote = null;
      showError({ code: "internal", message: "the WebAssembly client stopped; see the console" });
    });
    return Promise.race([ready, exited.then(() => { throw new Error("the WebAssembly client exited at start"); })]);
  }

  // ---------------------------------------------------------------- connecting

  let connectSeq = 0;
  async function connect() {
    const seq = ++connectSeq;
    const { token, share, path } = parseHash();
    if (state.remote) {
      const old = state.remote;
      state.remote = null;
      old.close().catch(() => {});
    }
    closeViewer(true);
    state.token = token;
    state.share = share;
    state.shareInfo = share ? RangecastShare.parse(share) : null;
    state.single = null;
    state.root = state.shareInfo && state.shareInfo.scope ? "/" + state.shareInfo.scope : "/";
    document.body.dataset.single = "";
    RangecastShare.show(null);
    if (!token && !share) {
      showError({ code: "bad_link", message: "the link has no #t= token" }, null);
      return;
    }
    if (share && !state.shareInfo) {
      showError({ code: "bad_link", message: "the share link (#s=) is not of the form ID.SCOPE.EXPIRY.SECRET" }, null);
      return;
    }
    state.dir = within(path);
    $("#home-link").href = hashFor(state.root);
    setPageState("connecting");
    showSplash("Connecting to the daemon…", "Setting up a direct peer-to-peer connection.");
    updateConn();
    let s;
    for (;;) {
      try {
        s = await state.rc.connect(linkFor());
        break;
      } catch (e) {
        if (seq !== connectSeq) return;
        // Through a relay, an unreachable daemon may just be offline: the relay says so at
        // once (503 daemon_offline). Wait for it to register again, then connect.
        if (e.code === "unreachable" && await relayOffline()) {
          if (!(await waitOnline(seq))) return;
          continue;
        }
        showError(e, connect);
        return;
      }
    }
    if (seq !== connectSeq) { s.close().catch(() => {}); return; }
    state.remote = s;
    s.addEventListener("statechange", onStateChange);
    s.addEventListener("close", onClose);
    fetchStatus(token || share);
    startTimers();
    if (state.shareInfo) {
      // What the link opens: a folder (the app's top folder from now on) or one file, which
      // opens straight into the viewer (the player, or the download).
      let st = null;
      if (state.shareInfo.scope) {
        try {
          st = await s.stat(state.root);
        } catch (e) {
          if (seq !== connectSeq) return;
          state.remote = null;
          s.close().catch(() => {});
          showError(e, connect);
          return;
        }
        if (seq !== connectSeq) return;
      }
      RangecastShare.show(state.shareInfo, !!st && !st.isDir);
      if (st && !st.isDir) {
        state.single = prepEntry(st);
        state.single.type = st.type || "";
        state.single.kind = st.special ? "special" : kindOf(state.single);
        document.body.dataset.single = "1";
        $("main").append($("#viewer")); // the viewer is the page, under the banner
        renderCrumbs();
        setPageState(s.state === "connected" ? "browsing" : "reconnecting");
        updateConn();
        // The player needs the service worker: on a first visit it takes control a moment
        // after the page loads.
        await Promise.race([app.serviceWorker, new Promise((r) => setTimeout(r, 5000))]);
        if (seq !== connectSeq) return;
        openViewer(state.single);
        extrasWhenIdle();
        return;
      }
    }
    await navigate(state.dir, true);
    extrasWhenIdle();
  }

  function onStateChange(e) {
    if (e.target !== state.remote) return;
    const d = e.detail;
    state.lastDetail = { ...d, at: Date.now() };
    switch (d.state) {
      case "connected":
        if (document.body.dataset.state === "disconnected" || document.body.dataset.state === "reconnecting") {
          setPageState("browsing");
          toast(d.attempt ? "Reconnected" : "Connection restored");
          if (!state.single) navigate(state.dir, true); // the folder may have changed meanwhile
        }
        break;
      case "disconnected":
        setPageState("disconnected");
        break;
      case "reconnecting":
      case "connecting":
        setPageState("reconnecting");
        break;
    }
    updateOffline();
    updateConn();
  }

  function onClose(e) {
    if (e.target !== state.remote) return;
    state.remote = null;
    const d = e.detail || {};
    showError({ code: d.code === "unauthorized" || d.code === "bad_link" ? d.code : d.code || "closed", message: d.message }, connect);
  }

  function updateOffline() {
    const d = state.lastDetail;
    const box = $("#offline");
    const status = $("[data-field=status]", box);
    const s = document.body.dataset.state;
    if (s !== "disconnected" && s !== "reconnecting") return;
    if (!d || d.state === "disconnected") {
      status.textContent = "Waiting for the daemon to answer…";
    } else if (d.state === "connecting") {
      status.textContent = `Reconnecting… (attempt ${d.attempt})`;
    } else if (d.state === "reconnecting") {
      const left = Math.max(0, d.at + (d.retryInMs || 0) - Date.now());
      status.textContent = left > 0
        ? `Reconnecting… next attempt in ${Math.ceil(left / 1000)} s (attempt ${d.attempt})`
        : `Reconnecting… (attempt ${d.attempt})`;
    }
  }

  // relayOffline asks the relay whether the link's daemon is registered: true when it
  // answers 503 daemon_offline (docs/RELAY.md, Presence). Always false on a daemon's own page.
  async function relayOffline() {
    if (!RELAYED) return false;
    try {
      const r = await fetch("api/v1/status", { cache: "no-store" });
      if (r.status !== 503) return false;
      const b = await r.json().catch(() => ({}));
      return b.code === "daemon_offline";
    } catch {
      return false;
    }
  }

  // waitOnline shows "offline; waiting" and polls the relay, backing off from 0.5 s to 5 s,
  // until the daemon is registered again: true then, false if another connect() took over.
  // The relay answers at once either way, so polling costs one small request each time.
  async function waitOnline(seq) {
    setPageState("waiting");
    showSplash("The daemon is offline; waiting for it",
      "It is not connected to the relay right now. This page connects by itself as soon as it is back.");
    updateConn();
    let delay = 500;
    for (let attempt = 1; seq === connectSeq; attempt++) {
      $("#splash [data-field=status]").textContent = `Checked ${attempt === 1 ? "once" : attempt + " times"}; next check in ${(delay / 1000).toFixed(1)} s`;
      await new Promise((r) => setTimeout(r, delay));
      if (seq !== connectSeq) return false;
      if (!(await relayOffline())) {
        if (seq !== connectSeq) return false;
        setPageState("connecting");
        showSplash("Connecting to the daemon…", "It is back online: setting up a peer-to-peer connection.");
        return true;
      }
      delay = Math.min(delay * 2, 5000);
    }
    return false;
  }

  // fetchStatus reads the daemon's status: the served folder's name and its UDP address.
  // Through a relay (a page at /d/<id>/) the token is never sent: the relay must not see it,
  // and the daemon answers relayed status requests with nothing about itself.
  const RELAYED = /^\/d\/[^/]+\/(index\.html)?$/.test(location.pathname);
  async function fetchStatus(token) {
    try {
      const headers = RELAYED ? {} : { Authorization: "Bearer " + token };
      const r = await fetch("api/v1/status", { headers, cache: "no-store" });
      if (!r.ok) return;
      const st = await r.json();
      if (st && Array.isArray(st.udp)) {
        state.udp = st.udp.join(", ");
        updateConn();
      }
      if (!state.share && st && typeof st.dir === "string" && st.dir && st.dir !== "." && st.dir !== "/") {
        state.rootName = st.dir;
        renderCrumbs();
        updateTitle();
      }
    } catch { /* the root keeps its generic name */ }
  }

  // ---------------------------------------------------------------- navigating

  function go(path) {
    path = within(normPath(path));
    const h = hashFor(path);
    if (location.hash !== h) location.hash = h; // hashchange navigates
    else navigate(path);
  }

  window.addEventListener("hashchange", () => {
    if (!state.rc) return;
    const { token, share, path } = parseHash();
    if (token !== state.token || share !== state.share || !state.remote) { connect(); return; }
    if (state.single) return;
    if (within(path) !== path) { go(state.root); return; }
    if (path !== state.dir) navigate(path);
  });

  // navigate lists the folder page by page (LIST with `after`): the first page shows at once,
  // later ones join the list as they arrive, and the view is rebuilt at most every few hundred
  // milliseconds meanwhile (more seldom if a rebuild is slow), so a huge folder never freezes.
  async function navigate(path, keepFilter = false) {
    const s = state.remote;
    if (!s || state.single) return;
    path = within(path);
    stopSearch(false);
    search.folderEntries = null;
    search.query = "";
    search.counts = null;
    if (search.all && path !== state.dir) { search.all = false; searchButton.setAttribute("aria-pressed", "false"); $("#filter").placeholder = "Filter this folder"; $("#filter").setAttribute("aria-label", "Filter this folder"); }
    const seq = ++state.navSeq;
    const changed = path !== state.dir;
    state.dir = path;
    if (changed && !keepFilter) { state.filter = ""; $("#filter").value = ""; clearTimeout(filterTimer); }
    renderCrumbs();
    updateTitle();
    const fresh = [];
    let err = null, after = "", shown = false, lastRefresh = 0, refreshCost = 0;
    // Until the first page arrives the previous folder's rows stay, under "Loading…".
    const slow = setTimeout(() => { if (seq === state.navSeq && !shown) showListStatus("Loading…", ""); }, 200);
    setListing("loading");
    try {
      for (;;) {
        const page = await s.list(path, after ? { after } : undefined);
        if (seq !== state.navSeq || s !== state.remote) return;
        for (const e of page.entries) fresh.push(prepEntry(e));
        if (page.entries.length) after = page.entries[page.entries.length - 1].name;
        if (!page.more) break;
        const now = performance.now();
        if (!shown || now - lastRefresh > Math.max(300, 3 * refreshCost)) {
          // The first page replaces the old folder's rows; later ones refresh the view.
          state.entries = fresh.slice();
          state.listError = null;
          if (!shown && changed) $(".table-wrap").scrollTop = 0;
          shown = true;
          renderFiles();
          lastRefresh = performance.now();
          refreshCost = lastRefresh - now;
        }
      }
    } catch (e) {
      err = e;
    } finally {
      clearTimeout(slow);
    }
    if (seq !== state.navSeq || s !== state.remote) return;
    state.entries = err ? [] : fresh;
    state.listError = err;
    if (!shown && changed) $(".table-wrap").scrollTop = 0;
    setListing(err ? "error" : "done");
    renderFiles();
    const ps = document.body.dataset.state;
    if (ps === "connecting" || ps === "loading") setPageState(s.state === "connected" ? "browsing" : "reconnecting");
    updateConn();
  }

  function setListing(v) {
    state.listing = v;
    $("#browser").dataset.listing = v;
  }

  // prepEntry copies an entry into a plain object of one fixed shape (the objects the wasm
  // builds are slow to read in a sort's inner loop) with what sorting, filtering and
  // rendering need, computed once.
  function prepEntry(e) {
    const special = e.special || "";
    const x = { name: e.name, path: e.path, size: e.size, mtime: e.mtime, isDir: e.isDir, mode: e.mode, special, type: "", kind: "", lname: e.name.toLowerCase(), rank: 0 };
    x.kind = special ? "special" : kindOf(x);
    return x;
  }

  function updateTitle() {
    const name = state.single ? state.single.name
      : state.dir === state.root ? rootLabel() : state.dir.slice(state.dir.lastIndexOf("/") + 1);
    document.title = `${name} — rangecast`;
    // The list's level-one heading, for screen readers (the crumbs show it on screen).
    let h1 = $("#browser-title");
    if (!h1) {
      h1 = el("h1", { id: "browser-title", className: "visually-hidden" });
      $("#browser").prepend(h1);
    }
    h1.textContent = name;
  }

  // rootLabel names the top folder: the shared folder's name, or a share link's folder.
  function rootLabel() {
    if (state.root !== "/") return state.root.slice(state.root.lastIndexOf("/") + 1);
    return state.rootName || "Files";
  }

  // The crumbs start at the top folder this page may show (a share link's folder).
  function renderCrumbs() {
    const nav = $("#crumbs");
    const parts = state.dir.slice(state.root.length).split("/").filter(Boolean);
    const items = [];
    const rootEl = el("span", { className: "root" }, svg(UI_ICONS.home), el("span", {}, rootLabel()));
    items.push(parts.length
      ? el("a", { href: hashFor(state.root), title: "Top folder" }, rootEl)
      : el("span", { className: "current", "aria-current": "page" }, rootEl));
    let acc = state.root === "/" ? "" : state.root;
    parts.forEach((p, i) => {
      acc += "/" + p;
      items.push(el("span", { className: "sep", "aria-hidden": "true" }, svg(UI_ICONS.chevron)));
      items.push(i === parts.length - 1
        ? el("span", { className: "current", "aria-current": "page", title: p }, p)
        : el("a", { href: hashFor(acc), title: p }, p));
    });
    nav.replaceChildren(...items);
  }

  // ---------------------------------------------------------------- the file list

  // One collator for every comparison (building one per comparison froze big folders): the
  // name order is computed once per listing as a rank, and every sort compares numbers.
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  let ranked = null; // the entries array the ranks were computed for, and its length
  let rankedLen = 0;
  function ensureRanks() {
    if (ranked === state.entries && rankedLen === state.entries.length) return;
    const byName = state.entries.slice().sort((a, b) => collator.compare(a.name, b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (let i = 0; i < byName.length; i++) byName[i].rank = i;
    ranked = state.entries;
    rankedLen = state.entries.length;
  }

  // sortedAll is every entry in the current order, kept per order until the listing
  // changes: a filter only filters it (order kept), and going back to an order is free.
  const sortedCache = { entries: null, len: -1, lists: new Map() };
  function sortedAll() {
    ensureRanks();
    const c = sortedCache;
    if (c.entries !== state.entries || c.len !== state.entries.length) {
      c.entries = state.entries;
      c.len = state.entries.length;
      c.lists.clear();
    }
    const { key, dir } = state.sort;
    const id = key + dir;
    let list = c.lists.get(id);
    if (list) return list;
    list = state.entries.slice();
    list.sort((a, b) => {
      if (a.isDir !== b.isDir) return a.isDir ? -1 : 1; // folders first, whatever the order
      let c = 0;
      if (key === "size") c = a.size - b.size;
      else if (key === "mtime") c = a.mtime - b.mtime;
      else if (key === "kind") c = a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0;
      return (c || a.rank - b.rank) * dir;
    });
    c.lists.set(id, list);
    return list;
  }

  function sortedEntries() {
    const all = sortedAll();
    const f = state.filter.trim().toLowerCase();
    return f ? all.filter((e) => e.lname.includes(f)) : all;
  }

  function showListStatus(title, text, isError, action) {
    const box = $("#list-status");
    box.className = "list-status" + (isError ? " error" : "");
    // replaceChildren turns null into the text "null": pass only nodes.
    box.replaceChildren(...[el("strong", {}, title), text ? el("span", {}, text) : null,
      action ? el("div", { className: "list-action" }, action) : null].filter(Boolean));
    box.hidden = false;
  }

  const LIST_ERRORS = {
    not_found: ["This folder does not exist", "It may have been moved or deleted."],
    not_directory: ["This is not a folder", "The link points at a file."],
    forbidden: ["This folder cannot be read", "The daemon may not read it or it lies outside the shared folder."],
    invalid_path: ["This path is not valid", "Go back to the top folder."],
  };

  // The table is virtual: only the rows in view (and ROW_MARGIN either side) are in the DOM,
  // between two spacer rows that stand for the rest. Rows have one fixed height, measured
  // from the first row rendered (CSS sets it; the mobile layout's is taller).
  const ROW_MARGIN = 20;
  let rowH = 50;
  let view = [];
  let win = { start: -1, end: -1, view: null };
  app.timings = { render: 0 };

  function renderFiles() {
    const t0 = performance.now();
    const tbody = $("#files tbody");
    for (const b of document.querySelectorAll("#files th .sort")) {
      const th = b.closest("th");
      if (b.dataset.sort === state.sort.key) th.setAttribute("aria-sort", state.sort.dir > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
    if (state.listError) {
      view = [];
      win = { start: -1, end: -1, view: null };
      tbody.replaceChildren();
      const e = state.listError;
      const [t, x] = LIST_ERRORS[e.code] || ["This folder could not be listed", e.message];
      const up = state.dir === state.root ? null : el("a", { className: "button", href: hashFor(state.dir.slice(0, state.dir.lastIndexOf("/")) || "/") }, "Go up one folder");
      showListStatus(t, x, true, up);
      $("#summary").textContent = "";
      return;
    }
    view = sortedEntries();
    renderWindow(true);
    if (search.query) { searchSummary(); app.timings.render = performance.now() - t0; return; }
    const loading = state.listing === "loading";
    if (!state.entries.length) {
      if (loading) showListStatus("Loading…", "");
      else showListStatus("This folder is empty", "");
    } else if (!view.length) showListStatus("Nothing matches this filter", "");
    else $("#list-status").hidden = true;

    let dirs = 0, total = 0;
    for (const e of state.entries) { if (e.isDir) dirs++; else total += e.size; }
    const filesN = state.entries.length - dirs;
    const parts = [];
    if (dirs) parts.push(`${dirs.toLocaleString()} folder${dirs === 1 ? "" : "s"}`);
    if (filesN) parts.push(`${filesN.toLocaleString()} file${filesN === 1 ? "" : "s"}, ${formatBytes(total)}`);
    if (state.filter.trim() && state.entries.length) parts.push(`${view.length.toLocaleString()} shown`);
    if (loading && state.entries.length) parts.push("loading more…");
    $("#summary").textContent = parts.join(" · ");
    app.timings.render = performance.now() - t0;
  }

  function searchSummary() {
    const c = search.counts || { folders: 0 };
    const n = state.entries.length;
    if (!n) showListStatus(search.running ? "Searching…" : "No names match", search.running ? "" : `in ${c.folders.toLocaleString()} folder${c.folders === 1 ? "" : "s"} under this one`);
    else $("#list-status").hidden = true;
    const text = `${n.toLocaleString()} match${n === 1 ? "" : "es"} for “${search.query.trim()}” · ${c.folders.toLocaleString()} folder${c.folders === 1 ? "" : "s"} searched${search.running ? " · searching…" : ""}`;
    const stop = el("button", { type: "button", id: "search-stop", className: "button small-button" }, "Stop");
    stop.addEventListener("click", () => { stopSearch(false); renderFiles(); $("#filter").focus(); });
    $("#summary").replaceChildren(text, search.running ? " " : "", search.running ? stop : "");
  }

  function spacer(h) {
    return el("tr", { className: "spacer", "aria-hidden": "true" }, el("td", { colSpan: 5, style: `height:${h}px` }));
  }

  // renderWindow puts the rows in view into the table; unless forced, only when they changed.
  function renderWindow(force) {
    const wrap = $(".table-wrap");
    const tbody = $("#files tbody");
    const head = $("#files thead").offsetHeight;
    const height = wrap.clientHeight || window.innerHeight;
    const first = Math.max(0, Math.floor((wrap.scrollTop - head) / rowH));
    const start = Math.max(0, first - ROW_MARGIN);
    const end = Math.min(view.length, first + Math.ceil(height / rowH) + 1 + ROW_MARGIN);
    if (!force && win.view === view && win.start === start && win.end === end) return;
    const focusedPath = document.activeElement?.closest?.("#files tbody tr")?.dataset.path;
    win = { start, end, view };
    const rows = [];
    if (start > 0) rows.push(spacer(start * rowH));
    for (let i = start; i < end; i++) rows.push(row(view[i]));
    if (end < view.length) rows.push(spacer((view.length - end) * rowH));
    tbody.replaceChildren(...rows);
    if (focusedPath) rowFor(focusedPath)?.querySelector("a, button")?.focus({ preventScroll: true });
    const r = tbody.querySelector("tr[data-path]");
    if (r) {
      const h = r.getBoundingClientRect().height;
      if (h > 0 && Math.abs(h - rowH) > 0.5) { rowH = h; renderWindow(true); }
    }
  }

  function rowFor(path) {
    for (const r of $("#files tbody").children) if (r.dataset.path === path) return r;
    return null;
  }

  let scrollQueued = false;
  $(".table-wrap").addEventListener("scroll", () => {
    if (scrollQueued) return;
    scrollQueued = true;
    requestAnimationFrame(() => { scrollQueued = false; renderWindow(false); });
  }, { passive: true });
  window.addEventListener("resize", () => renderWindow(false));

  // What cannot be opened or downloaded, from the LIST entry's mode (Entry.special).
  const SPECIAL = {
    symlink: ["Link outside", "a link that leads outside the shared folder, or nowhere"],
    fifo: ["FIFO", "a named pipe"],
    socket: ["Socket", "a Unix socket"],
    device: ["Device", "a device file"],
    irregular: ["Special file", "not a regular file"],
  };

  function row(e) {
    const sp = e.special ? (SPECIAL[e.special] || SPECIAL.irregular) : null;
    let name;
    if (e.isDir) {
      name = el("a", { className: "entry", href: hashFor(e.path) }, kindIcon(e.kind), el("span", { className: "label" }, e.name),
        e.inDir ? el("span", { className: "in-dir" }, e.inDir) : null);
      name.title = e.name;
    } else if (sp) {
      name = el("span", { className: "entry special" }, kindIcon(e.kind), el("span", { className: "label" }, e.name));
      name.title = `${e.name}: ${sp[1]}; it cannot be opened or downloaded`;
    } else {
      const icon = kindIcon(e.kind);
      if (e.kind === "image" && globalThis.RangecastThumbs) RangecastThumbs.request(e, icon, () => state.remote);
      name = el("button", { type: "button", className: "entry open-button" }, icon, el("span", { className: "label" }, e.name),
        e.inDir ? el("span", { className: "in-dir" }, e.inDir) : null);
      name.title = `Open ${e.name}`;
      name.addEventListener("click", () => openViewer(e, name));
    }
    let action = null;
    if (!e.isDir && !sp) {
      // Through the service worker: the browser's download manager writes it to disk as it
      // arrives, so the page's memory stays flat whatever the size. The click checks first
      // that the daemon serves the file (downloadChecked): a failure is a message here, never
      // an error page in place of the app.
      action = el("a", { className: "dl-button", href: streamURL(e.path, true), title: `Download ${e.name}`, "aria-label": `Download ${e.name}` },
        svg(UI_ICONS.download), el("span", { className: "dl-text" }, "Download"));
      action.addEventListener("click", (ev) => { ev.preventDefault(); downloadChecked(e); });
    }
    const tr = el("tr", { dataset: { path: e.path, kind: e.kind } },
      el("td", { className: "name" }, name),
      el("td", { className: "kind" }, sp ? sp[0] : KIND_LABEL[e.kind]),
      el("td", { className: "size" }, e.isDir || sp ? "—" : formatBytes(e.size)),
      el("td", { className: "mtime", title: fullFmt.format(e.mtime) }, formatTime(e.mtime)),
      el("td", { className: "actions" }, action));
    if (sp) tr.dataset.special = e.special;
    return tr;
  }

  for (const b of document.querySelectorAll("#files th .sort")) {
    b.addEventListener("click", () => {
      const key = b.dataset.sort;
      state.sort = state.sort.key === key ? { key, dir: -state.sort.dir } : { key, dir: key === "mtime" || key === "size" ? -1 : 1 };
      renderFiles();
    });
  }
  // Filtering waits for a pause in typing (FILTER_DEBOUNCE_MS), then rebuilds the view once.
  const FILTER_DEBOUNCE_MS = 100;
  let filterTimer = 0;
  $("#filter").addEventListener("input", (e) => {
    clearTimeout(filterTimer);
    const v = e.target.value;
    filterTimer = setTimeout(() => {
      if (search.all) { startSearch(v); return; }
      state.filter = v;
      $(".table-wrap").scrollTop = 0;
      renderFiles();
    }, search.all ? SEARCH_DEBOUNCE_MS : FILTER_DEBOUNCE_MS);
  });

  // ---------------------------------------------------------------- search in all folders

  // With "All folders" pressed, the filter box searches names under the current folder,
  // recursively (search.js); the matches replace the folder's rows as they are found, each
  // with the folder it is in. Stop, a new query, the button or a navigation cancel the walk.
  const SEARCH_DEBOUNCE_MS = 250;
  const search = { all: false, query: "", running: false, ctrl: null, folderEntries: null, counts: null, seq: 0 };
  app.search = search;
  const searchButton = el("button", { type: "button", id: "search-all", className: "button", "aria-pressed": "false",
    title: "Search the names of every file in this folder and the folders under it" }, "All folders");
  $("#refresh").before(searchButton);
  searchButton.addEventListener("click", () => {
    search.all = !search.all;
    searchButton.setAttribute("aria-pressed", String(search.all));
    $("#filter").placeholder = search.all ? "Search all folders" : "Filter this folder";
    $("#filter").setAttribute("aria-label", $("#filter").placeholder);
    if (search.all) {
      state.filter = "";
      startSearch($("#filter").value);
    } else {
      stopSearch(true);
      state.filter = $("#filter").value;
      renderFiles();
    }
    $("#filter").focus();
  });

  function startSearch(q) {
    if (!globalThis.RangecastSearch) { whenExtra("RangecastSearch", "Search", () => startSearch(q)); return; }
    stopSearch(false);
    const s = state.remote;
    if (!q.trim() || !s) { leaveResults(); renderFiles(); return; }
    if (!search.folderEntries) search.folderEntries = state.entries;
    const seq = ++search.seq;
    const ctrl = new AbortController();
    const results = [];
    Object.assign(search, { query: q, running: true, ctrl, counts: { folders: 0, entries: 0 } });
    state.entries = results;
    state.listError = null;
    $(".table-wrap").scrollTop = 0;
    let queued = false;
    const refresh = () => {
      if (queued) return;
      queued = true;
      setTimeout(() => { queued = false; if (seq === search.seq) renderFiles(); }, 150);
    };
    renderFiles();
    RangecastSearch.walk(s, state.dir, q, {
      signal: ctrl.signal,
      onFound: (es) => { if (seq !== search.seq) return; for (const e of es) { const x = prepEntry(e); x.inDir = e.path.slice(0, e.path.lastIndexOf("/")) || "/"; results.push(x); } refresh(); },
      onProgress: (c) => { if (seq === search.seq) { search.counts = { ...c }; refresh(); } },
    }).then(() => {
      if (seq !== search.seq) return;
      search.running = false;
      renderFiles();
    }, () => {});
  }

  // stopSearch cancels a walk in progress; with leave, it also puts the folder's rows back.
  function stopSearch(leave) {
    if (search.running) {
      search.ctrl.abort();
      search.running = false;
      search.seq++;
    }
    if (leave) leaveResults();
  }
  function leaveResults() {
    if (search.folderEntries) {
      state.entries = search.folderEntries;
      search.folderEntries = null;
    }
    search.query = "";
    search.counts = null;
  }
  app.stopSearch = () => { stopSearch(false); renderFiles(); };
  $("#refresh").addEventListener("click", () => navigate(state.dir, true));

  // "Download as zip": the folder as one ZIP the page writes while it reads the files
  // (client-zip through zip.js), served by the worker to the browser's download manager.
  const zipButton = el("button", { type: "button", id: "zip-button", className: "button icon-button", hidden: true,
    title: "Download this folder as a zip", "aria-label": "Download this folder as a zip" }, svg(ICON_PATHS.archive));
  $("#refresh").after(zipButton);
  const showZip = () => { zipButton.hidden = typeof RangecastZip === "undefined"; };
  globalThis.addEventListener("rangecast:zip", showZip);
  showZip();
  zipButton.addEventListener("click", () => {
    if (!swControls()) { notify("A zip needs the page's service worker: reload the page, then try again.", true); return; }
    if (!state.remote || state.remote.state !== "connected") { notify("Not connected to the daemon right now.", true); return; }
    const enc = state.dir.split("/").filter(Boolean).map(encodeURIComponent).join("/");
    const a = el("a", { href: new URL(`zip/${enc}`, location.href).href, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    notify(`Downloading ${state.dir === "/" ? rootLabel() : state.dir.slice(state.dir.lastIndexOf("/") + 1)} as a zip`);
  });
  $("#retry").addEventListener("click", () => { if (retryAction) retryAction(); });
  $("#reconnect-now").addEventListener("click", () => { state.remote?.reconnect().catch(() => {}); });

  // ---------------------------------------------------------------- checked downloads

  // Downloads and the viewer hand the browser a stream URL only once the daemon has opened
  // the file for this page: if it cannot be served (a name the daemon refuses, a file that is
  // gone or unreadable) the app says so, where a navigation would have replaced the whole app
  // (and its session) with the worker's error text.
  async function checkReadable(path) {
    const s = state.remote;
    if (!s || s.state !== "connected") throw { code: "unreachable", message: "not connected to the daemon" };
    const f = await s.open(path);
    f.close().catch(() => {});
    return f;
  }

  const WHY = {
    not_regular: "it is not a regular file",
    invalid_path: "the daemon refuses its name (a backslash, or another character it cannot serve)",
    not_found: "it is gone",
    forbidden: "the daemon may not read it, or it leads outside the shared folder",
    unreachable: "not connected to the daemon right now",
    closed: "the connection was lost",
    busy: "the daemon is busy: try again",
  };
  function failMessage(name, err, verb) {
    return `${name} cannot be ${verb}: ${WHY[err && err.code] || (err && err.message) || String(err)}`;
  }

  async function downloadChecked(e) {
    if (!swControls()) { startDownload(e); return; }
    try {
      await checkReadable(e.path);
    } catch (err) {
      notify(failMessage(e.name, err, "downloaded"), true);
      return;
    }
    // A plain link (the worker's answer is an attachment, so the page stays): with a download
    // attribute Chromium fetches the file past the service worker, from the daemon, which has
    // no such URL. Only a file removed between the check and the request still gets the
    // worker's error page.
    const a = el("a", { href: streamURL(e.path, true), hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    notify(`Downloading ${e.name}`);
  }
  app.download = (path) => downloadChecked(state.entries.find((x) => x.path === path) || { name: path.slice(path.lastIndexOf("/") + 1), path, isDir: false });

  // ---------------------------------------------------------------- downloads

  // The fallback when no service worker controls the page (the first load before it claims
  // the page, or a browser without service workers): each download streams the file through
  // File.stream() into Blob parts and saves the Blob with an <a download> at the end, holding
  // the file in memory (Chromium pages large Blobs to disk).
  let dlSeq = 0;
  const PART = 16 << 20; // bytes gathered before they are folded into a Blob part

  async function startDownload(entry) {
    const s = state.remote;
    if (!s) return;
    const d = {
      id: ++dlSeq, name: entry.name, path: entry.path, kind: entry.kind || kindOf(entry),
      size: entry.size, received: 0, state: "running", error: null,
      samples: [], reader: null, url: null, started: performance.now(), finished: 0,
    };
    app.downloads.set(d.id, d);
    renderDownloads();
    let file = null;
    try {
      file = await s.open(d.path);
      d.size = file.size;
      d.type = file.type;
      if (d.state !== "running") return;
      d.reader = file.stream().getReader();
      const parts = [];
      let pending = [], pendingBytes = 0;
      for (;;) {
        const { done, value } = await d.reader.read();
        if (done) break;
        pending.push(value);
        pendingBytes += value.length;
        d.received += value.length;
        if (pendingBytes >= PART) {
          parts.push(new Blob(pending));
          pending = [];
          pendingBytes = 0;
        }
      }
      if (d.state !== "running") return;
      parts.push(new Blob(pending));
      const blob = new Blob(parts, { type: d.type || "application/octet-stream" });
      d.url = URL.createObjectURL(blob);
      d.state = "done";
      d.finished = performance.now();
      save(d);
    } catch (e) {
      if (d.state === "running") {
        d.state = "failed";
        d.error = e;
      }
    } finally {
      d.reader = null;
      if (file) file.close().catch(() => {});
      renderDownloads();
    }
  }

  function save(d) {
    const a = el("a", { href: d.url, download: d.name });
    document.body.append(a);
    a.click();
    a.remove();
  }

  function cancelDownload(d) {
    if (d.state !== "running") return;
    d.state = "canceled";
    d.reader?.cancel("canceled by the user").catch(() => {});
    renderDownloads();
  }

  function dismissDownload(d) {
    if (d.state === "running") cancelDownload(d);
    if (d.url) URL.revokeObjectURL(d.url);
    app.downloads.delete(d.id);
    renderDownloads();
  }

  function speedOf(d) {
    const now = performance.now();
    d.samples.push([now, d.received]);
    while (d.samples.length > 2 && now - d.samples[0][0] > 2000) d.samples.shift();
    const [t0, n0] = d.samples[0];
    return now - t0 > 200 ? ((d.received - n0) * 1000) / (now - t0) : 0;
  }

  function downloadMeta(d) {
    switch (d.state) {
      case "running": {
        if (d.waiting) {
          // The connection went: the download goes on once it is back (resumeStream).
          const pct = d.size > 0 ? ` at ${Math.floor((d.received / d.size) * 100)}%` : "";
          return `Paused${pct} · reconnecting…`;
        }
        const sp = speedOf(d);
        if (!(d.size > 0)) return `${formatBytes(d.received)} · ${formatRate(sp)}`; // a zip: its length is not known ahead
        const eta = sp > 0 ? formatDuration((d.size - d.received) / sp) : "";
        const pct = d.size > 0 ? Math.floor((d.received / d.size) * 100) : 0;
        const of = `${pct}% of ${formatBytes(d.size)}`;
        return d.received === 0 && !d.reader && d.mode !== "worker" ? "Opening…" : `${of} · ${formatRate(sp)}${eta ? ` · ${eta} left` : ""}`;
      }
      case "done": {
        const secs = (d.finished - d.started) / 1000;
        return `Done · ${formatBytes(d.size)} in ${formatDuration(secs)}`;
      }
      case "canceled":
        return "Canceled";
      case "failed": {
        const code = d.error && d.error.code;
        const why = d.error && d.error.waited ? `the connection did not come back within ${d.error.waited / 1000} s`
          : code === "closed" || code === "unreachable" ? "connection lost"
          : code === "changed" ? "the file changed while downloading"
            : code === "not_found" ? "the file is gone" : (d.error && d.error.message) || "failed";
        return `Failed: ${why}`;
      }
    }
    return "";
  }

  function renderDownloads() {
    const list = $("#downloads-list");
    const all = [...app.downloads.values()];
    $("#downloads").hidden = all.length === 0;
    const running = all.filter((d) => d.state === "running").length;
    $("#downloads-count").textContent = running ? `${running} active` : String(all.length);
    const existing = new Map([...list.children].map((li) => [Number(li.dataset.id), li]));
    for (const d of all) {
      let li = existing.get(d.id);
      existing.delete(d.id);
      if (!li) {
        li = el("li", { className: "dl", dataset: { id: String(d.id), kind: d.kind, mode: d.mode || "page" } },
          kindIcon(d.kind),
          el("span", { className: "dl-name", title: d.path }, d.name),
          el("div", { className: "dl-actions" }),
          el("div", { className: "progress", role: "progressbar", "aria-label": `Download of ${d.name}` }, el("div")),
          el("span", { className: "dl-meta" }));
        list.prepend(li);
      }
      if (li.dataset.state !== d.state) {
        li.dataset.state = d.state;
        const actions = $(".dl-actions", li);
        const btns = [];
        if (d.state === "running") {
          btns.push(iconButton(UI_ICONS.x, `Cancel download of ${d.name}`, () => cancelDownload(d)));
        } else {
          if (d.state === "done" && d.url) {
            const a = el("a", { href: d.url, download: d.name, title: "Save again", "aria-label": `Save ${d.name} again` }, svg(UI_ICONS.save));
            btns.push(a);
          }
          if (d.state === "failed" || d.state === "canceled") {
            btns.push(iconButton(UI_ICONS.retry, `Retry download of ${d.name}`, () => {
              dismissDownload(d);
              const entry = { name: d.name, path: d.path, size: d.size, kind: d.kind, isDir: false };
              if (d.mode === "worker") downloadChecked(entry);
              else startDownload(entry);
            }));
          }
          btns.push(iconButton(UI_ICONS.x, `Remove ${d.name} from the list`, () => dismissDownload(d)));
        }
        actions.replaceChildren(...btns);
      }
      li.dataset.waiting = d.waiting ? "1" : "";
      const pct = d.size > 0 ? Math.min(100, (d.received / d.size) * 100) : d.state === "done" ? 100 : 0;
      $(".progress > div", li).style.width = `${pct.toFixed(1)}%`;
      $(".progress", li).setAttribute("aria-valuenow", String(Math.round(pct)));
      $(".dl-meta", li).textContent = downloadMeta(d);
    }
    for (const li of existing.values()) li.remove();
    downloadsClearance();
  }

  // The panel floats over the bottom right of the list: the list gets room below its last
  // row to scroll that row clear of it (--downloads-clearance).
  function downloadsClearance() {
    const panel = $("#downloads"), wrap = $(".table-wrap");
    let h = 0;
    if (!panel.hidden && wrap) {
      const p = panel.getBoundingClientRect(), w = wrap.getBoundingClientRect();
      if (p.left < w.right && p.right > w.left) h = Math.max(0, Math.ceil(w.bottom - p.top) + 8);
    }
    document.documentElement.style.setProperty("--downloads-clearance", `${h}px`);
  }
  window.addEventListener("resize", downloadsClearance);

  function iconButton(icon, label, onClick) {
    const b = el("button", { type: "button", title: label, "aria-label": label }, svg(icon));
    b.addEventListener("click", onClick);
    return b;
  }

  $("#downloads-clear").addEventListener("click", () => {
    for (const d of [...app.downloads.values()]) if (d.state !== "running") dismissDownload(d);
  });

  // ---------------------------------------------------------------- service worker bridge

  // sw.js answers /stream/<path> requests (media elements, downloads, copied links) with bytes
  // this page reads over its connection: the worker cannot hold a peer connection. For each
  // request the worker sends a MessagePort; the protocol is described at the top of sw.js.

  // The worker's scope is the app's own folder: "/" on a daemon, "/d/<id>/" on a relay, so
  // that the pages of several daemons on one relay each have their own worker, which serves
  // only its own pages. Stream URLs live under it: stream/<path>, relative to the page.
  function streamURL(path, download = false) {
    const enc = path.split("/").filter(Boolean).map(encodeURIComponent).join("/");
    return new URL(`stream/${enc}${download ? "?download=1" : ""}`, location.href).href;
  }
  app.streamURL = streamURL;

  function swControls() {
    return "serviceWorker" in navigator && !!navigator.serviceWorker.controller;
  }

  // app.serviceWorker resolves once a worker controls this page (at once after the first
  // visit; after clients.claim() on the first).
  app.serviceWorker = new Promise((resolve) => {
    if (!("serviceWorker" in navigator)) return;
    if (navigator.serviceWorker.controller) { resolve(true); return; }
    navigator.serviceWorker.addEventListener("controllerchange", () => { resolve(true); renderFiles(); }, { once: true });
  });

  function registerWorker() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.addEventListener("message", (e) => {
      if (e.data && e.data.type === "rangecast:stream" && e.ports[0]) servePort(e.ports[0]);
    });
    navigator.serviceWorker.register("sw.js", { scope: "./" }).catch((err) => {
      console.warn("rangecast: service worker not registered; playback and downloads fall back to memory", err);
    });
  }

  // remoteForStream waits for this page's Remote to be connected (a request may arrive
  // while the page is still connecting after a reload). null: this page has none to offer.
  async function remoteForStream(timeoutMs) {
    const until = performance.now() + timeoutMs;
    for (;;) {
      const s = state.remote;
      if (s && s.state === "connected") return s;
      const ps = document.body.dataset.state;
      if (ps === "error" || performance.now() > until) return s && s.state !== "closed" ? s : null;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  // While streams are open, tell the worker every 10 s that it is still needed: Chromium stops
  // a worker that has had no event for 30 s, even one whose response body is still flowing.
  let activeStreams = 0, keepaliveTimer = 0;
  app.streams = { get active() { return activeStreams; }, served: 0 };
  function streamStarted() {
    activeStreams++;
    app.streams.served++;
    if (!keepaliveTimer) keepaliveTimer = setInterval(() => navigator.serviceWorker.controller?.postMessage("keepalive"), 10000);
  }
  function streamEnded() {
    if (--activeStreams === 0) { clearInterval(keepaliveTimer); keepaliveTimer = 0; }
  }

  // How long a worker download waits for a lost connection to come back before it fails
  // (tests shorten it).
  app.resumeWaitMs = 60000;
  const LOST = new Set(["closed", "unreachable", "going_away", "setup_timeout", "canceled"]);
  // sessionLost tells a read that failed because the connection went (worth waiting for it to
  // come back) from one the file itself refused (gone, changed, forbidden).
  function sessionLost(e) {
    const s = state.remote;
    return LOST.has(e && e.code) || !s || s.state !== "connected";
  }

  function toBuffer(v) {
    return v.byteOffset === 0 && v.byteLength === v.buffer.byteLength ? v.buffer : v.slice().buffer;
  }

  const MAX_BATCH = 1 << 20; // the most bytes one pull of the worker is answered with

  // A <video> that seeks often drops its new request at once and asks again a little further
  // on: Chromium's media cache opens another request when its reader jumps further than
  // about 160 KiB past what the one it has brought in (for a film whose audio and video of
  // one moment lie apart). The bytes the second request wants are then on their way in the
  // first, or were just handed to it: the read a dropped request leaves is kept for PARK_MS,
  // with the last PARK_BACK bytes it served (copies: the served ones went to the worker), and a
  // request for the same file that starts within them or at most PARK_SKIP ahead takes it
  // over, instead of opening the file and reading again behind everything the first has in
  // flight (TestVideoOverWAN, docs/BENCHMARKS.md).
  //
  // A request that comes while a read of its file is parked uses that read's File too (no
  // OPEN, whose answer would queue behind the parked read's bytes), whether or not it then
  // takes the read over. One that does not leaves the read parked for PARK_MISS_MS more at
  // most (Chromium asks for other ranges while it seeks, before it asks again), not longer:
  // a parked read goes on arriving, up to its credit, ahead of the new request's bytes. A
  // File is closed once nobody holds it.
  const PARK_MS = 1000, PARK_MISS_MS = 250, PARK_SKIP = 2 << 20, PARK_BACK = 1 << 20;
  let parked = null; // {path, file, reader, pos, queue, back, backLen, inflight, timer}
  const holds = new WeakMap(); // File → how many requests and parked reads use it
  function hold(file) {
    holds.set(file, (holds.get(file) || 0) + 1);
    return file;
  }
  function release(file) {
    const n = (holds.get(file) || 1) - 1;
    holds.set(file, n);
    if (n === 0) file.close().catch(() => {});
  }
  function park(p) {
    unpark();
    parked = p;
    p.timer = setTimeout(unpark, PARK_MS);
  }
  function unpark() {
    const p = parked;
    if (!p) return;
    parked = null;
    clearTimeout(p.timer);
    p.reader.cancel("the browser dropped the request").catch(() => {});
    release(p.file);
  }
  // takeParked hands the parked read of file to a request, which holds file too, starting at
  // offset, if the read covers offset. If not, the read stays parked PARK_MISS_MS more at most.
  function takeParked(file, offset) {
    const p = parked;
    if (!p || p.file !== file) return null;
    if (offset < p.pos - p.backLen || offset - p.pos > PARK_SKIP) {
      if (!p.missed) {
        p.missed = true;
        clearTimeout(p.timer);
        p.timer = setTimeout(unpark, app.streams.parkMissMs);
      }
      return null;
    }
    parked = null;
    clearTimeout(p.timer);
    release(p.file); // the request's own hold remains
    return p;
  }
  app.streams.parkedReads = 0; // requests that took over a dropped one's read (tests)
  // How long a read stays parked after a request that did not take it over: PARK_MISS_MS; a
  // test of the takeover on a loaded machine makes it longer.
  app.streams.parkMissMs = PARK_MISS_MS;

  function servePort(port) {
    let file = null, reader = null, pos = -1, ended = false, batch = 0;
    let queue = []; // chunks read from reader, not yet served, from pos on
    let back = [], backLen = 0; // copies of the last chunks served, up to pos (not for downloads)
    let inflight = null; // the read of reader that a pull waits for, if any
    let download = false, dlPath = "", dl = null; // a download's entry in the Downloads panel, from its first read
    let zipping = false; // the port serves a folder as a ZIP (op "zip"): reader reads the archive
    let etag = ""; // the ETag the worker's response carries: a resumed read must find the same
    streamStarted();
    // resumeStream waits, after the session was lost mid-download, for the page's connection
    // to come back (the Remote redials by itself), reopens the file on it, checks that its
    // ETag is the one the response was sent with, and goes on reading from pos: the browser's
    // download manager sees a download that paused. Nothing is buffered meanwhile: the
    // worker's pull waits (the page tells it so every few seconds, so that it does not time
    // out). It throws when the connection does not come back within app.resumeWaitMs, when the
    // file changed, or when the download ends meanwhile.
    const resumeStream = async (lost) => {
      const waitMs = app.resumeWaitMs;
      const until = performance.now() + waitMs;
      dl.waiting = true;
      dl.samples = [];
      renderDownloads();
      const beat = setInterval(() => { if (!ended) port.postMessage({ waiting: true }); }, 5000);
      try {
        for (;;) {
          await new Promise((r) => setTimeout(r, 500));
          if (ended) throw lost;
          if (dl.state !== "running") throw { code: "canceled", message: "canceled: the download was canceled in the page" };
          if (performance.now() > until) throw { code: "unreachable", waited: waitMs, message: `the connection did not come back within ${waitMs / 1000} s` };
          const s = state.remote;
          if (!s || s.state !== "connected") continue;
          let f;
          try {
            f = await s.open(dlPath, { signal: AbortSignal.timeout(10000) });
          } catch (e) {
            if (sessionLost(e) || e.name === "AbortError" || e.name === "TimeoutError") continue;
            throw e;
          }
          if (ended) { f.close().catch(() => {}); throw lost; }
          if (f.etag !== etag) {
            f.close().catch(() => {});
            throw { code: "changed", message: `${dlPath} changed while it was downloading` };
          }
          reader?.cancel().catch(() => {});
          if (file) release(file);
          file = hold(f);
          reader = file.stream(pos).getReader();
          dl.resumes = (dl.resumes || 0) + 1;
          return;
        }
      } finally {
        clearInterval(beat);
        dl.waiting = false;
        renderDownloads();
      }
    };
    // readOn reads the file's next chunk. A download outlives its session: it waits for the
    // page's connection to come back, then goes on from pos over the new one (resumeStream).
    const readOn = async () => {
      if (queue.length) return { done: false, value: queue.shift() };
      for (;;) {
        try {
          return await reader.read();
        } catch (e) {
          if (ended || !download || !sessionLost(e)) throw e;
          await resumeStream(e);
        }
      }
    };
    // readKept is readOn for a pull. If the request is dropped (its read parked) while the
    // pull waits, the pull drops what it gets: the parked read hands that promise on as
    // inflight, and whoever takes it over starts with its chunk, at pos.
    const readKept = async () => {
      const p = readOn();
      inflight = p;
      try {
        return await p;
      } finally {
        if (inflight === p) inflight = null;
      }
    };
    // adopt makes a, a parked read that covers offset, this request's read, and brings it to
    // offset: it serves again what the dropped request was given, or skips ahead. It reports
    // whether the read is at offset (not if it ended first, or the request did).
    const adopt = async (a, offset) => {
      reader = a.reader;
      pos = a.pos;
      queue = a.queue;
      if (a.inflight) { // the dropped request's last read: its chunk comes first
        const r = await a.inflight.catch(() => null);
        if (r && !r.done) queue.unshift(r.value);
        if (ended) return false;
      }
      if (offset < pos) { // serve again what the dropped request was given
        let off = pos - a.backLen;
        const again = [];
        for (const c of a.back) {
          if (off + c.length > offset) again.push(off >= offset ? c : c.subarray(offset - off));
          off += c.length;
        }
        queue = again.concat(queue);
        pos = offset;
      }
      while (pos < offset) { // skip to where this request starts
        const r = await readKept();
        if (ended || r.done) return false;
        const k = Math.min(r.value.length, offset - pos);
        pos += k;
        if (k < r.value.length) queue.unshift(r.value.subarray(k));
      }
      return true;
    };
    const finish = (how) => {
      if (ended) return;
      ended = true;
      if (dl && dl.state === "running") workerDownloadEnded(dl, how);
      if (how === "canceled" && reader && file && !download && !zipping) {
        park({ path: dlPath, file, reader, pos, queue, back, backLen, inflight }); // with this hold
      } else {
        reader?.cancel("the browser dropped the request").catch(() => {});
        if (file) release(file);
      }
      reader = null;
      port.close();
      streamEnded();
    };
    port.onmessage = async (m) => {
      const msg = m.data || {};
      if (ended) return;
      switch (msg.op) {
        case "open": {
          const s = await remoteForStream(15000);
          if (!s) {
            port.postMessage({ ok: false, code: "not_connected", message: "this page has no connection to the daemon" });
            finish();
            return;
          }
          try {
            file = hold(!msg.download && parked && parked.path === msg.path ? parked.file : await s.open(msg.path));
          } catch (e) {
            port.postMessage({ ok: false, code: e.code || "internal", message: e.message || String(e) });
            finish();
            return;
          }
          if (ended) { release(file); return; }
          download = !!msg.download;
          dlPath = msg.path;
          etag = file.etag;
          port.postMessage({ ok: true, size: file.size, type: file.type, etag: file.etag, mtime: file.mtime });
          return;
        }
        case "zip": {
          const s = await remoteForStream(15000);
          let err = null;
          if (!s) err = { code: "not_connected", message: "this page has no connection to the daemon" };
          else if (typeof RangecastZip === "undefined") err = { code: "internal", message: "this page has no zip writer (dist/client-zip.js)" };
          else {
            try {
              const st = await s.stat(msg.path);
              if (!st.isDir) err = { code: "not_directory", message: "not a folder" };
            } catch (e) {
              err = { code: e.code || "internal", message: e.message || String(e) };
            }
          }
          if (err || ended) {
            if (err) port.postMessage({ ok: false, ...err });
            finish();
            return;
          }
          const name = msg.path === "/" ? (state.root === "/" ? state.rootName || "files" : rootLabel()) : msg.path.slice(msg.path.lastIndexOf("/") + 1);
          reader = RangecastZip.makeZip(zipEntries(s, msg.path)).getReader();
          zipping = true;
          dl = workerDownloadStarted(msg.path, { size: 0, type: "application/zip" }, 0);
          dl.name = name + ".zip";
          dl.kind = "archive";
          renderDownloads();
          port.postMessage({ ok: true, name });
          return;
        }
        case "pull": {
          if (zipping) {
            if (dl.state === "canceled") {
              port.postMessage({ error: "canceled: the download was canceled in the page" });
              finish("canceled");
              return;
            }
            try {
              const { done, value } = await reader.read();
              if (ended) return;
              if (done) { port.postMessage({ done: true }); return; }
              dl.received += value.length;
              const buf = toBuffer(value);
              port.postMessage({ chunks: [buf] }, [buf]);
            } catch (e) {
              if (!ended) port.postMessage({ error: `${e.code || "internal"}: ${e.message || e}` });
              dl.error = e;
              finish("failed");
            }
            return;
          }
          if (download && !dl) dl = workerDownloadStarted(dlPath, file, msg.offset);
          if (dl && dl.state === "canceled") {
            port.postMessage({ error: "canceled: the download was canceled in the page" });
            finish("canceled");
            return;
          }
          try {
            const a = !reader && !download ? takeParked(file, msg.offset) : null;
            if (a && await adopt(a, msg.offset)) app.streams.parkedReads++;
            if (ended) return;
            if (!reader || pos !== msg.offset) {
              reader?.cancel().catch(() => {});
              queue = [];
              back = [];
              backLen = 0;
              reader = file.stream(msg.offset).getReader();
              pos = msg.offset;
              batch = 0;
            }
            // One pull answers with as many chunks as make batch bytes: the first pull of a
            // read (a seek of a <video>) with the first chunk at once, the next ones with
            // more, up to MAX_BATCH, so that a long read is not held up by one worker ↔ page
            // round trip per chunk (bench: browser download through the service worker).
            const chunks = [];
            let n = 0, done = false;
            do {
              const r = await readKept();
              if (ended) return;
              if (r.done) { done = true; break; }
              let v = r.value, split = false;
              if (v.length > msg.length - n) {
                queue.unshift(v.subarray(msg.length - n)); // past this range: kept for a next pull
                v = v.subarray(0, msg.length - n);
                split = true;
              }
              pos += v.length;
              n += v.length;
              if (dl) dl.received = pos - dl.offset;
              if (!download) {
                back.push(v.slice());
                backLen += v.length;
                while (backLen - back[0].length >= PARK_BACK) backLen -= back.shift().length;
              }
              // A chunk is the only view of its buffer (a File.stream() chunk is a view of one
              // DataChannel message, web/boot.js; the kept ones are copies or what a split
              // left): it goes to the worker with the buffer transferred, not copied, except
              // the part of a split chunk, whose rest stays here.
              chunks.push(split ? v.slice() : v);
            } while (n < batch && n < msg.length);
            batch = Math.min(Math.max(2 * batch, 256 << 10), MAX_BATCH);
            if (chunks.length === 0) { port.postMessage({ done: true }); return; }
            port.postMessage({ chunks, done: done || n >= msg.length }, chunks.map((c) => c.buffer));
          } catch (e) {
            if (!ended) port.postMessage({ error: `${e.code || "internal"}: ${e.message || e}` });
            if (dl) dl.error = e;
            finish("failed");
          }
          return;
        }
        case "cancel":
          finish(dl && dl.received >= dl.size ? "done" : "canceled");
          return;
        case "close":
          finish("done");
      }
    };
  }

  // Downloads through the worker land in the browser's own download manager; the page serves
  // their bytes, so it lists them in its Downloads panel too, with their progress. A download
  // resumed by the browser (a Range request) is listed from the offset it resumed at.
  function workerDownloadStarted(path, file, offset) {
    const name = path.slice(path.lastIndexOf("/") + 1) || path;
    const d = {
      id: ++dlSeq, name, path, kind: kindOf({ name, type: file.type, isDir: false }), mode: "worker",
      size: file.size - (offset || 0), offset: offset || 0, received: 0, state: "running", error: null,
      samples: [], reader: null, url: null, opened: true, started: performance.now(), finished: 0,
    };
    app.downloads.set(d.id, d);
    renderDownloads();
    return d;
  }

  // zipEntries yields the files under dir for client-zip, depth first, each named by its path
  // under dir; a file's handle is released once the archive has read it. Entries that cannot
  // be read (special files, unreadable ones) are left out.
  async function* zipEntries(s, dir) {
    const base = dir === "/" ? "" : dir;
    const stack = [dir];
    while (stack.length) {
      const d = stack.pop();
      let entries;
      try {
        entries = await s.listAll(d);
      } catch {
        continue;
      }
      for (const e of entries.slice().reverse()) if (e.isDir && !e.special) stack.push(e.path);
      for (const e of entries) {
        if (e.isDir || e.special) continue;
        let f;
        try {
          f = await s.open(e.path);
        } catch {
          continue;
        }
        try {
          yield { name: e.path.slice(base.length + 1), lastModified: new Date(e.mtime), size: f.size, input: f.stream() };
        } finally {
          f.close().catch(() => {});
        }
      }
    }
  }

  function workerDownloadEnded(d, how) {
    d.state = how === "done" ? "done" : how === "canceled" ? "canceled" : "failed";
    if (d.state === "done" && d.size > 0) d.received = d.size;
    if (d.state === "done" && !(d.size > 0)) d.size = d.received;
    d.finished = performance.now();
    renderDownloads();
  }

  // ---------------------------------------------------------------- viewer

  const PREVIEW = { video: "video", audio: "audio", image: "img" };
  function previewKind(entry) {
    const k = entry.kind || kindOf(entry);
    if (PREVIEW[k]) return k;
    if (entry.type === "application/pdf" || /\.pdf$/i.test(entry.name)) return "pdf";
    return "";
  }

  let viewerEntry = null, viewerOpener = null;
  function openViewer(entry, opener) {
    let pk = previewKind(entry);
    // Media opens at once; whether anything else is text or Markdown, preview.js says.
    if (!pk && !globalThis.RangecastPreview) { whenExtra("RangecastPreview", "The viewer", () => openViewer(entry, opener)); return; }
    const box = $("#viewer");
    viewerEntry = entry;
    viewerOpener = opener || null;
    const url = streamURL(entry.path);
    const tk = pk ? "" : RangecastPreview.kindOf(entry);
    let media = null;
    if (tk) {
      // Text and Markdown: read over this page's connection (no worker needed), size-capped.
      pk = tk;
      media = el("p", { className: "viewer-note" }, "Loading the preview…");
      const s = state.remote;
      (s ? RangecastPreview.render(entry, s, tk) : Promise.reject({ code: "unreachable" })).then((box) => {
        if (viewerEntry === entry) $("#viewer-body").replaceChildren(box);
      }, (err) => {
        if (viewerEntry === entry) $("#viewer-body").replaceChildren(el("p", { className: "viewer-note error" }, failMessage(entry.name, err, "opened")));
      });
    } else if (!swControls()) {
      media = el("p", { className: "viewer-note" }, "The page's service worker is not active yet: reload the page to play files.");
    } else if (pk === "video" || pk === "audio") {
      media = el(pk, { controls: true, autoplay: true, preload: "auto", src: url, className: "viewer-media" });
    } else if (pk === "image") {
      media = el("img", { src: url, alt: entry.name, className: "viewer-media" });
    } else if (pk === "pdf") {
      // Set once the check below passes: an error would show as raw text in the frame.
      media = el("iframe", { title: entry.name, className: "viewer-media viewer-frame" });
    } else if (state.single === entry) {
      media = singleCard(entry);
    } else {
      media = el("p", { className: "viewer-note" }, "No preview for this kind of file: download it instead.");
    }
    if (state.single === entry && !swControls() && !tk && media.tagName === "P") media = singleCard(entry);
    $("[data-field=name]", box).textContent = entry.name;
    // A share link of one file has nothing behind the viewer to go back to.
    $("#viewer-close").hidden = state.single === entry;
    box.setAttribute("aria-modal", state.single === entry ? "false" : "true");
    $("#viewer-download").href = streamURL(entry.path, true);
    $("#viewer-download").hidden = !swControls();
    $("#viewer-copy").hidden = false;
    $("#viewer-body").replaceChildren(media);
    box.dataset.path = entry.path;
    box.dataset.kind = pk;
    box.hidden = false;
    $("#viewer-close").focus({ preventScroll: true });
    if (swControls()) {
      // The media element asks the worker at once (playback starts sooner); the check says in
      // the viewer why a file cannot be opened, where the element would only stay blank.
      checkReadable(entry.path).then(() => {
        if (viewerEntry === entry && pk === "pdf") media.src = url;
      }, (err) => {
        if (viewerEntry !== entry) return;
        for (const m of box.querySelectorAll("video, audio")) { m.pause(); m.removeAttribute("src"); m.load(); }
        $("#viewer-body").replaceChildren(el("p", { className: "viewer-note error" }, failMessage(entry.name, err, "opened")));
        $("#viewer-download").hidden = true;
        $("#viewer-copy").hidden = true;
      });
    }
  }
  app.openViewer = (path) => {
    const e = state.entries.find((x) => x.path === path) || { name: path.slice(path.lastIndexOf("/") + 1), path, isDir: false, type: "" };
    openViewer(e);
  };

  // singleCard is what a share link of one file shows when there is nothing to play: the
  // file, its size, and the download.
  function singleCard(entry) {
    const b = el("button", { type: "button", className: "button primary single-download" }, svg(UI_ICONS.download), `Download ${formatBytes(entry.size)}`);
    b.addEventListener("click", () => downloadChecked(entry));
    return el("div", { className: "single-card" },
      kindIcon(entry.kind || kindOf(entry)),
      el("p", { className: "single-name" }, entry.name),
      el("p", { className: "single-meta" }, `${KIND_LABEL[entry.kind || kindOf(entry)] || "File"} · ${formatBytes(entry.size)} · modified ${fullFmt.format(entry.mtime)}`),
      b);
  }

  function closeViewer(force) {
    const box = $("#viewer");
    if (box.hidden || (state.single && !force)) return;
    for (const m of box.querySelectorAll("video, audio")) { m.pause(); m.removeAttribute("src"); m.load(); }
    $("#viewer-body").replaceChildren();
    box.hidden = true;
    // Focus goes back to the row the viewer was opened from (rendered again if scrolled away).
    const path = viewerEntry && viewerEntry.path;
    const back = viewerOpener && viewerOpener.isConnected ? viewerOpener : path && rowFor(path)?.querySelector(".open-button");
    viewerEntry = null;
    viewerOpener = null;
    back?.focus();
  }
  $("#viewer-download").addEventListener("click", (ev) => {
    ev.preventDefault();
    if (viewerEntry) downloadChecked(viewerEntry);
  });
  $("#viewer-close").addEventListener("click", () => closeViewer());
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("#viewer").hidden) closeViewer(); });

  // The link plays in any tab of this browser while some rangecast page holds a connection;
  // with none open the worker answers 503 with a message saying to open the rangecast link.
  $("#viewer-copy").addEventListener("click", async () => {
    const url = streamURL($("#viewer").dataset.path);
    try {
      await navigator.clipboard.writeText(url);
      toast("Link copied: it opens in this browser while a rangecast tab is connected");
    } catch {
      toast(url);
    }
  });

  // ---------------------------------------------------------------- connection panel

  const STATE_LABEL = {
    loading: "Loading", connecting: "Connecting", connected: "Connected", disconnected: "Disconnected",
    reconnecting: "Reconnecting", closed: "Closed", failed: "Failed", error: "Not connected",
    waiting: "Daemon offline",
  };

  function updateConn() {
    const conn = $("#conn");
    const s = state.remote;
    const st = s ? s.stats() : null;
    const name = st ? st.state : document.body.dataset.state;
    conn.querySelector("[data-field=state]").textContent = STATE_LABEL[name] || name;
    conn.dataset.state = name;
    conn.querySelector("[data-field=rtt]").textContent = st && st.state === "connected" ? formatRTT(st.rttMs) : "–";
    conn.querySelector("[data-field=throughput]").textContent = st ? formatRate(st.throughput) : "–";
    conn.querySelector("[data-field=bytes]").textContent = st ? formatBytes(st.bytesReceived) : "–";
    conn.querySelector("[data-field=udp]").textContent = state.udp || "–";
  }

  // The header shows the state; the toggle opens its figures under it. Escape, a click
  // elsewhere or the toggle again close them.
  const connToggle = $("#conn-toggle"), connDetails = $("#conn-details");
  function setConnDetails(open, refocus) {
    connToggle.setAttribute("aria-expanded", open ? "true" : "false");
    connDetails.hidden = !open;
    if (open) updateConn();
    else if (refocus) connToggle.focus();
  }
  connToggle.addEventListener("click", () => setConnDetails(connDetails.hidden));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !connDetails.hidden) setConnDetails(false, connDetails.contains(document.activeElement));
  });
  document.addEventListener("pointerdown", (e) => {
    if (!connDetails.hidden && !$("#conn").contains(e.target)) setConnDetails(false);
  });

  let tickTimer = 0, pingTimer = 0;
  function startTimers() {
    stopTimers();
    tickTimer = setInterval(() => {
      updateConn();
      updateOffline();
      if ([...app.downloads.values()].some((d) => d.state === "running")) renderDownloads();
    }, 250);
    const ping = async () => {
      const s = state.remote;
      if (!s) return;
      if (s.state === "connected") {
        try { await s.ping(); } catch { /* the statechange events tell the story */ }
        updateConn();
      }
      if (s === state.remote) pingTimer = setTimeout(ping, 2000);
    };
    ping();
  }
  function stopTimers() {
    clearInterval(tickTimer);
    clearTimeout(pingTimer);
  }

  // ---------------------------------------------------------------- toast

  let toastTimer = 0;
  function toast(text) { notify(text, false); }
  // notify shows a short message; errors stay longer and are announced at once.
  function notify(text, isError) {
    const t = $("#toast");
    t.textContent = text;
    t.classList.toggle("error", !!isError);
    t.setAttribute("role", isError ? "alert" : "status");
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, isError ? 8000 : 2500);
  }

  // ---------------------------------------------------------------- the page's extras

  // The scripts of the features that the first listing does not need (previews, thumbnails,
  // search, the QR code, zip) load once it is shown, so that while the page starts they do
  // not compete with the wasm and the connection for its one thread (docs/ARCHITECTURE.md,
  // Browser start-up). index.html names them, in the order they run, in
  // <meta name="rangecast-extra"> (the daemon gives them their content-hashed names there).
  // A feature used before they are in waits for them (whenExtra); one that fails to load
  // is left off, as a page without it always was.
  let extras = null;
  function loadExtras() {
    if (extras) return extras;
    const loads = [...document.querySelectorAll('meta[name="rangecast-extra"]')].map((m) => new Promise((resolve) => {
      const sc = document.createElement("script");
      sc.src = m.content;
      if ("module" in m.dataset) sc.type = "module";
      else sc.async = false; // in document order, as the deferred scripts before them
      sc.onload = sc.onerror = resolve;
      document.head.append(sc);
    }));
    extras = Promise.all(loads).then(() => { renderFiles(); });
    return extras;
  }
  app.extras = loadExtras;

  // extrasWhenIdle loads the extras once the page is idle: what the page has just started to
  // show (the listing, the viewer of a file link) reads first.
  function extrasWhenIdle() {
    if (typeof requestIdleCallback === "function") requestIdleCallback(() => loadExtras(), { timeout: 1000 });
    else loadExtras();
  }

  // whenExtra runs then once the extras are in, if the global that a feature needs is there.
  function whenExtra(global, feature, then) {
    loadExtras().then(() => {
      if (globalThis[global]) then();
      else notify(`${feature} is not available: a script of this page did not load. Reload the page.`, true);
    });
  }

  // ---------------------------------------------------------------- start

  async function boot() {
    registerWorker();
    // A page that never gets to its first listing (an error, a long reconnect) still gets
    // the extras, a little later.
    setTimeout(loadExtras, 3000);
    setPageState("loading");
    showSplash("Loading rangecast…", "Starting the browser client.");
    updateConn();
    try {
      state.rc = await loadClient();
    } catch (e) {
      showError({ code: "internal", message: `could not start the WebAssembly client: ${e.message || e}` }, () => location.reload());
      return;
    }
    $("#version").textContent = state.rc.version;
    await connect();
  }

  boot();
})();
