// The alarm console: every alert as a table, filtered, sorted and paged on the server; acknowledge many at
// once; the history of resolved alerts; a sound and a desktop notification for a new critical alert, if the
// operator asks for them. Live: the table reloads when the stream says something changed.
"use strict";
(() => {
  const { el, api, stream, age } = SG;
  const PAGE = Math.min(200, Math.max(1, Number(new URLSearchParams(location.search).get("page_size")) || 50));
  let offset = 0, shown = [], knownCritical = null;
  const selected = new Set();

  function params() {
    const f = new FormData(document.getElementById("filters"));
    const q = new URLSearchParams({ limit: String(PAGE), offset: String(offset), sort: f.get("sort") || "severity" });
    const status = f.get("status");
    if (status && status !== "all") q.set("status", status);
    for (const k of ["severity", "rule", "search"]) { const v = String(f.get(k) || "").trim(); if (v) q.set(k, k === "rule" ? v.toUpperCase() : v); }
    for (const k of ["since", "until"]) { const v = f.get(k); if (v) q.set(k, new Date(v).toISOString()); }
    return { q, status };
  }

  async function load() {
    const { q, status } = params();
    if (!status) q.set("status", "unresolved");  // the default view: everything people still have to handle
    const data = await api("/api/v1/alerts?" + q);
    shown = data.alerts;
    render(data);
    notifyCritical();
  }

  function render(data) {
    const now = Date.now();
    document.getElementById("rows").replaceChildren(...shown.map(a => {
      const box = el("input", { type: "checkbox", "data-id": a.alert_id, "aria-label": "select " + a.rule_id + " " + (a.conveyance_id || "") });
      box.checked = selected.has(a.alert_id);
      box.disabled = a.status !== "open";
      box.addEventListener("change", () => { box.checked ? selected.add(a.alert_id) : selected.delete(a.alert_id); bulkState(); });
      return el("tr", { class: "sev-" + a.severity, "data-id": a.alert_id },
        el("td", {}, box), el("td", {}, el("span", { class: "sev " + a.severity }, a.severity)),
        el("td", {}, a.rule_id), el("td", {}, a.conveyance_id || "-", a.conveyance_id ? [" ", el("a", { class: "on-map", href: "/?conveyance=" + encodeURIComponent(a.conveyance_id), title: "show on the map" }, "map")] : null),
        el("td", {}, el("a", { href: "/alerts/" + a.alert_id }, a.message)),
        el("td", { class: "age", "data-label": "since", title: a.occurred_at }, age(a.occurred_at, now)),
        el("td", { class: "status", "data-label": "status" }, a.status));
    }));
    const pages = Math.max(1, Math.ceil(data.total / PAGE));
    document.getElementById("page").textContent = `page ${Math.floor(offset / PAGE) + 1} of ${pages} · ${data.total} alert(s)`;
    document.getElementById("prev").disabled = offset === 0;
    document.getElementById("next").disabled = data.next_offset === null || data.next_offset === undefined;
    document.getElementById("all").checked = false;
    bulkState();
  }

  function bulkState() {
    const b = document.getElementById("ack-selected");
    b.disabled = selected.size === 0;
    b.textContent = selected.size ? `Acknowledge selected (${selected.size})` : "Acknowledge selected";
  }

  document.getElementById("all").addEventListener("change", ev => {
    for (const box of document.querySelectorAll("#rows input[type=checkbox]:not(:disabled)")) {
      box.checked = ev.target.checked;
      ev.target.checked ? selected.add(box.dataset.id) : selected.delete(box.dataset.id);
    }
    bulkState();
  });

  document.getElementById("ack-selected").addEventListener("click", async () => {
    const ids = [...selected], out = document.getElementById("result");
    let done = 0; const failed = [];
    for (const id of ids) {  // one request each: every acknowledgement is recorded under this person
      try { await api(`/api/v1/alerts/${id}/acknowledge`, { method: "POST", body: {} }); done += 1; selected.delete(id); }
      catch (e) { failed.push(`${id.slice(0, 8)}: ${e.message}`); }
    }
    out.className = failed.length ? "error" : "muted";
    out.textContent = `acknowledged ${done} of ${ids.length}` + (failed.length ? ` — ${failed.join("; ")}` : "");
    await load();
  });

  document.getElementById("filters").addEventListener("submit", ev => { ev.preventDefault(); offset = 0; selected.clear(); load().catch(showError); });
  document.getElementById("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load().catch(showError); });
  document.getElementById("next").addEventListener("click", () => { offset += PAGE; load().catch(showError); });

  // Opt-in alerting of the operator: a short tone and a desktop notification for each new critical alert.
  document.getElementById("notify").addEventListener("change", async ev => {
    if (ev.target.checked && "Notification" in window && Notification.permission === "default") await Notification.requestPermission();
  });
  async function notifyCritical() {
    const now = await api("/api/v1/alerts?status=open&severity=critical&limit=200").catch(() => null);
    if (!now) return;
    const ids = new Set(now.alerts.map(a => a.alert_id));
    const fresh = knownCritical ? now.alerts.filter(a => !knownCritical.has(a.alert_id)) : [];
    knownCritical = ids;
    if (!fresh.length || !document.getElementById("notify").checked) return;
    document.body.dataset.lastCritical = fresh[0].alert_id;  // what the page told the operator about
    try {
      const ctx = new AudioContext(), osc = ctx.createOscillator();
      osc.frequency.value = 880; osc.connect(ctx.destination); osc.start(); osc.stop(ctx.currentTime + 0.4);
    } catch (e) { /* no audio here */ }
    if ("Notification" in window && Notification.permission === "granted") {
      for (const a of fresh.slice(0, 3)) new Notification(`CRITICAL ${a.rule_id} · ${a.conveyance_id || ""}`, { body: a.message });
    }
  }

  function showError(e) { document.getElementById("result").className = "error"; document.getElementById("result").textContent = e.message; }
  function setLive(on) { const n = document.getElementById("live"); n.className = on ? "on" : "off"; n.textContent = on ? "live" : "reconnecting"; }
  let timer = null;
  function onLive(type) { if (type === "position") return; clearTimeout(timer); timer = setTimeout(() => load().catch(() => {}), 400); }

  SG.login(async () => {
    try { await load(); } catch (e) { showError(e); }
    stream("/api/v1/stream", onLive, setLive);
    setInterval(() => { const now = Date.now(); for (const n of document.querySelectorAll(".age")) n.textContent = age(n.title, now); }, 30000);
  });
})();
