// TypeScript declarations for rangecast's browser client: the global `rangecast` that
// rangecast.wasm (cmd/wasm) installs. Load dist/wasm_exec.js, instantiate dist/rangecast.wasm
// and go.run() it; main() installs the global and fires "rangecast:ready" on globalThis before
// go.run() returns:
//
//   const ready = new Promise(r => addEventListener("rangecast:ready", e => r(e.detail), { once: true }));
//   const go = new Go();
//   const { instance } = await WebAssembly.instantiateStreaming(fetch("dist/rangecast.wasm"), go.importObject);
//   go.run(instance);
//   const rc = await ready;               // === globalThis.rangecast
//   const remote = await rc.connect(location.href);
//
// Every I/O method returns a Promise. Failures reject with a RangecastError whose `code` is one
// of ErrorCode. Wrong argument counts or types reject with "bad_argument" (synchronous calls
// cannot throw from Go: stream() then returns an errored stream, stats() returns undefined).

export {};

// Besides this API, the page registers sw.js (scope "/"), a service worker that answers
// GET/HEAD requests for `/stream/<path>` (each segment URL-encoded) with the file's bytes, read
// over the connection of a rangecast page open in the same browser: Range requests get 206 and
// Content-Range, others 200 and Content-Length; `?download=1` adds Content-Disposition:
// attachment. With no connected rangecast page in the browser it answers 503. Use these URLs
// as <video src>, <img src>, download links, or links opened in another tab. `zip/<dir>`
// answers a GET with the folder and everything under it as one ZIP (200, no Content-Length,
// no ranges) that the app page writes while it reads the files.

/** The stable error codes (pkg/connect/errors.go: change both together). Match on these,
 *  not on messages. */
export type ErrorCode =
  /** The link is not http(s)://host:port/#t=TOKEN or #s=SHARE (no token, not a URL, a
   *  share link cut when copied). */
  | "bad_link"
  /** The daemon refused the token (it may have restarted with a new one), or a share link
   *  that is forged or another daemon's. */
  | "unauthorized"
  /** The share link is past its expiry: ask its owner for a new one. */
  | "link_expired"
  /** The share link was revoked by its owner; sessions open with it end with this code. */
  | "link_revoked"
  /** The daemon serves as many peers as it allows. */
  | "too_many_peers"
  /** No rangecast daemon answers at the link's address, or the connection to it failed;
   *  also: not connected right now (the Remote is reconnecting), or a ping got no answer. */
  | "unreachable"
  /** Connection setup (signaling to open data channel) took longer than the timeout. */
  | "setup_timeout"
  | "not_found"
  | "forbidden"
  /** Not a valid slash-separated path below the shared folder (.., NUL, too long …). */
  | "invalid_path"
  /** open/read of a directory, device, FIFO or socket. */
  | "not_regular"
  /** list of something that is not a directory. */
  | "not_directory"
  /** The file changed since it was opened (its ETag no longer matches): nothing was mixed. */
  | "changed"
  /** A read or stream offset beyond the end of the file. */
  | "range"
  /** An AbortSignal fired, or the stream was canceled. */
  | "canceled"
  /** The Remote or file is closed: close() was called, the daemon went away, or the
   *  connection the file was opened on was replaced by a reconnect. */
  | "closed"
  /** The daemon is shutting down and takes no new requests (or connections). */
  | "going_away"
  /** The daemon is out of a shared resource (streams, handles): retry later. */
  | "busy"
  /** The daemon broke the protocol (or runs an incompatible version). */
  | "protocol"
  /** Wrong argument count or type. */
  | "bad_argument"
  /** A bug: a recovered panic (the stack is on the console) or an unexplained error. */
  | "internal";

/** The Error every rejection carries. */
export interface RangecastError extends Error {
  name: "RangecastError";
  code: ErrorCode;
}

