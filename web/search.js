// rangecast web app: search by name across every folder under a top folder, breadth first,
// LIST page by page over the page's connection, a few folders at a time. Results stream to
// the caller as they are found; an AbortSignal stops the walk (the requests in flight are
// canceled too).
"use strict";

globalThis.RangecastSearch = (() => {
  const PARALLEL = 4; // folders listed at once

  // walk searches root and everything under it for names containing query (case-insensitive).
  // onFound(entries) gets each batch of matches; onProgress({folders, entries}) the counts.
  // It resolves with the counts when done, and rejects with the signal's reason if aborted.
  async function walk(remote, root, query, { signal, onFound, onProgress }) {
    const q = query.trim().toLowerCase();
    const dirs = [root];
    const counts = { folders: 0, entries: 0, failed: 0 };
    let active = 0;
    return new Promise((resolve, reject) => {
      let ended = false;
      const end = (err) => {
        if (ended) return;
        ended = true;
        if (err) reject(err); else resolve(counts);
      };
      signal.addEventListener("abort", () => end(signal.reason || new DOMException("stopped", "AbortError")), { once: true });
      const next = () => {
        if (ended) return;
        while (active < PARALLEL && dirs.length) {
          const dir = dirs.shift();
          active++;
          listDir(dir).finally(() => { active--; next(); });
        }
        if (active === 0 && dirs.length === 0) end();
      };
      const listDir = async (dir) => {
        let after = "";
        try {
          for (;;) {
            const page = await remote.list(dir, after ? { after, signal } : { signal });
            if (ended) return;
            const found = [];
            for (const e of page.entries) {
              if (e.isDir && !e.special) dirs.push(e.path);
              if (e.name.toLowerCase().includes(q)) found.push(e);
            }
            counts.entries += page.entries.length;
            if (found.length) onFound(found);
            if (!page.more || !page.entries.length) break;
            after = page.entries[page.entries.length - 1].name;
          }
        } catch {
          counts.failed++; // an unreadable folder: the others go on
        }
        if (ended) return; // stopped: nothing more is reported
        counts.folders++;
        onProgress(counts);
      };
      next();
    });
  }

  return { walk };
})();
