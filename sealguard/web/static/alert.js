// One alert: the facts, the evidence on a timeline with the conveyance's track around the time, who did
// what, and the actions.
"use strict";
(() => {
  const { el, api, fmtTime } = SG;
  const id = location.pathname.split("/").pop();
  const NS = "http://www.w3.org/2000/svg";

  function summary(e) {
    const parts = [e.kind];
    if (e.seal_number) parts.push("seal " + e.seal_number);
    if (e.alarm) parts.push(e.alarm);
    if (e.kind === "gps.position") parts.push(`${e.lat.toFixed(4)}, ${e.lon.toFixed(4)} ${e.speed_kph ?? ""} km/h`);
    if (e.steps) parts.push("VVTT " + Object.entries(e.steps).map(([k, v]) => `${k}:${v ? "ok" : "FAIL"}`).join(" "));
    if (e.reason) parts.push(e.reason);
    return parts.join(" · ");
  }

  async function load() {
    const d = await api("/api/v1/alerts/" + id);
    const a = d.alert;
    document.getElementById("title").replaceChildren(el("span", { class: "sev " + a.severity }, a.severity), " ", a.rule_id, " · ", a.conveyance_id || "-");
    const facts = [["Status", a.status], ["Message", a.message], ["Criterion", a.criterion], ["Since", fmtTime(a.occurred_at)],
      ["Trip", a.trip_id], ["Facility", a.facility_id], ["Tenant", a.tenant], ["Acknowledged by", a.acknowledged_by],
      ["Resolution asked by", a.resolve_requested_by], ["Resolved", a.resolved_at ? `${fmtTime(a.resolved_at)} by ${a.resolved_by}` : null],
      ["Assignee", a.assignee], ["Dedup key", a.dedup_key]];
    document.getElementById("facts").replaceChildren(...facts.filter(f => f[1]).map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))));
    document.getElementById("history").replaceChildren(...d.history.map(h => el("li", {}, `${fmtTime(h.at)} · ${h.action} by ${h.actor}`, h.note ? ` — “${h.note}”` : "")));
    // Each notification with its time and receiver; repeats still waiting are one line with their count.
    const notes = [];
    for (const n of d.notifications) {
      const prev = notes[notes.length - 1];
      if (prev && n.status === "pending" && prev.n.status === "pending" && prev.n.kind === n.kind && prev.n.receiver === n.receiver) { prev.count += 1; continue; }
      notes.push({ n, count: 1 });
    }
    document.getElementById("notifications").replaceChildren(...notes.map(({ n, count }) =>
      el("li", {}, `${fmtTime(n.sent_at || n.due_at)} · ${n.kind} to ${n.receiver} (${n.channel}, tier ${n.tier}): ${n.status === "pending" ? "due" : n.status}`,
        count > 1 ? ` (and ${count - 1} more repeats due)` : "", n.attempts > 1 ? ` after ${n.attempts} attempts` : "",
        n.reason ? ` (${n.reason})` : "", n.last_error ? ` — ${n.last_error}` : "")));
    document.getElementById("ack").disabled = a.status !== "open";
    document.getElementById("resolve").disabled = a.status === "resolved";
    document.getElementById("resolve").textContent = a.resolve_requested_by ? "Confirm resolution" : "Resolve";
    await track(a, new Set(a.evidence));
  }

  async function track(a, evidence) {
    if (!a.conveyance_id) return;
    const t = Date.parse(a.occurred_at);
    const since = new Date(t - 2 * 3600e3).toISOString(), until = new Date(t + 3600e3).toISOString();
    const tl = await api(`/api/v1/conveyances/${encodeURIComponent(a.conveyance_id)}/timeline?tenant=${encodeURIComponent(a.tenant)}&since=${since}&until=${until}`);
    const evs = tl.events;
    // An event translated from a partner's format shows that message as it came (nothing lost in translation).
    const original = e => e.foreign && typeof e.foreign === "object"
      ? el("details", { class: "foreign" }, el("summary", {}, `original ${String(e.foreign.format)} message`),
        el("pre", {}, JSON.stringify(e.foreign.payload, null, 2)))
      : null;
    // Routine heartbeats in a row are one line ("5 heartbeats of seal X, 10:00–10:20"); evidence never folds.
    const rows = [];
    for (const e of evs.filter(e => e.kind !== "gps.position" || evidence.has(e.event_id))) {
      const prev = rows[rows.length - 1];
      const routine = e.kind === "seal.heartbeat" && !evidence.has(e.event_id);
      if (routine && prev && prev.beats && prev.beats[0].seal_number === e.seal_number) { prev.beats.push(e); continue; }
      rows.push(routine ? { beats: [e] } : { e });
    }
    document.getElementById("events").replaceChildren(...rows.map(r => r.beats && r.beats.length > 1
      ? el("li", { class: "heartbeats" }, `${fmtTime(r.beats[0].occurred_at)} – ${fmtTime(r.beats[r.beats.length - 1].occurred_at)} · ${r.beats.length} heartbeats of seal ${r.beats[0].seal_number}`)
      : (e => el("li", { class: evidence.has(e.event_id) ? "evidence" : "" }, `${fmtTime(e.occurred_at)} · ${summary(e)}`,
          e.foreign ? ` · from ${String(e.foreign.format)}` : "", evidence.has(e.event_id) ? " ← evidence" : "", original(e)))(r.e || r.beats[0])));
    const fixes = evs.filter(e => e.kind === "gps.position");
    const svg = document.getElementById("track");
    // The trip's plan behind the track: the corridor, the planned route, and the approved places, so a
    // deviation or a stop reads at a glance.
    let plan = null;
    if (a.trip_id) { try { plan = (await api(`/api/v1/trips/${encodeURIComponent(a.trip_id)}?tenant=${encodeURIComponent(a.tenant)}`)).plan; } catch (e) { plan = null; } }
    const places = plan ? [["origin", plan.origin], ["destination", plan.destination], ...(plan.approved_stops || []).map(p => ["approved stop", p])].filter(([, p]) => p && p.center) : [];
    const route = plan && plan.route ? plan.route : [];
    if (!fixes.length && !route.length) { svg.replaceChildren(); return; }
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    const grow = (lon, lat) => { minX = Math.min(minX, lon); maxX = Math.max(maxX, lon); minY = Math.min(minY, lat); maxY = Math.max(maxY, lat); };
    for (const f of fixes) grow(f.lon, f.lat);
    for (const p of route) grow(p[0], p[1]);
    for (const [, p] of places) grow(p.center[0], p.center[1]);
    const k = Math.cos((minY + maxY) / 2 * Math.PI / 180), w = Math.max((maxX - minX) * k, 0.002), h = Math.max(maxY - minY, 0.002);
    const s = Math.min(940 / w, 360 / h);
    const xy = f => [30 + (f.lon - minX) * k * s, 30 + (maxY - f.lat) * s];
    const metres = m => m / 111320 * s;  // metres to pixels at this scale
    const shape = (tag, attrs, text) => { const n = document.createElementNS(NS, tag); for (const [key, v] of Object.entries(attrs)) n.setAttribute(key, v); if (text) { const t = document.createElementNS(NS, "title"); t.textContent = text; n.append(t); } return n; };
    const nodes = [];
    if (route.length) {
      const pts = route.map(p => xy({ lon: p[0], lat: p[1] }).map(v => v.toFixed(1)).join(",")).join(" ");
      nodes.push(shape("polyline", { points: pts, fill: "none", stroke: "#90caf9", "stroke-opacity": "0.45", "stroke-linecap": "round", "stroke-linejoin": "round",
        "stroke-width": Math.max(3, 2 * metres(plan.corridor_m || 1000)).toFixed(1), class: "corridor" }, `corridor ${plan.corridor_m || "default"} m`));
      nodes.push(shape("polyline", { points: pts, fill: "none", stroke: "#546e7a", "stroke-dasharray": "6 4", "stroke-width": "1.5", class: "route" }, "planned route"));
    }
    for (const [what, p] of places) {
      const [x, y] = xy({ lon: p.center[0], lat: p.center[1] });
      nodes.push(shape("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: Math.max(4, metres(p.radius_m || 500)).toFixed(1), fill: "#c5e1a5", "fill-opacity": "0.7", stroke: "#558b2f", class: "place" }, `${what} ${p.facility_id}`));
      const right = x > 880;  // near the right edge the label goes to the left of the place
      nodes.push(shape("text", { x: (right ? x - 8 : x + 8).toFixed(1), y: (y - 8).toFixed(1), "font-size": "12", fill: "#33691e",
        "text-anchor": right ? "end" : "start" }, null));
      nodes[nodes.length - 1].textContent = p.facility_id;
    }
    if (fixes.length) {
      nodes.push(shape("polyline", { points: fixes.map(f => xy(f).map(v => v.toFixed(1)).join(",")).join(" "), fill: "none", stroke: "#1e88e5", "stroke-width": "2", class: "track" }, "the track"));
    }
    for (const f of fixes) {
      const [x, y] = xy(f);
      const near = Math.abs(Date.parse(f.occurred_at) - t) < 60e3 || evidence.has(f.event_id);
      nodes.push(shape("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: near ? "7" : "2.5", fill: near ? "var(--crit)" : "#1e88e5", class: near ? "fix evidence" : "fix" }, fmtTime(f.occurred_at)));
    }
    // a scale bar: a round distance about a fifth of the width
    const span = 940 / s * 111320, step = [1, 2, 5].flatMap(m => [1, 10, 100, 1000, 10000, 100000].map(p => m * p)).filter(v => v <= span / 5).pop() || 1;
    const bar = metres(step);
    nodes.push(shape("line", { x1: "30", y1: "405", x2: (30 + bar).toFixed(1), y2: "405", stroke: "#102a43", "stroke-width": "3", class: "scale" }, null));
    nodes.push(shape("text", { x: (36 + bar).toFixed(1), y: "409", "font-size": "12", fill: "#102a43" }, null));
    nodes[nodes.length - 1].textContent = step >= 1000 ? `${step / 1000} km` : `${step} m`;
    svg.replaceChildren(...nodes);
  }

  async function act(verb, body) {
    const out = document.getElementById("action-result");
    try { const r = await api(`/api/v1/alerts/${id}/${verb}`, { method: "POST", body }); out.className = ""; out.textContent = `recorded: ${r.recorded.join(", ")}`; await load(); }
    catch (e) { out.className = "error"; out.textContent = e.message; }
  }
  const note = () => document.getElementById("note").value.trim() || null;
  document.getElementById("ack").onclick = () => act("acknowledge", { note: note() });
  document.getElementById("resolve").onclick = () => act("resolve", { note: note() });
  document.getElementById("comment").onclick = () => act("comment", { note: note() });
  document.getElementById("assign").onclick = () => act("assign", { assignee: document.getElementById("assignee").value.trim() || null, note: note() });

  SG.login(() => {
    load().catch(e => document.getElementById("title").replaceChildren(el("span", { class: "error" }, e.message)));
    SG.stream("/api/v1/stream", (type, data) => { if (type === "alert" && data.alert_id === id) load(); },
      on => { const n = document.getElementById("live"); n.className = on ? "on" : "off"; n.textContent = on ? "live" : "reconnecting"; });
  });
})();
