// Browser side of the bench's "browser" group (bench/browser.go). The bench installs this file
// (after e2e/testdata/sha256.js, which defines testSHA256) with
// Page.addScriptToEvaluateOnNewDocument, so it runs at the start of every document the bench
// opens, and then calls the functions of globalThis.bench with chromedp Evaluate.
//
// It holds:
//   - a plain-JavaScript rangecast client: HTTP signaling over fetch (docs/SIGNALING.md), one
//     RTCPeerConnection with the pre-negotiated control channel (answers pings) and the
//     "rangefs" DataChannel, and the wire protocol (docs/PROTOCOL.md): HELLO, OPEN, READ,
//     DATA with credit-based flow control, END, CLOSE. It is the baseline the Go/wasm client
//     is compared with, so it does as little as the protocol allows;
//   - the readers the bench times: the wasm client's File.stream(), the plain client's READ,
//     and fetch() in 1 MiB Range requests;
//   - the navigation probe: with ?benchnav in the URL, the page records the time from
//     navigation start (performance.timeOrigin) to the first byte of tiny.bin, in
//     globalThis.__benchNav (a promise).
"use strict";
(() => {
  if (globalThis.bench) return;

  // ------------------------------------------------------------------ wire protocol

  const HEADER = 10;
  const T = {
    HELLO: 0x01, PING: 0x02, PONG: 0x03, GOAWAY: 0x04, ERROR: 0x05, CREDIT: 0x06, CANCEL: 0x07,
    OPEN: 0x11, CLOSE: 0x12, READ: 0x14, INFO: 0x20, DATA: 0x22, END: 0x23,
  };
  const VERSION = 1;
  const MAX_FRAME = 256 << 10;
  // The windows the Go/wasm client grants (pkg/signal/window_js.go), so that both clients let
  // the daemon run equally far ahead.
  const STREAM_WINDOW = 2 << 20;
  const SESSION_WINDOW = 6 << 20;
  const TWO32 = 4294967296;
  const enc = new TextEncoder(), dec = new TextDecoder();

  function frame(type, stream, payloadLen) {
    const dv = new DataView(new ArrayBuffer(HEADER + payloadLen));
    dv.setUint8(0, type);
    dv.setUint8(1, 0);
    dv.setUint32(2, stream);
    dv.setUint32(6, payloadLen);
    return dv;
  }
  function setU64(dv, off, v) {
    dv.setUint32(off, Math.floor(v / TWO32));
    dv.setUint32(off + 4, v >>> 0);
  }
  function getU64(dv, off) {
    return dv.getUint32(off) * TWO32 + dv.getUint32(off + 4);
  }

  function withTimeout(p, ms, what) {
    let timer;
    return Promise.race([
      p,
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms); }),
    ]).finally(() => clearTimeout(timer));
  }

  function parseLink(href) {
    const u = new URL(href);
    const m = /(?:^#|&)t=([^&]+)/.exec(u.hash);
    if (!m) throw new Error(`no #t= token in ${href}`);
    return { base: u.origin, token: decodeURIComponent(m[1]) };
  }

  // api calls the signaling API; it throws on anything but 2xx.
  async function api(base, token, method, path, body, signal) {
    const init = { method, headers: { Authorization: `Bearer ${token}` }, signal, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(`${base}/api/v1/${path}`, init);
    if (!r.ok) {
      let text = "";
      try { text = await r.text(); } catch { /* the status says enough */ }
      throw new Error(`${method} /api/v1/${path}: HTTP ${r.status} ${text}`);
    }
    return r.status === 204 ? null : r.json();
  }

  class PlainSession {
    constructor() {
      this.streams = new Map(); // stream id → request
      this.nextStream = 1;
      this.sessionUnacked = 0;  // DATA bytes received and not yet credited back (session)
      this.sessionPending = 0;  // consumed, to credit back
      this.err = null;
      this.hello = null;
    }

    send(dv) {
      if (this.err) throw this.err;
      this.dc.send(dv.buffer);
    }

    fail(err) {
      if (this.err) return;
      this.err = err instanceof Error ? err : new Error(String(err));
      for (const st of this.streams.values()) st.reject(this.err);
      this.streams.clear();
      if (this.helloWait) this.helloWait.reject(this.err);
      try { this.pc.close(); } catch { /* closing anyway */ }
    }

    close() {
      this.fail(new Error("closed"));
    }

    onMessage(buf) {
      if (!(buf instanceof ArrayBuffer) || buf.byteLength < HEADER) return this.fail(new Error("short or non-binary message"));
      const dv = new DataView(buf);
      const type = dv.getUint8(0), sid = dv.getUint32(2), len = dv.getUint32(6);
      if (buf.byteLength !== HEADER + len) return this.fail(new Error(`FRAME_SIZE: message ${buf.byteLength} bytes, header says ${HEADER + len}`));
      switch (type) {
        case T.HELLO: {
          if (this.hello || len < 26) return this.fail(new Error("bad or second HELLO"));
          this.hello = {
            version: dv.getUint16(10), maxFrame: dv.getUint32(12), maxStreams: dv.getUint32(24),
          };
          if (this.hello.version < 1) return this.fail(new Error(`server speaks version ${this.hello.version}`));
          if (this.hello.maxStreams === 0) return this.fail(new Error("the peer announces max streams 0: not a server"));
          this.helloWait.resolve();
          return;
        }
        case T.PING: {
          const out = frame(T.PONG, 0, len);
          new Uint8Array(out.buffer, HEADER).set(new Uint8Array(buf, HEADER));
          this.send(out);
          return;
        }
        case T.ERROR: {
          const code = len >= 2 ? dv.getUint16(10) : -1;
          const ml = len >= 5 ? dv.getUint16(13) : 0;
          return this.fail(new Error(`ERROR ${code}: ${dec.decode(new Uint8Array(buf, 15, Math.min(ml, len - 5)))}`));
        }
        case T.INFO: case T.DATA: case T.END: {
          const st = this.streams.get(sid);
          if (!st) return this.fail(new Error(`frame ${type} on unknown stream ${sid}`));
          return st.onFrame(type, dv, buf, len);
        }
        default: // PONG, GOAWAY (in-flight streams finish), unknown types: nothing to do
      }
    }

    sendCredit(sid, n) {
      const dv = frame(T.CREDIT, sid, 4);
      dv.setUint32(HEADER, n);
      this.send(dv);
    }

    // consumed gives back credit for n bytes the consumer took, a quarter window at a time.
    consumed(st, n) {
      st.pending += n;
      if (st.pending >= STREAM_WINDOW / 4 && st.next < st.end) {
        this.sendCredit(st.id, st.pending);
        st.unacked -= st.pending;
        st.pending = 0;
      }
      this.sessionPending += n;
      if (this.sessionPending >= SESSION_WINDOW / 4) {
        this.sendCredit(0, this.sessionPending);
        this.sessionUnacked -= this.sessionPending;
        this.sessionPending = 0;
      }
    }

    request(st) {
      if (this.err) return Promise.reject(this.err);
      st.id = this.nextStream++;
      const p = new Promise((resolve, reject) => { st.resolve = resolve; st.reject = reject; });
      this.streams.set(st.id, st);
      return [st.id, p];
    }

    endOf(st, dv, len) {
      this.streams.delete(st.id);
      const status = len >= 2 ? dv.getUint16(10) : -1;
      if (status === 0) return null;
      const ml = len >= 4 ? dv.getUint16(12) : 0;
      return new Error(`END ${status}: ${dec.decode(new Uint8Array(dv.buffer, 14, Math.min(ml, Math.max(0, len - 4))))}`);
    }

    // open sends OPEN and resolves with {handle, size, etag} after INFO and END OK.
    open(path) {
      const p8 = enc.encode(path);
      let info = null;
      const st = {
        onFrame: (type, dv, buf, len) => {
          if (type === T.INFO) {
            const etagLen = dv.getUint8(34);
            info = { handle: dv.getUint32(10), size: getU64(dv, 14), etag: new Uint8Array(buf.slice(35, 35 + etagLen)) };
          } else if (type === T.END) {
            const err = this.endOf(st, dv, len);
            if (err) st.reject(new Error(`OPEN ${path}: ${err.message}`));
            else if (!info) st.reject(new Error(`OPEN ${path}: END without INFO`));
            else st.resolve(info);
          } else {
            this.fail(new Error("DATA on an OPEN stream"));
          }
        },
      };
      const [sid, p] = this.request(st);
      const dv = frame(T.OPEN, sid, 2 + p8.length);
      dv.setUint16(HEADER, p8.length);
      new Uint8Array(dv.buffer, HEADER + 2).set(p8);
      this.send(dv);
      return p;
    }

    closeFile(f) {
      const dv = frame(T.CLOSE, 0, 4);
      dv.setUint32(HEADER, f.handle);
      this.send(dv);
    }

    // read asks for length bytes at offset of the open file f and passes every DATA payload
    // (a Uint8Array view, valid during the call) to onChunk. It resolves with the byte count
    // once END OK arrives, or, with untilLength, as soon as length bytes are in (END is
    // then handled when it comes).
    read(f, offset, length, onChunk, untilLength = false) {
      let settled = false;
      const st = {
        next: offset, end: Math.min(offset + length, f.size), unacked: 0, pending: 0,
        onFrame: (type, dv, buf, len) => {
          if (type === T.DATA) {
            if (len < 8) return this.fail(new Error("short DATA"));
            const off = getU64(dv, 10), n = len - 8;
            if (off !== st.next) return this.fail(new Error(`DATA at ${off}, expected ${st.next}`));
            st.next += n;
            st.unacked += n;
            this.sessionUnacked += n;
            if (st.unacked > STREAM_WINDOW || this.sessionUnacked > SESSION_WINDOW) return this.fail(new Error("FLOW_CONTROL: DATA beyond the credit"));
            onChunk(new Uint8Array(buf, HEADER + 8, n));
            this.consumed(st, n);
            if (untilLength && !settled && st.next >= st.end) {
              settled = true;
              st.resolve(st.next - offset);
            }
          } else if (type === T.END) {
            const err = this.endOf(st, dv, len);
            if (settled) {
              if (err) this.fail(err);
              return;
            }
            settled = true;
            if (err) st.reject(new Error(`READ ${offset}+${length}: ${err.message}`));
            else st.resolve(st.next - offset);
          } else {
            this.fail(new Error("INFO on a READ stream"));
          }
        },
      };
      const [sid, p] = this.request(st);
      const dv = frame(T.READ, sid, 4 + 8 + 8 + 1 + f.etag.length + 2);
      dv.setUint32(HEADER, f.handle);
      setU64(dv, HEADER + 4, offset);
      setU64(dv, HEADER + 12, length);
      dv.setUint8(HEADER + 20, f.etag.length);
      new Uint8Array(dv.buffer, HEADER + 21).set(f.etag);
      dv.setUint16(HEADER + 21 + f.etag.length, 0); // no path: the handle names the file
      this.send(dv);
      return p;
    }
  }

  // The in-band proof of the token before HELLO (docs/PROTOCOL.md, Authentication), with
  // WebCrypto: the daemon sends a nonce, the page answers with an HMAC over it and both DTLS
  // fingerprints, and the daemon confirms with its own.
  function sdpFingerprint(sdp) {
    const m = /^a=fingerprint:sha-256 ([0-9A-Fa-f:]+)\s*$/mi.exec(sdp);
    if (!m) throw new Error("no sha-256 fingerprint in the SDP");
    const hex = m[1].replace(/:/g, "");
    const b = new Uint8Array(32);
    for (let i = 0; i < 32; i++) b[i] = parseInt(hex.substr(2 * i, 2), 16);
    return b;
  }

  function concatBytes(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }

  async function authenticate(pc, next, send, token) {
    const enc = new TextEncoder();
    const key = new Uint8Array(await crypto.subtle.digest("SHA-256", concatBytes(enc.encode("rangecast auth v1"), enc.encode(token))));
    const hkey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const challenge = await next();
    if (challenge.length !== 33 || challenge[0] !== 1) throw new Error("auth: bad challenge");
    const nonce = challenge.subarray(1);
    const fps = concatBytes(nonce, sdpFingerprint(pc.remoteDescription.sdp), sdpFingerprint(pc.localDescription.sdp));
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hkey, concatBytes(enc.encode("rangecast-auth-v1"), fps)));
    send(concatBytes(new Uint8Array([1]), mac));
    const result = await next();
    if (result.length < 1 || result[0] !== 0) throw new Error("auth: the daemon refused the token");
    const want = new Uint8Array(await crypto.subtle.sign("HMAC", hkey, concatBytes(enc.encode("rangecast-auth-v1-daemon"), fps)));
    if (result.length !== 33 || want.some((b, i) => b !== result[1 + i])) throw new Error("auth: the daemon did not confirm");
  }

  // connectPlain signals over fetch as docs/SIGNALING.md says (trickle ICE both ways), opens
  // the DataChannel and exchanges HELLOs.
  async function connectPlain(link, timeoutMs = 30000) {
    const { base, token } = parseLink(link);
    const s = new PlainSession();
    const pc = new RTCPeerConnection({ iceServers: [] });
    s.pc = pc;
    // pkg/peer's pre-negotiated control channel (id 0): answer its pings.
    const ctrl = pc.createDataChannel("rangecast-control", { negotiated: true, id: 0 });
    ctrl.binaryType = "arraybuffer";
    ctrl.onmessage = (e) => {
      const b = new Uint8Array(e.data);
      if (b.length === 9 && b[0] === 0x01) {
        b[0] = 0x02;
        try { ctrl.send(b); } catch { /* closing */ }
      }
    };
    const dc = pc.createDataChannel("rangefs");
    dc.binaryType = "arraybuffer";
    s.dc = dc;
    // Until the proof is done, messages queue here; then they go to the session.
    const authQueue = [];
    let authWaiter = null;
    dc.onmessage = (e) => {
      if (authWaiter) { const w = authWaiter; authWaiter = null; w(new Uint8Array(e.data)); } else authQueue.push(new Uint8Array(e.data));
    };
    dc.onclose = () => s.fail(new Error("the data channel closed"));

    const stop = new AbortController();
    let setupFail;
    const failed = new Promise((_, reject) => { setupFail = reject; });
    const opened = new Promise((resolve) => { dc.onopen = resolve; });
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" || pc.connectionState === "closed") setupFail(new Error(`peer connection ${pc.connectionState}`));
    };

    // Trickle: candidates go out in batches (at most 64 per POST) once the session id is known.
    const local = [];
    let id = null, posting = false, gathered = false;
    const flush = async () => {
      if (id === null || posting) return;
      posting = true;
      try {
        while (local.length > 0 && !stop.signal.aborted) {
          await api(base, token, "POST", `peers/${id}/signals`, local.splice(0, 64), stop.signal);
        }
      } catch (e) {
        if (!stop.signal.aborted) setupFail(e);
      } finally {
        posting = false;
      }
    };
    pc.onicecandidate = (e) => {
      if (gathered) return;
      if (e.candidate && e.candidate.candidate) {
        local.push({ type: "candidate", candidate: e.candidate.toJSON() });
      } else if (!e.candidate) {
        local.push({ type: "end-of-candidates" });
        gathered = true;
      }
      flush();
    };

    const setup = (async () => {
      await pc.setLocalDescription(await pc.createOffer());
      const created = await api(base, token, "POST", "peers", { type: "offer", sdp: pc.localDescription.sdp }, stop.signal);
      id = created.id;
      await pc.setRemoteDescription(created.answer);
      flush();
      // Long-poll the daemon's candidates until it says done or the channel is open.
      (async () => {
        let after = 0;
        while (!stop.signal.aborted) {
          const r = await api(base, token, "GET", `peers/${id}/signals?after=${after}`, undefined, stop.signal);
          for (const sig of r.signals || []) {
            if (sig.type === "candidate" && sig.candidate) await pc.addIceCandidate(sig.candidate);
          }
          after = r.next;
          if (r.done) return;
        }
      })().catch((e) => { if (!stop.signal.aborted) setupFail(e); });
      await opened;
    })();
    try {
      await withTimeout(Promise.race([setup, failed]), timeoutMs, "connect");
    } catch (e) {
      stop.abort();
      s.fail(e);
      throw e;
    }
    stop.abort(); // connected: signaling stops

    const next = () => authQueue.length ? Promise.resolve(authQueue.shift()) : new Promise((resolve) => { authWaiter = resolve; });
    try {
      await withTimeout(authenticate(pc, next, (b) => dc.send(b), token), 10000, "auth");
    } catch (e) {
      s.fail(e);
      throw e;
    }
    dc.onmessage = (e) => s.onMessage(e.data);
    for (const b of authQueue.splice(0)) s.onMessage(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

    const helloSeen = new Promise((resolve, reject) => { s.helloWait = { resolve, reject }; });
    const hello = frame(T.HELLO, 0, 26);
    hello.setUint16(HEADER, VERSION);
    hello.setUint32(HEADER + 2, MAX_FRAME);
    hello.setUint32(HEADER + 6, STREAM_WINDOW);
    hello.setUint32(HEADER + 10, SESSION_WINDOW);
    hello.setUint32(HEADER + 14, 0); // max streams: a client serves none
    setU64(hello, HEADER + 18, 0);   // capabilities
    s.send(hello);
    await withTimeout(helloSeen, 10000, "HELLO");
    return s;
  }

  // ------------------------------------------------------------------ readers the bench times

  // readResult: n bytes, ms from before open to the last byte, and the sha256 if asked for.
  function finish(t0, n, h) {
    return { n, ms: performance.now() - t0, sum: h ? h.hex() : "" };
  }

  async function wasmRead(path, hash) {
    const s = globalThis.app && globalThis.app.remote;
    if (!s) throw new Error("the app has no session");
    const h = hash ? testSHA256() : null;
    const t0 = performance.now();
    const f = await s.open(path);
    const rd = f.stream().getReader();
    let n = 0;
    for (;;) {
      const { done, value } = await rd.read();
      if (done) break;
      n += value.length;
      if (h) h.update(value);
    }
    const r = finish(t0, n, h);
    await f.close();
    return r;
  }

  // wasmReadN reads the first want bytes of path through the app's session and stops.
  async function wasmReadN(path, want) {
    const s = globalThis.app && globalThis.app.remote;
    if (!s) throw new Error("the app has no session");
    const t0 = performance.now();
    const f = await s.open(path);
    const rd = f.stream().getReader();
    let n = 0;
    while (n < want) {
      const { done, value } = await rd.read();
      if (done) break;
      n += value.length;
    }
    const r = finish(t0, Math.min(n, want), null);
    await rd.cancel();
    await f.close();
    return r;
  }

  async function plainSession() {
    if (!globalThis.__benchSession || globalThis.__benchSession.err) {
      globalThis.__benchSession = await connectPlain(location.href);
    }
    return globalThis.__benchSession;
  }

  async function plainRead(path, hash) {
    const s = await plainSession();
    const h = hash ? testSHA256() : null;
    const t0 = performance.now();
    const f = await s.open(path);
    let n = 0;
    await s.read(f, 0, f.size, h ? (b) => { n += b.length; h.update(b); } : (b) => { n += b.length; });
    const r = finish(t0, n, h);
    s.closeFile(f);
    return r;
  }

  async function fetchRead(url, size, hash) {
    const h = hash ? testSHA256() : null;
    const step = 1 << 20;
    const t0 = performance.now();
    let n = 0;
    for (let off = 0; off < size; off += step) {
      const last = Math.min(off + step, size) - 1;
      const r = await fetch(url, { headers: { Range: `bytes=${off}-${last}` }, cache: "no-store" });
      if (r.status !== 206) throw new Error(`${url} bytes ${off}-${last}: HTTP ${r.status}`);
      const b = new Uint8Array(await r.arrayBuffer());
      n += b.length;
      if (h) h.update(b);
    }
    return finish(t0, n, h);
  }

  // Seeks: 1-byte reads at the given offsets on one open file, one at a time; latency in ms
  // from the call to the byte, and the bytes (checked by the bench against the file).
  async function wasmSeek(path, offsets) {
    const f = await app.remote.open(path);
    const lat = [], bytes = [];
    for (const off of offsets) {
      const t0 = performance.now();
      const b = await f.read(off, 1);
      lat.push(performance.now() - t0);
      bytes.push(b.length === 1 ? b[0] : -1);
    }
    await f.close();
    return { lat, bytes };
  }

  async function plainSeek(path, offsets) {
    const s = await plainSession();
    const f = await s.open(path);
    const lat = [], bytes = [];
    for (const off of offsets) {
      let got = -1;
      const t0 = performance.now();
      await s.read(f, off, 1, (b) => { got = b[0]; }, true);
      lat.push(performance.now() - t0);
      bytes.push(got);
    }
    s.closeFile(f);
    return { lat, bytes };
  }

  async function closeSessions() {
    if (globalThis.__benchSession) globalThis.__benchSession.close();
    if (globalThis.app && globalThis.app.remote) await globalThis.app.remote.close();
    return true;
  }

  globalThis.bench = { connectPlain, wasmRead, wasmReadN, plainRead, fetchRead, wasmSeek, plainSeek, closeSessions };

  // ------------------------------------------------------------------ navigation probe

  if (!new URLSearchParams(location.search).has("benchnav")) return;
  const firstByteFile = "tiny.bin";

  // The app page: as soon as the app has a connected session (app.remote is set right
  // after rangecast.connect resolves), open tiny.bin and take its first stream chunk.
  // Milestones for the log: when the wasm had installed the API, when the session was up.
  const marks = {};
  addEventListener("rangecast:ready", () => { marks.readyMs = performance.now(); }, { once: true });

  function appProbe() {
    return new Promise((resolve, reject) => {
      let started = false, timer = 0;
      const check = () => {
        const s = globalThis.app && globalThis.app.remote;
        if (started || !s) return;
        started = true;
        marks.sessionMs = performance.now();
        obs.disconnect();
        clearInterval(timer);
        (async () => {
          const f = await s.open(firstByteFile);
          const rd = f.stream().getReader();
          const { value } = await rd.read();
          const ms = performance.now();
          const w = performance.getEntriesByType("resource").find((e) => /\/rangecast(\.[0-9a-f]+)?\.wasm$/.test(e.name));
          if (w) Object.assign(marks, { wasmFetchStartMs: w.startTime, wasmFetchEndMs: w.responseEnd, wasmTransferBytes: w.transferSize });
          const nav = performance.getEntriesByType("navigation")[0];
          if (nav) Object.assign(marks, { htmlMs: nav.responseEnd, domLoadedMs: nav.domContentLoadedEventStart });
          // Every request the page started before its first byte: name, start and end (ms).
          marks.resources = performance.getEntriesByType("resource").filter((e) => e.startTime < ms).map((e) =>
            `${new URL(e.name).pathname.replace(/\.[0-9a-f]{16}\./, ".").replace(/^.*\//, "")} ${Math.round(e.startTime)}–${Math.round(e.responseEnd)}`);
          // web/boot.js's marks: the wasm compiled, its early connection up.
          for (const [k, name] of [["wasmCompiledMs", "rangecast:wasm-compiled"], ["predialMs", "rangecast:predial-connected"]]) {
            const m = performance.getEntriesByName(name)[0];
            if (m) marks[k] = m.startTime;
          }
          await rd.cancel();
          await f.close();
          return { ms, n: value ? value.length : 0, ...marks };
        })().then(resolve, reject);
      };
      // The app updates the DOM in the task that sets app.remote: a mutation observer runs
      // check right after it; the interval is a fallback.
      const obs = new MutationObserver(check);
      obs.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
      timer = setInterval(check, 2);
    });
  }

  // The plain page: connect, OPEN tiny.bin, READ its byte.
  async function plainProbe() {
    const s = await connectPlain(location.href);
    marks.sessionMs = performance.now();
    globalThis.__benchSession = s;
    const f = await s.open(firstByteFile);
    let n = 0;
    await s.read(f, 0, 1, (b) => { n += b.length; }, true);
    const ms = performance.now();
    s.closeFile(f);
    const nav = performance.getEntriesByType("navigation")[0];
    if (nav) marks.htmlMs = nav.responseEnd;
    return { ms, n, ...marks };
  }

  globalThis.__benchNav = location.pathname === "/" ? appProbe() : plainProbe();
  globalThis.__benchNav.catch(() => {}); // reported when the bench awaits it
})();
