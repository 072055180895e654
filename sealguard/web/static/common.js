// Shared by every page: signing in (a session cookie; the page never holds a secret), API calls with the
// session's CSRF token, the live stream, ages and times.
"use strict";
const SG = (() => {
  let me = null;  // who is signed in: {name, role, tenant, csrf}

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

  function request(path, options = {}) {
    const method = (options.method || "GET").toUpperCase();
    const headers = { ...(options.body ? { "Content-Type": "application/json" } : {}),
                      ...(method !== "GET" && me && me.csrf ? { "X-CSRF-Token": me.csrf } : {}) };
    return fetch(path, { ...options, headers, credentials: "same-origin",
                         body: options.body ? JSON.stringify(options.body) : undefined });
  }

  function parsed(text) {
    try { return text ? JSON.parse(text) : null; } catch (e) { return { detail: text.slice(0, 200) }; }
  }

  // A refused request as an Error with the server's detail (a 401 asks to sign in again).
  async function failure(resp) {
    const data = parsed(await resp.text());
    if (resp.status === 401) showLogin("Your session has ended; sign in again.");
    return new Error(data && data.detail ? (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail)) : resp.statusText);
  }

  async function api(path, options = {}) {
    const resp = await request(path, options);
    if (!resp.ok) throw await failure(resp);
    return parsed(await resp.text());
  }

  // An answer of one JSON value a line (application/x-ndjson), each handed to onLine as it arrives: the
  // progress of a long bulk action.
  async function apiLines(path, options, onLine) {
    const resp = await request(path, options);
    if (!resp.ok) throw await failure(resp);
    for await (const line of pieces(resp, "\n")) if (line.trim()) onLine(JSON.parse(line));
  }

  // A streamed answer's pieces between separators, each as soon as it has arrived whole.
  async function* pieces(resp, sep) {
    const reader = resp.body.getReader(), dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf(sep)) >= 0) { yield buf.slice(0, i); buf = buf.slice(i + sep.length); }
    }
  }

  // Server-Sent Events over fetch (the session cookie goes with it); reconnects with backoff, and waits
  // for a new sign-in when the session has ended.
  async function stream(path, onEvent, onState) {
    let delay = 1000;
    for (;;) {
      try {
        const resp = await fetch(path, { credentials: "same-origin" });
        if (resp.status === 401) { showLogin("Your session has ended; sign in again."); await signedIn; }
        if (!resp.ok) throw new Error("stream " + resp.status);
        onState(true); delay = 1000;
        for await (const chunk of pieces(resp, "\n\n")) {
          let type = "message", data = "";
          for (const line of chunk.split("\n")) {
            if (line.startsWith("event: ")) type = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (type === "revoked") showLogin("Your session has ended; sign in again.");
          else if (data) onEvent(type, JSON.parse(data));
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

  let signedInResolve; let signedIn = new Promise(r => { signedInResolve = r; });

  function showLogin(message) {
    const box = document.getElementById("login");
    if (!box) return;
    if (box.hidden) signedIn = new Promise(r => { signedInResolve = r; });
    box.hidden = false;
    box.querySelector(".why").textContent = message || "";
    const form = box.querySelector("form");
    form.code.parentElement.hidden = true; form.code.value = ""; form.password.value = "";
    form.username.focus();
  }

  function showMe() {
    const header = document.querySelector("header");
    if (!header || !me) return;
    let box = document.getElementById("me");
    if (!box) { box = el("span", { id: "me" }); header.append(box); }
    box.replaceChildren(el("span", { class: "who", title: me.tenant + " · " + me.role }, me.name),
      me.kind === "person" ? el("button", { type: "button", class: "link", id: "signout", onclick: async () => {
        await api("/auth/logout", { method: "POST" }).catch(() => null);
        me = null; location.reload();
      } }, "Sign out") : null);
  }

  async function whoami() {
    const resp = await fetch("/api/v1/session", { credentials: "same-origin" });
    if (!resp.ok) return false;
    me = await resp.json(); showMe();
    return true;
  }

  // Sign in as a person: a local account (password, then a one-time code if the account has one), or the
  // identity provider (a link that comes back to this page). Then run the page.
  function login(onReady) {
    const box = document.getElementById("login");
    const form = box.querySelector("form");
    fetch("/auth/methods").then(r => r.json()).then(m => {
      const sso = box.querySelector("#sso");
      if (m.oidc) {
        sso.hidden = false; sso.textContent = m.oidc.label;
        sso.href = "/auth/oidc/start?next=" + encodeURIComponent(location.pathname + location.search);
      }
    }).catch(() => null);
    let started = false;
    // Signed in again after a session ended (perhaps as someone else, of another tenant): the page starts
    // afresh rather than keep what it showed the one before.
    const ready = () => { if (started) { location.reload(); return; } box.hidden = true; signedInResolve(); started = true; onReady(); };
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      const body = { username: form.username.value.trim(), password: form.password.value };
      if (!form.code.parentElement.hidden) body.code = form.code.value.trim();
      const resp = await fetch("/auth/login", { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const data = await resp.json().catch(() => ({}));
      if (resp.ok) { form.password.value = ""; await whoami(); ready(); return; }
      if (data.needs === "code") { form.code.parentElement.hidden = false; form.code.focus(); }
      box.querySelector(".why").textContent = typeof data.detail === "string" ? data.detail : "Sign-in failed.";
    });
    whoami().then(ok => ok ? ready() : showLogin("Sign in to continue."));
  }

  // Answers can come back out of order: when a page asks again (filters changed, another conveyance
  // entered), only the latest question's answer may be shown. Each call of the returned function starts a
  // question and returns a check that stays true only while no later question was started.
  function latestOnly() {
    let asked = 0;
    return () => { const mine = ++asked; return () => mine === asked; };
  }

  function fmtTime(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC") : "-"; }

  return { el, api, apiLines, stream, age, login, fmtTime, latestOnly, me: () => me };
})();
