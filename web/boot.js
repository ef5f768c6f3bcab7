// rangecast boot: starts the two slow things of a page load at once, in parallel, before
// app.js and the Go client run (docs/ARCHITECTURE.md, Browser start-up):
//
//  1. the wasm: WebAssembly.compileStreaming of the content-hashed, immutable URL that
//     index.html names (data-wasm), so that Chromium compiles while the bytes arrive, and on
//     a warm load takes the bytes from its HTTP cache and the compiled code from its code
//     cache. This script is synchronous in <head>, so the fetch starts as early as a
//     <link rel=preload> would; and a preload must not be added: as of Chromium 156, a
//     response taken from a preload is never looked up in the code cache
//     (e2e TestWarmLoadUsesCaches fails with one);
//  2. the connection: the RTCPeerConnection, its two DataChannels (the pre-negotiated control
//     channel and "rangefs") and the signaling with the daemon (docs/SIGNALING.md), exactly as
//     pkg/signaling.Dial does them.
//
// The Go client takes the connection over (cmd/wasm/predial_js.go, peer.Adopt) when the page
// calls rangecast.connect with the same link, and runs the in-band authentication bound to
// both DTLS fingerprints (pkg/connect/auth.go) on it as on any other: this file never sees a
// CHALLENGE or sends a PROOF, it only holds the channels' first messages for Go. Anything
// that goes wrong here is not an error the user sees: the pre-dial is dropped and Go dials as
// it always did, and reports what went wrong.
"use strict";

