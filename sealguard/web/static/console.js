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

  // The filters live in the URL: a view can be bookmarked, shared or reloaded, and applies as it changes.
  const FIELDS = ["status", "severity", "rule", "search", "since", "until", "sort", "group"];
  function toUrl() {
    const f = new FormData(document.getElementById("filters")), q = new URLSearchParams();
    for (const k of FIELDS) { const v = String(f.get(k) || "").trim(); if (v) q.set(k, v); }
    if (offset) q.set("offset", String(offset));
    history.replaceState(null, "", q.toString() ? "?" + q : location.pathname);
  }
  function fromUrl() {
    const q = new URLSearchParams(location.search), form = document.getElementById("filters");
    for (const k of FIELDS) {
      const field = form.elements[k], v = q.get(k);
      if (!field || v === null) continue;
      if (field.type === "checkbox") field.checked = v === field.value; else field.value = v;
    }
    offset = Math.max(0, Number(q.get("offset")) || 0);
  }

  // Only the latest load is shown: filters changed twice in quick succession send two requests, and the
  // first may answer last (its rows would then sit under the second's filters, ready to be acted on).
  const loading = SG.latestOnly();
  async function load() {
    const latest = loading();
    const { q, status } = params();
    if (!status) q.set("status", "unresolved");  // the default view: everything people still have to handle
    const [data, open] = await Promise.all([api("/api/v1/alerts?" + q), api("/api/v1/alerts?status=open&limit=1")]);
    if (!latest()) return;
    shown = data.alerts;
    render(data);
    document.title = (open.total ? `(${open.total}) ` : "") + "sealguard · alarm console";  // unhandled, in the tab
    notifyCritical();
  }

  function render(data) {
    const now = Date.now();
    const grouped = document.querySelector("#filters [name=group]").checked;
    const order = grouped ? [...shown].sort((x, y) => (x.conveyance_id || "").localeCompare(y.conveyance_id || "")) : shown;
    const rows = [];
    let last = null;
    for (const a of order) {
      if (grouped && a.conveyance_id !== last) {
        last = a.conveyance_id;
        const n = order.filter(x => x.conveyance_id === last).length;
        rows.push(el("tr", { class: "group" }, el("th", { colspan: "9" }, `${last || "no conveyance"} · ${n} alert(s) on this page`)));
      }
      rows.push(row(a, now));
    }
    document.getElementById("rows").replaceChildren(...rows);
    pageInfo(data);
  }

  function row(a, now) {
    const box = el("input", { type: "checkbox", "data-id": a.alert_id, "aria-label": "select " + a.rule_id + " " + (a.conveyance_id || "") });
    box.checked = selected.has(a.alert_id);
    box.disabled = a.status === "resolved";  // open or acknowledged: still to act on
    box.addEventListener("change", () => { box.checked ? selected.add(a.alert_id) : selected.delete(a.alert_id); bulkState(); });
    return el("tr", { class: "sev-" + a.severity, "data-id": a.alert_id },
      el("td", {}, box), el("td", {}, el("span", { class: "sev " + a.severity }, a.severity)),
      el("td", { class: "rule" }, a.rule_id), el("td", {}, a.conveyance_id || "-", a.conveyance_id ? [" ", el("a", { class: "on-map", href: "/?conveyance=" + encodeURIComponent(a.conveyance_id), title: "show on the map" }, "map")] : null),
      el("td", {}, el("a", { href: "/alerts/" + a.alert_id }, a.message)),
      el("td", { class: "age", "data-label": "since", title: a.occurred_at }, age(a.occurred_at, now)),
      el("td", { class: "status", "data-label": "status" }, a.status),
      el("td", { "data-label": "acknowledged by" }, a.acknowledged_by || ""),
      el("td", { "data-label": "assigned to" }, a.assignee || ""));
  }

  function pageInfo(data) {
    const pages = Math.max(1, Math.ceil(data.total / PAGE));
    document.getElementById("page").textContent = `page ${Math.floor(offset / PAGE) + 1} of ${pages} · ${data.total} alert(s)`;
    document.getElementById("prev").disabled = offset === 0;
    document.getElementById("next").disabled = data.next_offset === null || data.next_offset === undefined;
    document.getElementById("all").checked = false;
    bulkState();
  }

  function bulkState() {
    const b = document.getElementById("ack-selected"), r = document.getElementById("resolve-selected");
    b.disabled = r.disabled = selected.size === 0;
    document.getElementById("silence-for").disabled = selected.size === 0;
    b.textContent = selected.size ? `Acknowledge selected (${selected.size})` : "Acknowledge selected";
    r.textContent = selected.size ? `Resolve selected (${selected.size})` : "Resolve selected";
  }

  document.getElementById("all").addEventListener("change", ev => {
    for (const box of document.querySelectorAll("#rows input[type=checkbox]:not(:disabled)")) {
      box.checked = ev.target.checked;
      ev.target.checked ? selected.add(box.dataset.id) : selected.delete(box.dataset.id);
    }
    bulkState();
  });

  // A bulk action is one request; its answer streams a line per alert, which moves the progress bar.
  async function bulk(verb) {
    const ids = [...selected], out = document.getElementById("result"), bar = document.getElementById("progress");
    if (!ids.length) return;
    bar.hidden = false; bar.max = ids.length; bar.value = 0;
    const failed = [];
    let done = 0;
    try {
      await SG.apiLines("/api/v1/alerts-bulk", { method: "POST", body: { verb, alert_ids: ids } }, line => {
        if (line.summary) return;
        bar.value += 1;
        if (line.ok) { done += 1; selected.delete(line.alert_id); } else failed.push(`${line.alert_id.slice(0, 8)}: ${line.error}`);
        out.className = "muted"; out.textContent = `${verb}: ${bar.value} of ${ids.length}…`;
      });
    } catch (e) { failed.push(e.message); }
    bar.hidden = true;
    out.className = failed.length ? "error" : "muted";
    out.textContent = `${verb}: ${done} of ${ids.length} done` + (failed.length ? ` — ${failed.slice(0, 5).join("; ")}` : "");
    await load();
  }
  document.getElementById("ack-selected").addEventListener("click", () => bulk("acknowledge"));
  document.getElementById("resolve-selected").addEventListener("click", () => bulk("resolve"));

  // Silence the selected alerts' conveyances (notifications muted, alerts still raised and shown): an admin's.
  document.getElementById("silence-for").addEventListener("change", async ev => {
    const minutes = Number(ev.target.value), out = document.getElementById("result");
    ev.target.value = "";
    const picked = shown.filter(a => selected.has(a.alert_id) && a.conveyance_id);
    const convs = [...new Set(picked.map(a => a.conveyance_id))];
    if (!minutes || !convs.length) return;
    const reason = prompt(`Why silence ${convs.join(", ")} for ${minutes / 60} h?`);
    if (!reason) return;
    const escape = v => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const byTenant = new Map();
    for (const a of picked) byTenant.set(a.tenant, [...(byTenant.get(a.tenant) || []), a.conveyance_id]);
    try {
      for (const [tenant, list] of byTenant) {
        const matcher = `conveyance_id=~"^(${[...new Set(list)].map(escape).join("|")})$"`;
        await api("/api/v1/silences", { method: "POST", body: { matchers: [matcher], reason, duration_minutes: minutes,
          tenant: SG.me() && SG.me().tenant === "*" ? tenant : undefined } });
      }
      out.className = "muted"; out.textContent = `silenced ${convs.length} conveyance(s) for ${minutes / 60} h`;
    } catch (e) { out.className = "error"; out.textContent = "Not silenced: " + e.message; }
  });

  // Filters apply as they change (no Apply): a select or checkbox at once, typed text after a pause.
  let typing = null;
  let applied = null;  // the filters last applied: an event that changes nothing (a re-typed value) keeps the selection
  const refilter = () => {
    const now = new URLSearchParams(new FormData(document.getElementById("filters"))).toString();
    if (now === applied) return;
    applied = now; offset = 0; selected.clear(); toUrl(); load().catch(showError);
  };
  document.getElementById("filters").addEventListener("submit", ev => { ev.preventDefault(); refilter(); });
  document.getElementById("filters").addEventListener("change", refilter);
  document.getElementById("filters").addEventListener("input", ev => {
    if (ev.target.tagName !== "INPUT" || ev.target.type !== "text") return;
    clearTimeout(typing); typing = setTimeout(refilter, 400);
  });
  document.getElementById("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); toUrl(); load().catch(showError); });
  document.getElementById("next").addEventListener("click", () => { offset += PAGE; toUrl(); load().catch(showError); });

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
    fromUrl();
    applied = new URLSearchParams(new FormData(document.getElementById("filters"))).toString();
    try { await load(); } catch (e) { showError(e); }
    stream("/api/v1/stream", onLive, setLive);
    setInterval(() => { const now = Date.now(); for (const n of document.querySelectorAll(".age")) n.textContent = age(n.title, now); }, 30000);
  });
})();