/** A Remote's connection state.
 *  - "connected": requests go through.
 *  - "disconnected": ICE lost the daemon (transient); after 5 s without recovery the
 *    connection is dropped and the Remote reconnects.
 *  - "reconnecting": the connection is gone; waiting `retryInMs` before the next attempt
 *    (backing off 1 s, 2 s, 4 s … 30 s, forever, until close() or a refused token).
 *  - "connecting": a reconnect attempt is in flight (connect() itself resolves only once
 *    connected, so a new Remote starts "connected").
 *  - "closed": ended by close(), or by the daemon when `reconnect` is false.
 *  - "failed": ended by an error reconnecting cannot fix (the token was refused).
 *  Requests made while not "connected" reject with "unreachable"; requests in flight when a
 *  connection is dropped reject with "closed", and so do all later calls on files opened on it.
 */
export type RemoteState = "connecting" | "connected" | "disconnected" | "reconnecting" | "closed" | "failed";

export interface ConnectOptions {
  /** Milliseconds for setup, signaling through connected; default 30000 (1 … 600000). */
  timeout?: number;
  /** Reconnect by itself when the connection is lost; default true. */
  reconnect?: boolean;
  /** Aborts connecting; rejects with "canceled". */
  signal?: AbortSignal;
}

export interface RequestOptions {
  /** Aborts the request; rejects with "canceled" (the daemon is told to stop). */
  signal?: AbortSignal;
}

export interface ListOptions extends RequestOptions {
  /** Only entries whose names sort after this one (the last name of the previous page). */
  after?: string;
  /** Entries per page, 0 … 65535; 0 or absent: the daemon's page size. */
  limit?: number;
}

/** A directory entry. */
export interface Entry {
  /** Base name. */
  name: string;
  /** Absolute path below the shared folder, "/"-separated, starting with "/". */
  path: string;
  /** Bytes for a regular file, 0 otherwise. */
  size: number;
  /** Modification time, milliseconds since the epoch. */
  mtime: number;
  isDir: boolean;
  /** Unix permission bits (mode & 0o777). */
  mode: number;
  /** "" for a regular file or a directory; otherwise what the entry is, which open() refuses:
   *  "symlink" (a link that dangles or leads out of the shared folder; links inside it are
   *  listed as their targets), "fifo", "socket", "device", or "irregular". */
  special: "" | "symlink" | "fifo" | "socket" | "device" | "irregular";
}

/** What stat() returns. */
export interface Stat extends Entry {
  /** Opaque version tag of a regular file; "" for directories. */
  etag: string;
  /** MIME type guessed from the name; "" for directories. */
  type: string;
}

export interface ListPage {
  entries: Entry[];
  /** More entries follow: call list() again with `after` set to the last name. */
  more: boolean;
}

export interface RemoteStats {
  state: RemoteState;
  /** Round trip of the last successful ping(), in milliseconds; null before the first. */
  rttMs: number | null;
  /** DATA bytes received over every connection of this Remote, across reconnects. */
  bytesReceived: number;
  /** Bytes per second received, averaged over the last ~2 s. */
  throughput: number;
  /** When the current connection came up (ms since the epoch); null while not connected. */
  connectedAt: number | null;
}

export interface StateChangeDetail {
  state: RemoteState;
  /** Reconnect attempt, from 1 ("reconnecting", "connecting", and "connected" after one). */
  attempt?: number;
  /** "reconnecting": milliseconds until the next attempt. */
  retryInMs?: number;
  /** "reconnecting": why the connection was lost or the last attempt failed;
   *  "closed"/"failed": why the Remote ended. */
  error?: { code: ErrorCode; message: string };
}

export interface CloseDetail {
  /** "closed" after close(); otherwise why the Remote ended ("unauthorized" …). */
  code: ErrorCode;
  message: string;
}

export interface RemoteEventMap {
  /** Every state change, and every reconnect attempt. */
  statechange: CustomEvent<StateChangeDetail>;
  /** Once, when the Remote has ended (after the statechange to "closed" or "failed"). */
  close: CustomEvent<CloseDetail>;
}

/** A connection to one daemon that reconnects by itself (pkg/connect's Redialer). An
 *  EventTarget: see RemoteEventMap. Methods live on the prototype and may be called detached
 *  only with the Remote as `this`. */
