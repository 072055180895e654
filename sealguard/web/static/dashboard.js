// Operations dashboard: open alerts with actions, and an SVG map of the fleet, updated live over SSE.
"use strict";
(() => {
  const { el, api, stream, age } = SG;
  const SEV = ["critical", "high", "medium", "low"];
  const RANK = { critical: 3, high: 2, medium: 1, low: 0 };
  const NS = "http://www.w3.org/2000/svg";
  let alerts = [], convs = [], proj = null, dots = new Map();

  async function loadAlerts() {
    const [open, acked] = await Promise.all([api("/api/v1/alerts?status=open&limit=1000"), api("/api/v1/alerts?status=acknowledged&limit=1000")]);
    alerts = open.alerts.concat(acked.alerts);
    indexWorst();
    renderAlerts();
  }

  function renderAlerts() {
    const box = document.getElementById("alerts");
    document.getElementById("alert-count").textContent = `(${alerts.length})`;
    if (!alerts.length) { box.replaceChildren(el("p", { class: "muted" }, "No open alerts.")); return; }
    const now = Date.now();
    const rows = [];
    for (const sev of SEV) {
      const mine = alerts.filter(a => a.severity === sev).sort((a, b) => Date.parse(a.occurred_at) - Date.parse(b.occurred_at));
      if (!mine.length) continue;
      rows.push(el("h3", {}, `${sev} (${mine.length})`));
      for (const a of mine) {
        rows.push(el("div", { class: "alert-row " + a.status, "data-alert": a.alert_id },
          el("div", {}, el("span", { class: "sev " + a.severity }, a.severity), " ",
            el("a", { href: "/alerts/" + a.alert_id }, a.rule_id), " · ", el("b", {}, a.conveyance_id || "-"),
            " · ", el("span", { class: "age", title: a.occurred_at }, age(a.occurred_at, now)), " · ", el("span", { class: "status" }, a.status)),
          el("div", { class: "msg" }, a.message),
          el("div", { class: "meta" }, a.acknowledged_by ? `acknowledged by ${a.acknowledged_by}` : "", a.resolve_requested_by ? ` · resolution asked by ${a.resolve_requested_by}` : ""),
          el("div", {},
            a.status === "open" ? el("button", { class: "primary ack", onclick: () => act(a, "acknowledge") }, "Acknowledge") : null, " ",
            el("button", { class: "resolve", onclick: () => act(a, "resolve") }, a.resolve_requested_by ? "Confirm resolution" : "Resolve"),
            el("span", { class: "error" }))));
      }
    }
    box.replaceChildren(...rows);
  }

  async function act(a, verb) {
    const row = document.querySelector(`[data-alert="${a.alert_id}"]`);
    try { await api(`/api/v1/alerts/${a.alert_id}/${verb}`, { method: "POST", body: {} }); await loadAlerts(); colour(); }
    catch (e) { if (row) row.querySelector(".error").textContent = " " + e.message; }
  }

  // --- map ------------------------------------------------------------------------------------------
  function project(points) {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (const [lon, lat] of points) { minX = Math.min(minX, lon); maxX = Math.max(maxX, lon); minY = Math.min(minY, lat); maxY = Math.max(maxY, lat); }
    if (!isFinite(minX)) { minX = -100; maxX = -98; minY = 27; maxY = 29; }
    const k = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
    const w = Math.max((maxX - minX) * k, 0.01), h = Math.max(maxY - minY, 0.01);
    const scale = Math.min(940 / w, 640 / h);
    const ox = 30 + (940 - w * scale) / 2, oy = 30 + (640 - h * scale) / 2;
    const mPerPx = 111320 / scale;
    return { xy: (lon, lat) => [ox + (lon - minX) * k * scale, oy + (maxY - lat) * scale], px: m => m / mPerPx };
  }

  function svg(tag, attrs) { const n = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); return n; }

  // The worst open severity per tenant/conveyance, built once per alert load: colouring thousands of
  // trucks must not scan every alert for each of them.
  let worstBy = new Map();
  function indexWorst() {
    worstBy = new Map();
    for (const a of alerts) {
      const key = a.tenant + "/" + a.conveyance_id, seen = worstBy.get(key);
      if (!seen || RANK[a.severity] > RANK[seen]) worstBy.set(key, a.severity);
    }
  }

  function fill(c) {
    const w = worstBy.get(c.tenant + "/" + c.conveyance_id);
    if (w === "critical") return "var(--crit)";
    if (w === "high") return "var(--high)";
    if (w) return "var(--med)";
    if (!c.trip) return "#9aa5b1";
    return c.trip.status === "in_transit" ? "var(--ok)" : "#5c7cfa";
  }

  async function loadMap() {
    convs = (await api("/api/v1/conveyances")).conveyances;
    document.getElementById("conv-count").textContent = `(${convs.length})`;
    const pts = [];
    for (const c of convs) {
      if (c.position) pts.push([c.position.lon, c.position.lat]);
      if (c.trip) { pts.push(c.trip.origin.center, c.trip.destination.center); for (const p of c.trip.route || []) pts.push(p); }
    }
    proj = project(pts);
    const root = document.getElementById("svg");
    const corridors = svg("g", { fill: "none", stroke: "#90caf9", "stroke-opacity": "0.35", "stroke-linecap": "round", "stroke-linejoin": "round" });
    const routes = svg("g", { fill: "none", stroke: "#1e88e5", "stroke-width": "1.2" });
    const places = svg("g", { fill: "#c5e1a5", stroke: "#558b2f", "stroke-width": "1" });
    const trucks = svg("g", { stroke: "#fff", "stroke-width": "1.5", class: "trucks" });
    const seenRoutes = new Set(), seenPlaces = new Set();
    dots = new Map();
    for (const c of convs) {
      const t = c.trip;
      if (t && t.route) {
        const key = JSON.stringify(t.route) + t.corridor_m;
        if (!seenRoutes.has(key)) {
          seenRoutes.add(key);
          const d = t.route.map((p, i) => (i ? "L" : "M") + proj.xy(p[0], p[1]).map(v => v.toFixed(1)).join(",")).join(" ");
          corridors.append(svg("path", { d, "stroke-width": Math.max(2, 2 * proj.px(t.corridor_m || 1000)).toFixed(1) }));
          routes.append(svg("path", { d }));
        }
      }
      for (const p of t ? [t.origin, t.destination, ...(t.approved_stops || [])] : []) {
        if (seenPlaces.has(p.facility_id)) continue;
        seenPlaces.add(p.facility_id);
        const [x, y] = proj.xy(p.center[0], p.center[1]);
        const circle = svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: Math.max(3, proj.px(p.radius_m || 500)).toFixed(1) });
        circle.append(svg("title", {})); circle.lastChild.textContent = p.facility_id;
        places.append(circle);
      }
      if (c.position) {
        const [x, y] = proj.xy(c.position.lon, c.position.lat);
        const dot = svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: "6", fill: fill(c), "data-conveyance": c.conveyance_id,
                                    "data-key": c.tenant + "/" + c.conveyance_id, class: "truck" });
        const title = svg("title", {}); title.textContent = `${c.conveyance_id} ${t ? t.trip_id + " " + t.status : "no trip"}`;
        dot.append(title);
        dot.addEventListener("click", () => pick(c));
        trucks.append(dot);
        dots.set(c.tenant + "/" + c.conveyance_id, dot);
      }
    }
    root.replaceChildren(corridors, routes, places, trucks);
    stack();
  }

  function colour() { for (const c of convs) { const d = dots.get(c.tenant + "/" + c.conveyance_id); if (d) d.setAttribute("fill", fill(c)); } stack(); }

  // The worst news on top: SVG paints in document order, so the trucks are ordered by their worst open
  // severity (a green truck at the same spot as a critical one must not hide it), then by id.
  function stack() {
    const group = document.querySelector("#svg g.trucks");
    if (!group) return;
    const rank = d => { const w = worstBy.get(d.dataset.key); return w === undefined ? -1 : RANK[w]; };
    const order = [...group.children].sort((a, b) => rank(a) - rank(b) || a.dataset.key.localeCompare(b.dataset.key));
    if (order.some((d, i) => d !== group.children[i])) group.replaceChildren(...order);
  }

  function pick(c) {
    const t = c.trip;
    document.getElementById("picked").replaceChildren(el("b", {}, c.conveyance_id), " · ",
      t ? `trip ${t.trip_id} (${t.status}) ${t.origin.facility_id} → ${t.destination.facility_id}; seals expected ${t.expected_seals.join(", ") || "-"}` : "no open trip",
      c.position ? ` · last fix ${SG.fmtTime(c.position.at)}` : "", c.stopped_since ? ` · stopped since ${SG.fmtTime(c.stopped_since)}` : "",
      ` · ${c.open_alerts.length} open alert(s)`);
  }

  function onLive(type, data) {
    if (type === "position") {
      const dot = dots.get(data.tenant + "/" + data.conveyance_id);
      if (dot && proj) { const [x, y] = proj.xy(data.lon, data.lat); dot.setAttribute("cx", x.toFixed(1)); dot.setAttribute("cy", y.toFixed(1)); }
      else scheduleMap();
      const c = convs.find(v => v.conveyance_id === data.conveyance_id && v.tenant === data.tenant);
      if (c) c.position = { at: data.at, lon: data.lon, lat: data.lat };
    } else { scheduleAlerts(); if (type === "resync") scheduleMap(); }
  }

  let alertTimer = null, mapTimer = null;
  function scheduleAlerts() { clearTimeout(alertTimer); alertTimer = setTimeout(() => loadAlerts().then(colour).catch(() => {}), 300); }
  function scheduleMap() { clearTimeout(mapTimer); mapTimer = setTimeout(() => loadMap().catch(() => {}), 2000); }

  function setLive(on) { const n = document.getElementById("live"); n.className = on ? "on" : "off"; n.textContent = on ? "live" : "reconnecting"; }

  SG.login(async () => {
    try { await loadAlerts(); await loadMap(); } catch (e) { document.getElementById("alerts").replaceChildren(el("p", { class: "error" }, e.message)); }
    stream("/api/v1/stream", onLive, setLive);
    setInterval(() => { renderAlertsAges(); }, 30000);
    setInterval(() => scheduleMap(), 60000); // new trips and routes
  });

  function renderAlertsAges() { const now = Date.now(); for (const n of document.querySelectorAll(".age")) n.textContent = age(n.title, now); }
})();
