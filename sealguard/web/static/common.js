// Shared by the dashboard, the alert page and the dock page: the token, API calls, the live stream.
"use strict";
const SG = (() => {
  const KEY = "sealguard.token";
  const m = location.hash.match(/token=([^&]+)/);
  if (m) { localStorage.setItem(KEY, decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname + location.search); }

  function token() { return localStorage.getItem(KEY) || ""; }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    return node;
  }

  async function api(path, options = {}) {
    const headers = { "Authorization": "Bearer " + token(), ...(options.body ? { "Content-Type": "application/json" } : {}) };
    const resp = await fetch(path, { ...options, headers, body: options.body ? JSON.stringify(options.body) : undefined });
    const text = await resp.text();
    const data = text ? JSON.parse(text) : null;
    if (!resp.ok) {
      if (resp.status === 401) showLogin("That token was refused; paste a valid one.");
      const detail = data && data.detail ? (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail)) : resp.statusText;
      throw new Error(detail);
    }
    return data;
  }

  // Server-Sent Events over fetch, so the bearer token goes in a header; reconnects with backoff.
  async function stream(path, onEvent, onState) {
    let delay = 1000;
    for (;;) {
      try {
        const resp = await fetch(path, { headers: { "Authorization": "Bearer " + token() } });
        if (!resp.ok) throw new Error("stream " + resp.status);
        onState(true); delay = 1000;
        const reader = resp.body.getReader(); const dec = new TextDecoder(); let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const chunk = buf.slice(0, i); buf = buf.slice(i + 2);
            let type = "message", data = "";
            for (const line of chunk.split("\n")) {
              if (line.startsWith("event: ")) type = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (data) onEvent(type, JSON.parse(data));
          }
        }
      } catch (e) { /* fall through to reconnect */ }
      onState(false);
      await new Promise(r => setTimeout(r, delay)); delay = Math.min(delay * 2, 15000);
    }
  }

  function age(iso, now) {
    const diff = ((now || Date.now()) - Date.parse(iso)) / 1000;
    // An event stamped ahead of this clock (a simulation running faster than time, a device clock ahead)
    // has no true age here: say its event time instead of a misleading "0 s".
    if (diff < -60) return "event time " + new Date(iso).toISOString().slice(11, 16) + " UTC";
    const s = Math.max(0, diff);
    if (s < 90) return Math.round(s) + " s";
    if (s < 5400) return Math.round(s / 60) + " min";
    if (s < 172800) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " d";
  }

  function showLogin(message) {
    const box = document.getElementById("login");
    if (!box) return;
    box.hidden = false;
    box.querySelector(".why").textContent = message || "";
  }

  function login(onReady) {
    const box = document.getElementById("login");
    const form = box.querySelector("form");
    form.addEventListener("submit", ev => {
      ev.preventDefault();
      localStorage.setItem(KEY, form.token.value.trim());
      box.hidden = true; onReady();
    });
    if (!token()) showLogin("Paste an API token (sealguard token create ...) to start."); else onReady();
  }

  function fmtTime(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC") : "-"; }

  return { token, el, api, stream, age, login, fmtTime };
})();
