// rangecast web app: share links (#s=ID.SCOPE.EXPIRY.SECRET, docs/PROTOCOL.md "Share links").
// app.js asks this file what a link grants, how to say it, and which screen a refusal gets.
// The daemon decides everything: this only reads the link's public part to describe it; a
// link whose scope or expiry was altered is refused by the daemon (unauthorized).
"use strict";

globalThis.RangecastShare = (() => {
  // decodeB64url decodes unpadded base64url into a UTF-8 string; it throws on anything else.
  function decodeB64url(s) {
    if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) throw new Error("not base64url");
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4);
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  }

  // parse reads a share link's fragment value. It returns {id, scope, expiry} (scope ""
  // for the whole shared folder, else a relative "/"-separated path; expiry in unix seconds,
  // 0 for none), or null when the value is not of the link's form (cut when copied, say).
  function parse(value) {
    const parts = String(value || "").split(".");
    if (parts.length !== 4) return null;
    const [id, sc, exp, secret] = parts;
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) return null;
    if (!/^(0|[1-9][0-9]{0,15})$/.test(exp)) return null;
    if (!/^[A-Za-z0-9_-]{43}$/.test(secret)) return null;
    let scope;
    try {
      scope = decodeB64url(sc);
    } catch {
      return null;
    }
    if (scope.split("/").some((p) => p === "." || p === "..") || scope.startsWith("/") || scope.endsWith("/") || scope.includes("//") || scope.includes("\0")) return null;
    return { id, scope, expiry: Number(exp) };
  }

  const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "always" });

  // untilText says how far away t (ms) is from now: "in 23 hours", "in 5 minutes".
  function untilText(t, now) {
    const s = Math.max(0, (t - now) / 1000);
    if (s < 90) return rtf.format(Math.max(1, Math.round(s)), "second");
    if (s < 90 * 60) return rtf.format(Math.round(s / 60), "minute");
    if (s < 48 * 3600) return rtf.format(Math.round(s / 3600), "hour");
    return rtf.format(Math.round(s / 86400), "day");
  }

  // expiryText describes the expiry for the banner.
  function expiryText(info, now = Date.now()) {
    if (!info.expiry) return "never expires (until its owner revokes it)";
    const t = info.expiry * 1000;
    if (t <= now) return `expired ${dateFmt.format(t)}`;
    return `expires ${untilText(t, now)} (${dateFmt.format(t)})`;
  }

  function baseName(scope) {
    return scope.slice(scope.lastIndexOf("/") + 1);
  }

  // banner builds the strip under the top bar that says what the link grants; isFile says
  // whether the scope is one file. The element keeps data-scope and data-expiry for tests.
  function banner(info, isFile) {
    const b = document.createElement("div");
    b.id = "share-banner";
    b.className = "share-banner";
    b.setAttribute("role", "region");
    b.setAttribute("aria-label", "What this link shares");
    b.dataset.scope = info.scope;
    b.dataset.expiry = String(info.expiry);
    b.dataset.kind = isFile ? "file" : "folder";
    const what = document.createElement("span");
    what.className = "share-what";
    const lead = info.scope === "" ? "This link shares the whole folder"
      : isFile ? "This link shares one file: " : "This link shares one folder and what is in it: ";
    what.append(lead);
    if (info.scope !== "") {
      const name = document.createElement("strong");
      name.textContent = info.scope;
      name.title = info.scope;
      what.append(name);
    }
    const exp = document.createElement("span");
    exp.className = "share-expiry";
    exp.dataset.field = "expiry";
    exp.textContent = expiryText(info);
    b.append(what, exp);
    return b;
  }

  // show puts the banner in the page (replacing an old one), or removes it when info is null.
  // Its expiry text is kept current every 30 s (at the expiry the daemon ends the session
  // with link_expired, and the page shows the expired screen).
  let refresh = 0;
  function show(info, isFile) {
    document.querySelector("#share-banner")?.remove();
    clearInterval(refresh);
    if (!info) return;
    const b = banner(info, isFile);
    document.querySelector(".topbar").after(b);
    if (info.expiry) {
      refresh = setInterval(() => {
        b.querySelector("[data-field=expiry]").textContent = expiryText(info);
      }, 30000);
    }
  }

  // errorFor is the screen for a refusal of a share link: [title, text, canRetry], or null
  // for app.js's generic screens. Expired and revoked links never retry: only their owner
  // can issue a new one.
  function errorFor(code, info) {
    switch (code) {
      case "link_expired": {
        const when = info && info.expiry ? ` on ${dateFmt.format(info.expiry * 1000)}` : "";
        return ["This share link has expired",
          `It stopped working${when}. Ask the person who shared it with you for a new link.`, false];
      }
      case "link_revoked":
        return ["This share link was revoked",
          "Its owner has taken it back: it no longer opens anything. Ask them for a new link if you still need the files.", false];
      case "bad_link":
        return ["This share link is incomplete",
          "Part of it is missing or damaged (it may have been cut when it was copied). Open the complete link you were sent, including everything after #s=.", false];
      case "unauthorized":
        return ["This share link is not valid",
          "The daemon does not recognise it: it was altered, or it belongs to another rangecast daemon. Open the exact link you were sent.", false];
      case "not_found":
        return ["What this link shares is gone",
          "The shared file or folder no longer exists on the owner's machine. Ask them for a new link.", false];
      case "forbidden":
        return ["What this link shares cannot be read",
          "The daemon may not read the shared file or folder right now. Ask the person who shared it.", false];
    }
    return null;
  }

  return { parse, expiryText, baseName, show, errorFor };
})();
