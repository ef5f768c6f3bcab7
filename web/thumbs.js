// rangecast web app: image thumbnails in the file list. For an image row in view, the page
// reads the file over its connection (bounded: files over MAX_BYTES get none), decodes it
// with createImageBitmap, draws a small cover-cropped copy and keeps it as a blob: URL,
// cached by path, size and mtime (a changed file gets a new one). Reads run two at a time,
// and a row scrolled out of view before its turn costs nothing.
"use strict";

globalThis.RangecastThumbs = (() => {
  const MAX_BYTES = 8 << 20;
  const SIZE = 68; // pixels: 2× the 34 px icon
  const TYPES = new Set(["png", "jpg", "jpeg", "gif", "webp", "avif", "bmp", "ico"]);
  const CACHE_MAX = 600;
  const cache = new Map(); // key → blob: URL ("" when the file could not be made one)
  const queue = [];
  let running = 0, scheduled = false;

  const keyOf = (e) => `${e.path}\n${e.size}\n${e.mtime}`;

  function eligible(e) {
    if (e.isDir || e.special || !(e.size > 0) || e.size > MAX_BYTES) return false;
    const dot = e.name.lastIndexOf(".");
    return dot > 0 && TYPES.has(e.name.slice(dot + 1).toLowerCase());
  }

  function show(icon, url) {
    if (!url || !icon.isConnected) return;
    const img = document.createElement("img");
    img.src = url;
    img.alt = "";
    img.className = "thumb";
    icon.replaceChildren(img);
    icon.classList.add("has-thumb");
  }

  function remember(key, url) {
    cache.set(key, url);
    if (cache.size > CACHE_MAX) {
      const [old, u] = cache.entries().next().value;
      cache.delete(old);
      if (u) URL.revokeObjectURL(u);
    }
  }

  async function make(e, remote) {
    const f = await remote.open(e.path);
    let bytes;
    try {
      bytes = await f.read(0, Math.min(f.size, MAX_BYTES));
    } finally {
      f.close().catch(() => {});
    }
    const bmp = await createImageBitmap(new Blob([bytes], { type: f.type || "" }));
    const c = document.createElement("canvas");
    c.width = c.height = SIZE;
    const s = Math.min(bmp.width, bmp.height); // cover: the centred square
    c.getContext("2d").drawImage(bmp, (bmp.width - s) / 2, (bmp.height - s) / 2, s, s, 0, 0, SIZE, SIZE);
    bmp.close();
    const blob = await new Promise((r) => c.toBlob(r, "image/webp", 0.85));
    return blob ? URL.createObjectURL(blob) : "";
  }

  function pump(getRemote) {
    while (running < 2 && queue.length) {
      const job = queue.shift();
      const key = keyOf(job.e);
      if (cache.has(key)) { show(job.icon, cache.get(key)); continue; }
      if (!job.icon.isConnected) continue; // scrolled away before its turn
      const remote = getRemote();
      if (!remote || remote.state !== "connected") { queue.length = 0; return; }
      running++;
      make(job.e, remote).then((url) => { remember(key, url); show(job.icon, url); },
        () => remember(key, "")) // not an image the browser decodes, or unreadable: the icon stays
        .finally(() => { running--; pump(getRemote); });
    }
  }

  // request puts a thumbnail into icon (the row's .kind-icon) when entry is an image small
  // enough; getRemote returns the page's current connection.
  function request(entry, icon, getRemote) {
    if (!eligible(entry)) return;
    const key = keyOf(entry);
    if (cache.has(key)) { show(icon, cache.get(key)); return; }
    queue.push({ e: entry, icon });
    // After the rows being built are in the page: a row that is not by then is skipped.
    if (!scheduled) {
      scheduled = true;
      setTimeout(() => { scheduled = false; pump(getRemote); }, 0);
    }
  }

  return { request, MAX_BYTES };
})();
