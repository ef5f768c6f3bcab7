// rangecast web app: inline previews of plain text and Markdown in the viewer. The file's
// first MAX_BYTES are read over the page's connection (File.read) and shown; Markdown is
// rendered into DOM nodes built with createElement and textContent only — never innerHTML —
// so a file cannot inject markup or script: raw HTML in it shows as text, and links keep
// only http(s) and mailto targets.
"use strict";

globalThis.RangecastPreview = (() => {
  const MAX_BYTES = 256 << 10;

  const TEXT_EXT = new Set(("txt text log csv tsv json jsonl ndjson yaml yml toml ini cfg conf env properties xml html htm svg " +
    "go js mjs cjs ts tsx jsx py rb rs c h cc cpp hpp java kt swift php sh bash zsh fish ps1 bat css scss sql proto " +
    "gitignore dockerfile makefile mod sum lock srt vtt tex rst adoc org diff patch").split(" "));
  const MD_EXT = new Set(["md", "markdown", "mdown", "mkd"]);
  const TEXT_NAMES = /^(readme|license|licence|copying|changelog|changes|notes|authors|contributors|makefile|dockerfile|todo)$/i;

  // kindOf says which preview a file gets: "markdown", "text" or "".
  function kindOf(entry) {
    const name = entry.name || "";
    const dot = name.lastIndexOf(".");
    const ext = dot >= 0 ? name.slice(dot + 1).toLowerCase() : "";
    if (MD_EXT.has(ext)) return "markdown";
    if (TEXT_EXT.has(ext) || TEXT_NAMES.test(name)) return "text";
    const t = entry.type || "";
    if (t === "text/markdown") return "markdown";
    if (t.startsWith("text/") || t === "application/json") return "text";
    return "";
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text != null) e.textContent = text;
    return e;
  }

  // safeHref keeps a link target that cannot run script: absolute http(s) and mailto only.
  function safeHref(url) {
    try {
      const u = new URL(url);
      return u.protocol === "http:" || u.protocol === "https:" || u.protocol === "mailto:" ? u.href : null;
    } catch {
      return null;
    }
  }

  // inline appends text with `code`, **strong**, *em* / _em_ and [links](url) to parent.
  function inline(parent, text) {
    const re = /(`+)([\s\S]*?[^`])\1(?!`)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|\b_([^_\s][^_]*)_\b|\[([^\]]+)\]\(([^)\s]+)(?:\s+"[^"]*")?\)|<(https?:\/\/[^>\s]+)>/g;
    let last = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > last) parent.append(text.slice(last, m.index));
      if (m[2] !== undefined) parent.append(el("code", "", m[2]));
      else if (m[3] !== undefined || m[4] !== undefined) inline(parent.appendChild(el("strong")), m[3] ?? m[4]);
      else if (m[5] !== undefined || m[6] !== undefined) inline(parent.appendChild(el("em")), m[5] ?? m[6]);
      else if (m[7] !== undefined) {
        const href = safeHref(m[8]);
        if (href) {
          const a = el("a");
          a.href = href;
          a.target = "_blank";
          a.rel = "noopener noreferrer";
          inline(a, m[7]);
          parent.append(a);
        } else {
          inline(parent, m[7]); // a relative or unsafe target: the text alone
        }
      } else if (m[9] !== undefined && safeHref(m[9])) {
        const a = el("a", "", m[9]);
        a.href = safeHref(m[9]);
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        parent.append(a);
      } else {
        parent.append(m[0]);
      }
      last = re.lastIndex;
    }
    if (last < text.length) parent.append(text.slice(last));
  }

  // markdown renders the CommonMark blocks people use most (headings, paragraphs, lists,
  // quotes, fenced and indented code, rules) into a fragment.
  function markdown(src) {
    const root = el("div", "md");
    const lines = src.replace(/\r\n?/g, "\n").split("\n");
    let i = 0;
    const blank = (l) => /^\s*$/.test(l);
    const startsBlock = (l) => /^(#{1,6}\s|```|~~~|>\s?|\s*([-*+]|\d+[.)])\s|(\*\s*){3,}$|(-\s*){3,}$|(_\s*){3,}$)/.test(l);
    while (i < lines.length) {
      const l = lines[i];
      let m;
      if (blank(l)) { i++; continue; }
      if ((m = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(l))) {
        inline(root.appendChild(el("h" + m[1].length)), m[2]);
        i++;
      } else if ((m = /^(```|~~~)\s*([\w+-]*)/.exec(l))) {
        const fence = m[1], body = [];
        for (i++; i < lines.length && !lines[i].startsWith(fence); i++) body.push(lines[i]);
        i++;
        const pre = el("pre");
        const code = el("code", "", body.join("\n"));
        if (m[2]) code.dataset.lang = m[2];
        pre.append(code);
        root.append(pre);
      } else if (/^( {4}|\t)/.test(l)) {
        const body = [];
        for (; i < lines.length && (/^( {4}|\t)/.test(lines[i]) || blank(lines[i])); i++) body.push(lines[i].replace(/^( {4}|\t)/, ""));
        while (body.length && blank(body[body.length - 1])) body.pop();
        const pre = el("pre");
        pre.append(el("code", "", body.join("\n")));
        root.append(pre);
      } else if (/^((\*\s*){3,}|(-\s*){3,}|(_\s*){3,})$/.test(l.trim())) {
        root.append(el("hr"));
        i++;
      } else if (/^>\s?/.test(l)) {
        const body = [];
        for (; i < lines.length && /^>\s?/.test(lines[i]); i++) body.push(lines[i].replace(/^>\s?/, ""));
        const q = el("blockquote");
        q.append(...markdown(body.join("\n")).childNodes);
        root.append(q);
      } else if ((m = /^\s*([-*+]|\d+[.)])\s+/.exec(l))) {
        const ordered = /\d/.test(m[1]);
        const list = el(ordered ? "ol" : "ul");
        if (ordered && parseInt(m[1], 10) !== 1) list.start = parseInt(m[1], 10);
        while (i < lines.length && (m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(lines[i])) && /\d/.test(m[1]) === ordered) {
          let text = m[2];
          for (i++; i < lines.length && !blank(lines[i]) && !startsBlock(lines[i]); i++) text += " " + lines[i].trim();
          const li = el("li");
          const task = /^\[([ xX])\]\s+/.exec(text);
          if (task) {
            const box = el("input");
            box.type = "checkbox";
            box.disabled = true;
            box.checked = task[1] !== " ";
            box.setAttribute("aria-label", task[1] !== " " ? "done" : "not done");
            li.append(box, " ");
            text = text.slice(task[0].length);
          }
          inline(li, text);
          list.append(li);
          while (i < lines.length && blank(lines[i]) && i + 1 < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i + 1])) i++;
        }
        root.append(list);
      } else {
        const body = [l.trim()];
        for (i++; i < lines.length && !blank(lines[i]) && !startsBlock(lines[i]); i++) {
          if (/^(=+|-+)\s*$/.test(lines[i])) { // a setext heading
            const h = el(lines[i].trim()[0] === "=" ? "h1" : "h2");
            inline(h, body.join(" "));
            root.append(h);
            body.length = 0;
            i++;
            break;
          }
          body.push(lines[i].trim());
        }
        if (body.length) inline(root.appendChild(el("p")), body.join(" "));
      }
    }
    return root;
  }

  // render reads the file's head over remote and returns the preview element; it throws the
  // read's error (with its code) for the viewer to explain.
  async function render(entry, remote, kind) {
    const f = await remote.open(entry.path);
    let bytes;
    try {
      bytes = f.size > 0 ? await f.read(0, Math.min(f.size, MAX_BYTES)) : new Uint8Array(0);
    } finally {
      f.close().catch(() => {});
    }
    const cut = f.size > MAX_BYTES;
    // A cut may split a UTF-8 sequence: the decoder's replacement character at the very end
    // is dropped.
    let text = new TextDecoder("utf-8").decode(bytes);
    if (cut) text = text.replace(/\uFFFD$/, "");
    const box = el("div", "viewer-text");
    box.dataset.preview = kind;
    box.tabIndex = 0; // scrollable: reachable with the keyboard
    box.setAttribute("role", "document");
    box.setAttribute("aria-label", `Preview of ${entry.name}`);
    if (kind === "markdown") box.append(markdown(text));
    else box.append(el("pre", "plain", text));
    if (cut) {
      const note = el("p", "preview-cut", `Showing the first ${MAX_BYTES >> 10} KiB of this file: download it for the rest.`);
      box.append(note);
    }
    return box;
  }

  return { kindOf, render, markdown, MAX_BYTES };
})();