export interface Remote extends EventTarget {
  readonly state: RemoteState;

  /** One page of the directory `dir` ("/" or "" is the shared folder), sorted by name. */
  list(dir: string, options?: ListOptions): Promise<ListPage>;
  /** Every entry of `dir`, sorted by name, fetched page after page. */
  listAll(dir: string, options?: RequestOptions): Promise<Entry[]>;
  stat(path: string, options?: RequestOptions): Promise<Stat>;
  /** Opens a regular file. Close it when done; a File that is garbage-collected unclosed
   *  has its handle released then. */
  open(path: string, options?: RequestOptions): Promise<RangecastFile>;
  /** One protocol round trip, in milliseconds (at most 10 s, else "unreachable"). */
  ping(): Promise<number>;
  /** Counters for a connection panel. Synchronous. */
  stats(): RemoteStats;
  /** When "disconnected", "reconnecting" or "connecting": attempt to reconnect now instead of
   *  waiting for the backoff. Does nothing while connected; rejects "closed" once ended. */
  reconnect(): Promise<void>;
  /** Ends the connection; resolves once everything is released. Closing twice is fine. */
  close(): Promise<void>;

  addEventListener<K extends keyof RemoteEventMap>(type: K, listener: (this: Remote, ev: RemoteEventMap[K]) => any, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof RemoteEventMap>(type: K, listener: (this: Remote, ev: RemoteEventMap[K]) => any, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
}

/** An open regular file. Every read carries the ETag seen at open: if the file changes, reads
 *  reject with "changed" instead of mixing two versions. (Named RangecastFile here so as not
 *  to clash with the DOM's File.) */
export interface RangecastFile {
  /** Base name. */
  readonly name: string;
  /** Absolute path below the shared folder, starting with "/". */
  readonly path: string;
  /** Size in bytes, as seen at open. */
  readonly size: number;
  /** MIME type; "application/octet-stream" when unknown. */
  readonly type: string;
  /** Opaque version tag. */
  readonly etag: string;
  /** Modification time, milliseconds since the epoch. */
  readonly mtime: number;

  /** `length` bytes at `offset` (0 … 64 MiB). Shorter at the end of the file; empty at
   *  offset === size; rejects "range" beyond it. Each call returns a new Uint8Array. */
  read(offset: number, length: number, options?: RequestOptions): Promise<Uint8Array>;
  /** The file from `offset` (default 0) to its end, as a pull-based stream. Each chunk is
   *  one DATA message's bytes (up to 256 KiB), a Uint8Array view of the message as it arrived:
   *  its byteOffset is not 0, so use the view, not its whole `.buffer`. The daemon's
   *  read-ahead is bounded by the session's flow-control window. Each stream has a position
   *  of its own and reads the version the file was opened at (by path with its ETag: no
   *  extra round trip), or errors with "changed". cancel() stops the read at once.
   *  Errors (including bad arguments) arrive as a RangecastError from read(). */
  stream(offset?: number): ReadableStream<Uint8Array>;
  /** Releases the handle; streams still open on this file error with "closed". Closing
   *  twice is fine. */
  close(): Promise<void>;
}

export interface Rangecast {
  /** Build version, e.g. "devel+0123456789ab-dirty". */
  readonly version: string;
  /** The rangefs protocol version this client speaks. */
  readonly protocolVersion: number;
  /** Resolves with this object; already resolved once the object exists. */
  readonly ready: Promise<Rangecast>;
  /** Connects to the daemon named by `link` (the page URL with #t=TOKEN; other fragment
   *  parameters are ignored). Resolves once connected. */
  connect(link: string, options?: ConnectOptions): Promise<Remote>;
}

declare global {
  var rangecast: Rangecast;
  interface GlobalEventHandlersEventMap {
    /** Fired on globalThis when the wasm has installed `rangecast`; detail is the API. */
    "rangecast:ready": CustomEvent<Rangecast>;
  }
  interface WindowEventMap {
    "rangecast:ready": CustomEvent<Rangecast>;
  }
}