(() => {
  const script = document.currentScript;
  const wasmURL = new URL((script && script.dataset.wasm) || "dist/rangecast.wasm", location.href).href;

  // The wasm, compiled while the connection is set up. app.js instantiates the module.
  const module = (async () => {
    try {
      return await WebAssembly.compileStreaming(fetch(wasmURL));
    } catch (e) {
      // A server that sends the wasm with another Content-Type: compile from bytes instead.
      const resp = await fetch(wasmURL);
      if (!resp.ok) throw new Error(`${wasmURL}: HTTP ${resp.status}`);
      return WebAssembly.compile(await resp.arrayBuffer());
    }
  })();
  module.catch(() => {}); // app.js reports it
  // Marks for the bench's timeline of a navigation (bench/browser.js).
  module.then(() => performance.mark("rangecast:wasm-compiled"), () => {});

  const API = "/api/v1/";
  const CONTROL_LABEL = "rangecast-control", CONTROL_ID = 0; // pkg/peer/control.go
  const CHANNEL_LABEL = "rangefs"; // connect.ChannelLabel
  const MAX_SIGNALS_PER_POST = 64; // signaling.MaxSignalsPerPost
  const SETUP_TIMEOUT_MS = 15000;
  const UNCLAIMED_MS = 30000; // a connection nobody takes is closed

  // parseLink mirrors signaling.ParseLink for the page's own location.
  function parseLink() {
    const q = new URLSearchParams(location.hash.slice(1));
    const token = q.get("t") || "", share = token ? "" : (q.get("s") || "");
    if (!token && !share) return null;
    let path = location.pathname;
    if (path.endsWith("index.html")) path = path.slice(0, -"index.html".length);
    path = path.replace(/\/+$/, "");
    const relayed = /^\/d\/[^/]+$/.test(path);
    return {
      base: location.origin + path,
      // The bearer token signaling carries: none through a relay, which must not learn it.
      bearer: relayed ? "" : (token || share),
      relayed,
    };
  }

  async function call(ctl, method, url, bearer, body) {
    const headers = {};
    if (bearer) headers.Authorization = "Bearer " + bearer;
    const init = { method, headers, signal: ctl.signal, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(url, init);
    const text = await resp.text();
    if (!resp.ok) throw new Error(`${method} ${url}: HTTP ${resp.status} ${text.slice(0, 200)}`);
    return text && resp.status !== 204 ? JSON.parse(text) : null;
  }

  // holdMessages keeps a channel's messages until Go takes it (peer.Adopt drains them first,
  // in order, in the same turn of the event loop as it installs its own handler).
  function holdMessages(dc) {
    dc.binaryType = "arraybuffer";
    const held = [];
    dc.onmessage = (e) => held.push(e.data);
    return held;
  }

  async function predial(link, ctl) {
    let iceServers = [];
    if (link.relayed) {
      // The relay's STUN/TURN servers, as signaling.Dial asks for them.
      const t = new AbortController();
      const timer = setTimeout(() => t.abort(), 5000);
      try {
        const r = await call(t, "GET", link.base + API + "ice", "");
        iceServers = (r && r.iceServers) || [];
      } catch { /* none: it may still work directly */ }
      clearTimeout(timer);
    }
    const pc = new RTCPeerConnection({ iceServers });
    ctl.signal.addEventListener("abort", () => pc.close());
    const ctrl = pc.createDataChannel(CONTROL_LABEL, { negotiated: true, id: CONTROL_ID });
    const dc = pc.createDataChannel(CHANNEL_LABEL);
    const conn = { pc, ctrl, dc, ctrlHeld: holdMessages(ctrl), dcHeld: holdMessages(dc) };

    const local = [];
    let wake = null, gathered = false;
    pc.onicecandidate = (e) => {
      const c = e.candidate;
      if (c && !c.candidate) return; // an empty end-of-generation candidate
      local.push(c ? { type: "candidate", candidate: c.toJSON() } : { type: "end-of-candidates" });
      if (wake) wake();
    };
    const connected = new Promise((resolve, reject) => {
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === "connected") resolve();
        if (pc.connectionState === "failed" || pc.connectionState === "closed") reject(new Error("peer connection " + pc.connectionState));
      };
    });
    connected.catch(() => {});

    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const created = await call(ctl, "POST", link.base + API + "peers", link.bearer, { type: "offer", sdp: offer.sdp });
    const peerURL = link.base + API + "peers/" + created.id;
    link.peerURL = peerURL;
    await pc.setRemoteDescription(created.answer);

    let signaling = true;
    const trickle = async () => {
      while (signaling && !gathered) {
        if (local.length === 0) { await new Promise((r) => { wake = r; }); wake = null; continue; }
        const batch = local.splice(0, MAX_SIGNALS_PER_POST);
        if (batch[batch.length - 1].type === "end-of-candidates") gathered = true;
        await call(ctl, "POST", peerURL + "/signals", link.bearer, batch);
      }
    };
    const poll = async () => {
      let after = 0;
      while (signaling) {
        const r = await call(ctl, "GET", `${peerURL}/signals?after=${after}`, link.bearer);
        for (const s of r.signals || []) {
          if (s.type === "candidate") await pc.addIceCandidate(s.candidate);
          else if (s.type === "end-of-candidates") await pc.addIceCandidate({ candidate: "" }).catch(() => {});
        }
        after = r.next;
        if (r.done) return;
      }
    };
    const sig = Promise.all([trickle(), poll()]);
    await Promise.race([connected, sig.then(() => connected)]);
    performance.mark("rangecast:predial-connected");
    // Signaling stops once connected, as in signaling.Dial: the requests in flight end with
    // the page or with the daemon's answer; their results are not needed.
    signaling = false;
    if (wake) wake();
    sig.catch(() => {});
    return conn;
  }

  const link = parseLink();
  const boot = { wasmURL, module, connection: null };
  if (link && typeof RTCPeerConnection === "function") {
    const ctl = new AbortController();
    let taken = false, settled = null;
    const timer = setTimeout(() => ctl.abort(), SETUP_TIMEOUT_MS);
    const p = predial(link, ctl).then((conn) => {
      clearTimeout(timer);
      settled = conn;
      // Nobody took it (the page never connected): let the daemon's slot go.
      setTimeout(() => { if (!taken) discard(); }, UNCLAIMED_MS);
      return conn;
    }, (err) => {
      clearTimeout(timer);
      ctl.abort();
      // Free the daemon's slot now rather than at its setup timeout: Go dials next.
      if (link.peerURL) {
        const headers = link.bearer ? { Authorization: "Bearer " + link.bearer } : {};
        fetch(link.peerURL, { method: "DELETE", headers }).catch(() => {});
      }
      throw err;
    });
    p.catch(() => {});
    const discard = () => {
      if (taken) return;
      taken = true;
      ctl.abort();
      if (settled) settled.pc.close();
    };
    boot.connection = {
      // The link this connection was set up for, as a link the daemon prints.
      link: location.origin + location.pathname + location.hash,
      // take hands the connection over, once: a promise of {pc, ctrl, dc, ctrlHeld, dcHeld},
      // or null if it was already taken or discarded.
      take() {
        if (taken) return null;
        taken = true;
        return p;
      },
      discard,
    };
  }
  globalThis.rangecastBoot = boot;
})();
