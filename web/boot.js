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

  // Direct reads (pkg/rangefs DirectRead, cmd/wasm/file_js.go): the DATA of a File.stream()
  // goes from the DataChannel's message event into the ReadableStream as views of the
  // messages, without a call into Go per message. A router sits in front of one channel's
  // message handler (peer.Channel.InterceptMessages). Go routes a stream to its DirectStream
  // before it sends the READ; a DATA frame of a routed stream that comes at the offset
  // expected and within the stream's credit is taken, and every other message goes on to Go,
  // which fails the session if it is DATA of a routed stream. Go hears of the bytes the
  // consumer took a quarter window at a time, and sends the CREDIT.
  const DATA = 0x22, HEADER = 10, DATA_HEAD = HEADER + 8; // wire.TypeData, wire.HeaderLen, the offset
  const STARVED_MS = 100; // a consumer waiting this long with nothing arriving tells Go

  function takeData(routes, data) {
    if (!(data instanceof ArrayBuffer) || data.byteLength < DATA_HEAD) return false;
    const v = new DataView(data);
    if (v.getUint8(0) !== DATA) return false;
    const s = routes.get(v.getUint32(2));
    return s !== undefined && s.take(data, v);
  }

  // DirectStream is a File.stream() read directly: the source of its ReadableStream, and the
  // pkg/rangefs DirectTap of the reads behind it. go holds Go's callbacks: taken(n) (the
  // consumer took n more bytes), more(offset) (start a read there), starved() and cancel().
  class DirectStream {
    constructor(routes, start, go) {
      this.routes = routes;
      this.go = go;
      this.next = start; // the offset of the next byte to arrive
      this.id = 0;
      this.window = 0;
      this.routed = false;
      this.received = 0; // since route, bytes taken from the channel
      this.reported = 0; // of those, counted by Go (taken, release)
      this.given = 0; // of those, in the stream's queue
      this.held = []; // arrived, waiting for room in the stream's queue
      this.heldBytes = 0;
      this.wants = false; // the consumer waits for bytes
      this.asked = false; // more() was called for the next read
      this.ended = false; // the last read ended: close once held is given
      this.arrivals = 0;
      this.timer = 0;
      this.ctrl = null;
      this.readable = new ReadableStream({
        start: (c) => { this.ctrl = c; },
        pull: () => this.pull(),
        cancel: () => this.cancelled(),
      }, { highWaterMark: 1 });
    }

    // The DirectTap, called by Go.
    route(id, window) {
      this.id = id;
      this.window = window;
      this.routed = true;
      this.received = this.reported = this.given = 0;
      this.asked = false;
      this.routes.set(id, this);
      if (this.wants) this.watch(); // the pull that asked for this read is over
    }
    owed() { return this.received - this.reported; }
    release(force) {
      if (!force && this.wants) return -1;
      if (this.routed) {
        this.routed = false;
        if (this.routes.get(this.id) === this) this.routes.delete(this.id);
      }
      const owed = this.received - this.reported;
      this.reported = this.received;
      return owed;
    }
    // end: the read reached the end of the file.
    end() {
      this.ended = true;
      if (this.heldBytes === 0) this.close();
    }
    fail(err) {
      this.held = [];
      this.heldBytes = 0;
      if (this.ctrl) this.ctrl.error(err);
      this.finish();
    }
    // detach: Go let go of its callbacks.
    detach() { this.go = null; clearTimeout(this.timer); }

    take(data, v) {
      const len = v.getUint32(6);
      if (len !== data.byteLength - HEADER) return false;
      const n = len - 8;
      const off = v.getUint32(HEADER) * 4294967296 + v.getUint32(HEADER + 4);
      if (off !== this.next || this.received - this.reported + n > this.window) return false;
      this.next += n;
      this.received += n;
      this.arrivals++;
      if (!this.ctrl || n === 0) return true; // canceled: dropped until Go releases the route
      const chunk = new Uint8Array(data, DATA_HEAD, n);
      if (this.heldBytes === 0 && this.ctrl.desiredSize > 0) {
        this.give(chunk);
      } else {
        this.held.push(chunk);
        this.heldBytes += n;
      }
      return true;
    }
    give(chunk) {
      this.wants = false;
      this.ctrl.enqueue(chunk);
      this.given += chunk.length;
      if (this.routed && this.go && this.given - this.reported >= this.window / 4) {
        const n = this.given - this.reported;
        this.reported = this.given;
        this.go.taken(n);
      }
    }
    pull() {
      while (this.heldBytes > 0 && this.ctrl.desiredSize > 0) {
        const c = this.held.shift();
        this.heldBytes -= c.length;
        this.give(c);
      }
      if (this.heldBytes > 0) return;
      if (this.ended) { this.close(); return; }
      this.wants = true;
      if (!this.go) return;
      if (!this.routed) {
        if (!this.asked) { this.asked = true; this.go.more(this.next); }
        return;
      }
      this.watch();
    }
    // watch tells Go once the consumer has waited STARVED_MS with nothing arriving: the
    // session's credit may be held by streams nobody reads (DirectRead.Starved).
    watch() {
      if (this.timer) return;
      const seen = this.arrivals;
      this.timer = setTimeout(() => {
        this.timer = 0;
        if (!this.wants || !this.routed || !this.go) return;
        if (this.arrivals === seen) this.go.starved();
        this.watch();
      }, STARVED_MS);
    }
    close() {
      if (this.ctrl) this.ctrl.close();
      this.finish();
    }
    finish() {
      this.ctrl = null;
      this.wants = false;
      clearTimeout(this.timer);
      this.timer = 0;
    }
    cancelled() {
      this.held = [];
      this.heldBytes = 0;
      this.finish();
      if (this.go) this.go.cancel();
    }
  }

  const direct = {
    // router returns the router of one channel: wrap for peer.Channel.InterceptMessages, and
    // stream to make a DirectStream routed through it.
    router() {
      const routes = new Map();
      return {
        wrap: (handler) => (ev) => { if (!takeData(routes, ev.data)) handler(ev); },
        stream: (start, go) => new DirectStream(routes, start, go),
      };
    },
  };

  const link = parseLink();
  const boot = { wasmURL, module, connection: null, direct };
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
