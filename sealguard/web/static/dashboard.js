// Operations dashboard: open alerts with actions, and a map of the fleet (Leaflet), updated live over SSE.
"use strict";
(() => {
  const { el, api, stream, age } = SG;
  const RANK = { critical: 3, high: 2, medium: 1, low: 0 };
  let convs = [];
  const PAGE = 20;
  const panel = { open: { offset: 0, total: 0, rows: [] }, acknowledged: { offset: 0, total: 0, rows: [] } };

  // The panel is bounded: a page of what needs people (status open: nobody has acknowledged it), worst
  // severity first and the newest first within it, and apart from it a page of the acknowledged ones.
  // The counts are the server's totals, never the length of a page.
  async function loadAlerts() {
    const q = s => `/api/v1/alerts?status=${s}&sort=severity&limit=${PAGE}&offset=${panel[s].offset}`;
    const [open, acked] = await Promise.all([api(q("open")), api(q("acknowledged"))]);
    for (const [s, d] of [["open", open], ["acknowledged", acked]]) {
      panel[s].rows = d.alerts; panel[s].total = d.total;
      if (!d.alerts.length && panel[s].offset > 0) { panel[s].offset = 0; return loadAlerts(); }  // the page emptied
    }
    renderAlerts();
  }

  function alertRow(a, now) {
    return el("div", { class: "alert-row " + a.status, "data-alert": a.alert_id },
      el("div", {}, el("span", { class: "sev " + a.severity }, a.severity), " ",
        el("a", { href: "/alerts/" + a.alert_id }, a.rule_id), " · ", el("b", {}, a.conveyance_id || "-"),
        " · ", el("span", { class: "age", title: a.occurred_at }, age(a.occurred_at, now)), " · ", el("span", { class: "status" }, a.status)),
      el("div", { class: "msg" }, a.message),
      el("div", { class: "meta" }, a.acknowledged_by ? `acknowledged by ${a.acknowledged_by}` : "", a.resolve_requested_by ? ` · resolution asked by ${a.resolve_requested_by}` : "",
        a.assignee ? ` · assigned to ${a.assignee}` : ""),
      el("div", {},
        a.status === "open" ? el("button", { class: "primary ack", onclick: () => act(a, "acknowledge") }, "Acknowledge") : null, " ",
        el("button", { class: "resolve", onclick: () => act(a, "resolve") }, a.resolve_requested_by ? "Confirm resolution" : "Resolve"),
        el("span", { class: "error" })));
  }

  function pager(which) {
    const p = panel[which];
    if (p.total <= PAGE) return null;
    const go = delta => { p.offset = Math.max(0, p.offset + delta); loadAlerts().catch(() => {}); };
    return el("div", { class: "pager", "data-pager": which },
      el("button", { type: "button", disabled: p.offset === 0, onclick: () => go(-PAGE) }, "‹ newer"), " ",
      el("span", { class: "muted" }, `${p.offset + 1}–${Math.min(p.offset + PAGE, p.total)} of ${p.total}`), " ",
      el("button", { type: "button", disabled: p.offset + PAGE >= p.total, onclick: () => go(PAGE) }, "older ›"));
  }

  function renderAlerts() {
    const box = document.getElementById("alerts"), open = panel.open, acked = panel.acknowledged;
    document.getElementById("alert-count").textContent = `(${open.total} need action · ${acked.total} acknowledged)`;
    document.title = (open.total ? `(${open.total}) ` : "") + "sealguard · operations";
    const now = Date.now();
    const parts = [];
    if (!open.total) parts.push(el("p", { class: "muted" }, "Nothing needs action."));
    else parts.push(el("h3", {}, `Needs action (${open.total})`), ...open.rows.map(a => alertRow(a, now)), pager("open"));
    if (acked.total) {
      const details = el("details", { class: "acked", open: acked.expanded || false },
        el("summary", {}, `Acknowledged (${acked.total})`), ...acked.rows.map(a => alertRow(a, now)), pager("acknowledged"));
      details.addEventListener("toggle", () => { acked.expanded = details.open; });
      parts.push(details);
    }
    box.replaceChildren(...parts.filter(Boolean));
  }

  async function act(a, verb) {
    const row = document.querySelector(`[data-alert="${a.alert_id}"]`);
    try { await api(`/api/v1/alerts/${a.alert_id}/${verb}`, { method: "POST", body: {} }); await loadAlerts(); await loadStates(); }
    catch (e) { if (row) row.querySelector(".error").textContent = " " + e.message; }
  }

  // --- map: Leaflet, vendored, over the bundled offline base map (or a configured tile server) ----------
  const COLOUR = { critical: "#d64545", high: "#f0b429", medium: "#de911d", low: "#de911d" };
  const SMALL_FLEET = 80;
  let map = null, trucks = null, overlay = null, markers = new Map(), fitted = false, selected = null;

  // A truck's colour is its own state: the worst severity of all its unresolved alerts, as the server
  // counts them (GET /api/v1/conveyances-alert-state), never what the alert panel has loaded.
  let worstBy = new Map();
  function indexStates(states) {
    worstBy = new Map();
    for (const s of states) worstBy.set(s.tenant + "/" + s.conveyance_id, s);
  }
  async function loadStates() {
    indexStates((await api("/api/v1/conveyances-alert-state")).states);
    colour();
  }

  function state(c) {
    const w = worstBy.get(c.tenant + "/" + c.conveyance_id);
    if (w) return w.worst;
    if (!c.trip) return "none";
    return c.trip.status === "in_transit" ? "ok" : "planned";
  }
  const rankOf = st => (st in RANK ? RANK[st] + 1 : 0);  // 4 critical ... 1 low, 0 no alert
  // the worst on top, and the selected truck above all
  const zOf = (st, key) => rankOf(st) * 10000 + (selected === key ? 100000 : 0);

  function ensureMap() {
    if (map) return;
    map = SGMap.create("mapview");
    window.sealguardMap = map;  // for the browser tests and an operator's console
    overlay = L.layerGroup().addTo(map);
    // Clusters take the colour of their worst truck; past zoom 15 every truck is drawn on its own, the
    // worst on top (z-index by severity), so a green truck never hides a critical one. No split/merge
    // animation: while it runs the old and the new cluster of the same trucks are both on the map (a count
    // shown twice), and on a large fleet it is what makes a zoom slow.
    // A fleet of a few dozen merges only trucks whose labels would overlap (24 px), so the others read by
    // their ids; a large one clusters wider (40 px) until zoom 11.
    trucks = L.markerClusterGroup({ maxClusterRadius: () => (convs.length <= SMALL_FLEET ? 24 : 40),
      disableClusteringAtZoom: 11, showCoverageOnHover: false,
      spiderfyOnMaxZoom: false, animate: false, iconCreateFunction: cluster }).addTo(map);
    window.sealguardTrucks = trucks;  // every truck marker, clustered or not (tests, an operator's console)
    map.on("zoomend moveend", () => requestAnimationFrame(declutter));
  }

  // A cluster names its worst truck only where the name has room: the worst clusters (then the biggest)
  // place theirs first, and a name that would cover one already placed, or another cluster, is hidden.
  function declutter() {
    const marks = [...document.querySelectorAll("#mapview .cluster-mark")];
    const circles = marks.map(m => [m, m.querySelector(".cluster").getBoundingClientRect()]);
    const named = marks.filter(m => m.querySelector(".cluster-worst")).map(m => {
      const c = m.querySelector(".cluster");
      return { m, label: m.querySelector(".cluster-worst"), rank: rankOf(c.dataset.worst), n: +c.textContent };
    }).sort((a, b) => b.rank - a.rank || b.n - a.n);
    const overlaps = (r, q) => r.left < q.right && q.left < r.right && r.top < q.bottom && q.top < r.bottom;
    const taken = [];
    for (const { m, label } of named) {
      label.style.visibility = "";
      const r = label.getBoundingClientRect();
      if (taken.some(q => overlaps(r, q)) || circles.some(([other, q]) => other !== m && overlaps(r, q))) label.style.visibility = "hidden";
      else taken.push(r);
    }
  }

  // A cluster says how many trucks it holds in its worst truck's colour, and, when that is an alert,
  // which truck it is ("TRL-0042", "+2" more as bad): on a fleet of thousands the first view then names
  // the trucks that need action without a click.
  function cluster(group) {
    let worst = "ok", n = 0, ids = [];
    for (const m of group.getAllChildMarkers()) {
      n++;
      const r = rankOf(m.options.sg);
      if (r > rankOf(worst)) { worst = m.options.sg; ids = [m.options.title]; }
      else if (r === rankOf(worst)) ids.push(m.options.title);
    }
    const parts = [el("span", { class: "cluster sev-" + worst, "data-worst": worst }, String(n))];
    if (worst === "critical" || worst === "high") {
      ids.sort();
      parts.push(el("span", { class: "cluster-worst sev-" + worst }, ids[0] + (ids.length > 1 ? ` +${ids.length - 1}` : "")));
    }
    return L.divIcon({ className: "truck-cluster", iconSize: [34, 34], html: el("span", { class: "cluster-mark" }, ...parts) });
  }

  function truckIcon(c) {
    const st = state(c), key = c.tenant + "/" + c.conveyance_id;
    return L.divIcon({ className: "truck-icon" + (selected === key ? " selected" : ""), iconSize: null, iconAnchor: [8, 8],
      html: el("span", { class: "truck-mark" },
        el("span", { class: "truck sev-" + st, "data-conveyance": c.conveyance_id, "data-key": key, "data-state": st }),
        el("span", { class: "truck-label" }, c.conveyance_id)) });
  }

  async function loadMap() {
    convs = (await api("/api/v1/conveyances")).conveyances;
    indexStates(convs.filter(c => c.alert_state).map(c => ({ tenant: c.tenant, conveyance_id: c.conveyance_id, ...c.alert_state })));
    document.getElementById("conv-count").textContent = `(${convs.length})`;
    ensureMap();
    overlay.clearLayers();
    const seenRoutes = new Set(), seenPlaces = new Set(), bounds = L.latLngBounds([]);
    for (const c of convs) {
      const t = c.trip;
      if (t && t.route) {
        const key = JSON.stringify(t.route) + t.corridor_m;
        if (!seenRoutes.has(key)) {
          seenRoutes.add(key);
          const line = t.route.map(p => [p[1], p[0]]);
          L.polyline(line, { color: "#90caf9", opacity: 0.45, weight: 14, interactive: false, lineCap: "round" }).addTo(overlay);
          L.polyline(line, { color: "#1e88e5", weight: 2, interactive: false }).addTo(overlay);
        }
      }
      for (const p of t ? [t.origin, t.destination, ...(t.approved_stops || [])] : []) {
        if (seenPlaces.has(p.facility_id)) continue;
        seenPlaces.add(p.facility_id);
        const at = [p.center[1], p.center[0]];
        SGMap.place(at, p.radius_m, p.facility_id).addTo(overlay);
        bounds.extend(at);
      }
      if (c.position) bounds.extend([c.position.lat, c.position.lon]);
    }
    const keep = new Set(), added = [];
    for (const c of convs) {
      if (!c.position) continue;
      const key = c.tenant + "/" + c.conveyance_id;
      keep.add(key);
      let m = markers.get(key);
      const where = [c.position.lat, c.position.lon];
      if (!m) {
        const st = state(c);
        m = L.marker(where, { icon: truckIcon(c), sg: st, zIndexOffset: zOf(st, key), title: c.conveyance_id });
        m.sgSelected = selected === key;  // drawn as it should be: colour() need not draw it again
        m.on("click", () => pick(c));
        markers.set(key, m); added.push(m);
      } else m.setLatLng(where);
      m.sgConv = c;
    }
    // in one call: the cluster index is built once for them all (one call per truck re-clustered 2,000
    // times, most of a large fleet's first paint)
    if (added.length) trucks.addLayers(added);
    const gone = [...markers].filter(([key]) => !keep.has(key));
    if (gone.length) { trucks.removeLayers(gone.map(([, m]) => m)); for (const [key] of gone) markers.delete(key); }
    colour();
    // the view is set once; later loads and live positions never move it under the operator's hands
    // (a link to one conveyance, ?conveyance=ID, opens on it instead)
    if (!fitted) {
      fitted = true;
      const wanted = new URLSearchParams(location.search).get("conveyance");
      const c = wanted && convs.find(v => v.conveyance_id === wanted && v.position);
      if (c) { map.setView([c.position.lat, c.position.lon], 15, { animate: false }); select(c); }
      else {  // the trucks and where their trips go; a phone's narrow view is not wasted on padding
        const phone = map.getSize().x < 600;
        if (bounds.isValid()) map.fitBounds(bounds, { padding: phone ? [24, 24] : [60, 40], maxZoom: 11, animate: false });
      }
    }
  }

  // Recolour after alerts change: a truck's icon, its z-order and its cluster's colour.
  function colour() {
    const changed = [];
    for (const [key, m] of markers) {
      const c = m.sgConv, st = state(c);
      if (st !== m.options.sg || (selected === key) !== m.sgSelected) {
        m.options.sg = st; m.sgSelected = selected === key;
        m.setIcon(truckIcon(c)); m.setZIndexOffset(zOf(st, key));
        changed.push(m);
      }
    }
    if (changed.length) { trucks.refreshClusters(changed); requestAnimationFrame(declutter); }
  }

  // Show one conveyance: its truck highlighted, zoomed out of any cluster, and centred.
  function select(c) {
    if (!c || !map) return;
    const key = c.tenant + "/" + c.conveyance_id, m = markers.get(key);
    selected = key; colour();
    // out of its cluster first: a popup opens only on a marker that is on the map
    if (m) trucks.zoomToShowLayer(m, () => { map.panTo(m.getLatLng()); pick(c); });
    else pick(c);
  }

  // A truck picked (on the map or in the list): a popup with its state, speed and heading, its trail of
  // the last hour, and "follow" (the map keeps it in view as its positions arrive).
  let trail = null, following = null;
  const COMPASS = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];
  function heading(a, b) {
    const y = Math.sin((b[1] - a[1]) * Math.PI / 180) * Math.cos(b[0] * Math.PI / 180);
    const x = Math.cos(a[0] * Math.PI / 180) * Math.sin(b[0] * Math.PI / 180) - Math.sin(a[0] * Math.PI / 180) * Math.cos(b[0] * Math.PI / 180) * Math.cos((b[1] - a[1]) * Math.PI / 180);
    return COMPASS[Math.round(((Math.atan2(y, x) * 180 / Math.PI + 360) % 360) / 45) % 8];
  }
  async function popup(c) {
    const key = c.tenant + "/" + c.conveyance_id, m = markers.get(key);
    if (!m) return;
    const st = worstBy.get(key), t = c.trip;
    const follow = el("input", { type: "checkbox", class: "follow" });
    follow.checked = following === key;
    follow.addEventListener("change", () => { following = follow.checked ? key : null; if (follow.checked) map.panTo(m.getLatLng()); });
    const where = el("span", { class: "heading" });
    const body = el("div", { class: "truck-popup", "data-conveyance": c.conveyance_id },
      el("b", {}, c.conveyance_id), " ", el("span", { class: "sev " + (st ? st.worst : "none") }, st ? `${st.unresolved} alert(s) · ${st.worst}` : "no alert"),
      el("div", {}, t ? `trip ${t.trip_id} (${t.status.replace("_", " ")}) ${t.origin.facility_id} → ${t.destination.facility_id}` : "no open trip"),
      el("div", {}, c.position ? `${Math.round(c.position.speed_kph || 0)} km/h · last fix ${SG.fmtTime(c.position.at)}` : "no position", " ", where),
      c.near ? el("div", { class: "muted" }, c.near.km < 1 ? `in ${c.near.name}` : `${Math.round(c.near.km)} km ${c.near.direction} of ${c.near.name}`) : null,
      el("label", { class: "inline" }, follow, " follow"), " · ", el("a", { href: "/fleet" }, "fleet list"));
    m.bindPopup(body, { autoPan: false, closeButton: true }).openPopup();
    // the last hour's trail, from the conveyance's timeline
    try {
      const since = new Date(Date.now() - 3600e3).toISOString();
      const tl = await api(`/api/v1/conveyances/${encodeURIComponent(c.conveyance_id)}/timeline?tenant=${encodeURIComponent(c.tenant)}&since=${since}`);
      const fixes = tl.events.filter(e => e.kind === "gps.position").map(e => [e.lat, e.lon]);
      if (trail) trail.remove();
      trail = L.polyline(fixes, { color: "#102a43", weight: 3, opacity: 0.7, dashArray: "2 6", className: "trail", interactive: false }).addTo(map);
      if (fixes.length > 1) where.textContent = "heading " + heading(fixes[fixes.length - 2], fixes[fixes.length - 1]);
    } catch (e) { /* the popup stands without its trail */ }
  }

  // A searchable list of the trucks beside the map: worst first, the first 30 matches.
  function truckList() {
    const q = (document.getElementById("truck-search").value || "").trim().toLowerCase();
    const list = document.getElementById("truck-list");
    if (!q) { list.replaceChildren(); return; }
    const hits = convs.filter(c => [c.conveyance_id, c.trip && c.trip.trip_id, c.near && c.near.name].join(" ").toLowerCase().includes(q))
      .sort((a, b) => rankOf(state(b)) - rankOf(state(a)) || a.conveyance_id.localeCompare(b.conveyance_id)).slice(0, 30);
    list.replaceChildren(...hits.map(c => el("li", {}, el("button", { type: "button", "data-conveyance": c.conveyance_id, onclick: () => { list.replaceChildren(); select(c); } },
      el("span", { class: "truck sev-" + state(c) }), " ", c.conveyance_id))));
  }
  document.getElementById("truck-search").addEventListener("input", truckList);

  function pick(c) {
    popup(c).catch(() => {});
    const t = c.trip;
    document.getElementById("picked").replaceChildren(el("b", {}, c.conveyance_id), " · ",
      t ? `trip ${t.trip_id} (${t.status}) ${t.origin.facility_id} → ${t.destination.facility_id}; seals expected ${t.expected_seals.join(", ") || "-"}` : "no open trip",
      c.position ? ` · last fix ${SG.fmtTime(c.position.at)}` : "", c.stopped_since ? ` · stopped since ${SG.fmtTime(c.stopped_since)}` : "",
      ` · ${(worstBy.get(c.tenant + "/" + c.conveyance_id) || { unresolved: 0 }).unresolved} unresolved alert(s)`);
  }

  document.getElementById("alerts").addEventListener("click", ev => {
    if (ev.target.closest("button, a")) return;
    const row = ev.target.closest("[data-alert]");
    const a = row && [...panel.open.rows, ...panel.acknowledged.rows].find(x => x.alert_id === row.dataset.alert);
    if (a) select(convs.find(c => c.conveyance_id === a.conveyance_id && c.tenant === a.tenant));
  });

  function onLive(type, data) {
    if (type === "position") {
      const m = markers.get(data.tenant + "/" + data.conveyance_id);
      if (m) { m.setLatLng([data.lat, data.lon]); if (following === data.tenant + "/" + data.conveyance_id) map.panTo([data.lat, data.lon]); }
      else scheduleMap();
      const c = convs.find(v => v.conveyance_id === data.conveyance_id && v.tenant === data.tenant);
      if (c) c.position = { at: data.at, lon: data.lon, lat: data.lat };
    } else { scheduleAlerts(); if (type === "resync") scheduleMap(); }
  }

  let alertTimer = null, mapTimer = null;
  function scheduleAlerts() {
    clearTimeout(alertTimer);
    alertTimer = setTimeout(() => Promise.all([loadAlerts(), loadStates()]).catch(() => {}), 300);
  }
  function scheduleMap() { clearTimeout(mapTimer); mapTimer = setTimeout(() => loadMap().catch(() => {}), 2000); }

  function setLive(on) { const n = document.getElementById("live"); n.className = on ? "on" : "off"; n.textContent = on ? "live" : "reconnecting"; }

  SG.login(async () => {
    try { await Promise.all([loadAlerts(), loadMap()]); } catch (e) { console.error(e); document.getElementById("alerts").replaceChildren(el("p", { class: "error" }, e.message || String(e))); }
    stream("/api/v1/stream", onLive, setLive);
    setInterval(() => { renderAlertsAges(); }, 30000);
    setInterval(() => scheduleMap(), 60000); // new trips and routes
  });

  function renderAlertsAges() { const now = Date.now(); for (const n of document.querySelectorAll(".age")) n.textContent = age(n.title, now); }
})();
