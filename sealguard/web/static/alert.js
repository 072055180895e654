// One alert: the facts, the evidence on a timeline with the conveyance's track around the time, who did
// what, and the actions.
"use strict";
(() => {
  const { el, api, fmtTime } = SG;
  const id = location.pathname.split("/").pop();

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
    document.getElementById("title").replaceChildren(el("span", { class: "sev " + a.severity }, a.severity), " ", a.rule_id, " · ", a.conveyance_id || "-",
      " ", el("span", { class: "status-chip " + a.status }, a.status));
    document.title = `${a.rule_id} ${a.conveyance_id || ""} · sealguard`;
    document.getElementById("headline").textContent = a.message;
    const facts = [["Since", fmtTime(a.occurred_at)], ["Criterion", a.criterion],
      ["Trip", a.trip_id], ["Facility", a.facility_id], ["Tenant", a.tenant], ["Acknowledged by", a.acknowledged_by],
      ["Resolution asked by", a.resolve_requested_by], ["Resolved", a.resolved_at ? `${fmtTime(a.resolved_at)} by ${a.resolved_by}` : null],
      ["Assigned to", a.assignee]];
    document.getElementById("facts").replaceChildren(...facts.filter(f => f[1]).map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))),
      el("tr", { class: "minor" }, el("th", {}, "Alert id"), el("td", {}, a.alert_id, el("span", { class: "muted" }, ` · dedup ${a.dedup_key}`))));
    document.getElementById("on-map").href = "/?conveyance=" + encodeURIComponent(a.conveyance_id || "");
    document.getElementById("on-map").hidden = !a.conveyance_id;
    escalation(a, d.notifications);
    people(a);
    const g = d.rule, guide = document.getElementById("guide");
    guide.hidden = !g;
    if (g) {
      document.getElementById("rule-title").textContent = `${g.rule_id} · ${g.title}`;
      document.getElementById("rule-when").textContent = g.when;
      document.getElementById("rule-meta").textContent = `CTPAT criterion ${g.criterion} · default severity ${g.severity} · resolves ${g.resolves}`;
      document.getElementById("todo").replaceChildren(...g.what_to_do.map(step => el("li", {}, step)));
    }
    document.getElementById("history").replaceChildren(...d.history.map(h => el("li", {}, `${fmtTime(h.at)} · ${h.action} by ${h.actor}`, h.note ? ` — “${h.note}”` : "")));
    // Each notification with its time and receiver, in time order; repeats still waiting are one line
    // with their count.
    const notes = [];
    const when = n => Date.parse(n.sent_at || n.due_at);
    for (const n of [...d.notifications].sort((x, y) => when(x) - when(y))) {
      const prev = notes[notes.length - 1];
      if (prev && n.status === "pending" && prev.n.status === "pending" && prev.n.kind === n.kind && prev.n.receiver === n.receiver) { prev.count += 1; continue; }
      notes.push({ n, count: 1 });
    }
    document.getElementById("notifications").replaceChildren(...notes.map(({ n, count }) =>
      el("li", {}, `${fmtTime(n.sent_at || n.due_at)} · ${n.kind} to ${n.receiver} (${n.channel}, tier ${n.tier}): ${n.status === "pending" ? "due" : n.status}`,
        count > 1 ? ` (and ${count - 1} more repeats due)` : "", n.attempts > 1 ? ` after ${n.attempts} attempts` : "",
        n.reason ? ` (${n.reason})` : "", n.last_error ? ` — ${n.last_error}` : "")));
    const shots = d.photos || [];
    document.getElementById("photos-box").hidden = !shots.length;
    document.getElementById("photos").replaceChildren(...shots.map(p => el("figure", {},
      el("a", { href: p.url, target: "_blank", rel: "noopener" }, el("img", { src: p.url, alt: `${p.subject} photo by ${p.taken_by}`, loading: "lazy" })),
      el("figcaption", { class: "muted" }, `${p.subject} · ${fmtTime(p.uploaded_at)} · ${p.taken_by} · SHA-256 ${p.sha256.slice(0, 12)}…`))));
    document.getElementById("package").href = `/api/v1/alerts/${encodeURIComponent(a.alert_id)}/incident`;
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
      ? el("li", { class: "heartbeats", "data-at": r.beats[0].occurred_at }, `${fmtTime(r.beats[0].occurred_at)} – ${fmtTime(r.beats[r.beats.length - 1].occurred_at)} · ${r.beats.length} heartbeats of seal ${r.beats[0].seal_number}`)
      : (e => el("li", { class: evidence.has(e.event_id) ? "evidence" : "", "data-at": e.occurred_at }, `${fmtTime(e.occurred_at)} · ${summary(e)}`,
          e.foreign ? ` · from ${String(e.foreign.format)}` : "", evidence.has(e.event_id) ? " ← evidence" : "", original(e)))(r.e || r.beats[0])));
    const fixes = evs.filter(e => e.kind === "gps.position").sort((x, y) => Date.parse(x.occurred_at) - Date.parse(y.occurred_at));
    // The trip's plan behind the track: the corridor, the planned route, and the approved places, so a
    // deviation or a stop reads at a glance.
    let plan = null;
    if (a.trip_id) { try { plan = (await api(`/api/v1/trips/${encodeURIComponent(a.trip_id)}?tenant=${encodeURIComponent(a.tenant)}`)).plan; } catch (e) { plan = null; } }
    document.getElementById("scrub").dataset.alertAt = a.occurred_at;
    draw(a, plan, fixes, evidence, evs);
  }

  // --- the map: plan, track, evidence, and a slider to play the track back ------------------------------
  let map = null, layer = null, player = null;
  const fits = { evidence: null, trip: null };
  for (const [button, which] of [["fit-evidence", "evidence"], ["fit-trip", "trip"]])
    document.getElementById(button).addEventListener("click", () => {
      if (map && fits[which] && fits[which].isValid()) map.fitBounds(fits[which], { padding: [24, 24], maxZoom: 16, animate: false });
    });
  function draw(a, plan, fixes, evidence, evs) {
    const places = plan ? [["origin", plan.origin], ["destination", plan.destination], ...(plan.approved_stops || []).map(p => ["approved stop", p])].filter(([, p]) => p && p.center) : [];
    const route = plan && plan.route ? plan.route.map(p => [p[1], p[0]]) : [];
    const box = document.getElementById("trackbox");
    if (!fixes.length && !route.length) { box.hidden = true; return; }
    box.hidden = false;
    const first = !map;
    if (first) { map = SGMap.create("track"); window.sealguardMap = map; }
    if (layer) layer.remove();
    layer = L.layerGroup().addTo(map);
    const bounds = L.latLngBounds([]);
    if (route.length) {
      const corridor = L.polyline(route, { color: "#90caf9", opacity: 0.45, lineCap: "round", lineJoin: "round", className: "corridor", interactive: false }).addTo(layer);
      const widen = () => corridor.setStyle({ weight: Math.max(3, 2 * (plan.corridor_m || 1000) * SGMap.pxPerMetre(map, map.getCenter().lat)) });
      map.on("zoomend", widen); widen();
      L.polyline(route, { color: "#546e7a", weight: 1.5, dashArray: "6 4", className: "route" }).bindTooltip("planned route").addTo(layer);
      route.forEach(p => bounds.extend(p));
    }
    for (const [what, p] of places) {
      const at = [p.center[1], p.center[0]];
      SGMap.place(at, p.radius_m, `${what} ${p.facility_id}`).addTo(layer);
      bounds.extend(at);
    }
    const line = fixes.map(f => [f.lat, f.lon]);
    if (line.length) L.polyline(line, { color: "#1e88e5", weight: 2, className: "track" }).bindTooltip("the track").addTo(layer);
    const t = Date.parse(a.occurred_at);
    for (const f of fixes) {
      const near = Math.abs(Date.parse(f.occurred_at) - t) < 60e3 || evidence.has(f.event_id);
      L.circleMarker([f.lat, f.lon], { radius: near ? 8 : 3, color: near ? "#fff" : "#1e88e5", weight: near ? 2 : 1,
        fillColor: near ? "#c62828" : "#1e88e5", fillOpacity: 1, className: near ? "fix evidence" : "fix" })
        .bindTooltip(`${fmtTime(f.occurred_at)}${f.speed_kph != null ? ` · ${f.speed_kph} km/h` : ""}${near ? " · evidence" : ""}`).addTo(layer);
      bounds.extend([f.lat, f.lon]);
    }
    // an evidence event with its own position (a seal alarm) is marked too
    for (const e of evs) if (evidence.has(e.event_id) && e.kind !== "gps.position" && e.lat != null && e.lon != null) {
      L.circleMarker([e.lat, e.lon], { radius: 9, color: "#fff", weight: 2, fillColor: "#c62828", fillOpacity: 1, className: "fix evidence" })
        .bindTooltip(`${fmtTime(e.occurred_at)} · ${summary(e)} · evidence`).addTo(layer);
      bounds.extend([e.lat, e.lon]);
    }
    // The view opens on the evidence, not the whole trip: a 3 km deviation on a 400 km route is two
    // pixels at the route's scale. It spans the evidence and the fixes two minutes either side, and at
    // least a few corridor widths, so the corridor the truck left (or the place it stopped) shows too.
    const focus = L.latLngBounds([]);
    for (const f of fixes) if (Math.abs(Date.parse(f.occurred_at) - t) <= 2 * 60e3 || evidence.has(f.event_id)) focus.extend([f.lat, f.lon]);
    for (const e of evs) if (evidence.has(e.event_id) && e.lat != null && e.lon != null) focus.extend([e.lat, e.lon]);
    if (focus.isValid()) {
      const reach = Math.max(2 * ((plan && plan.corridor_m) || 500), 1000);
      focus.extend(focus.getCenter().toBounds(2 * reach));
    }
    fits.evidence = focus.isValid() ? focus : bounds;
    fits.trip = bounds;
    if (first && fits.evidence.isValid()) map.fitBounds(fits.evidence, { padding: [24, 24], maxZoom: 16, animate: false });
    playback(fixes, evs);
  }

  // Play the track back: the slider walks the fixes in time order; the truck, the travelled part of the
  // track and the events up to that moment follow it.
  function playback(fixes, evs) {
    const bar = document.getElementById("playback"), scrub = document.getElementById("scrub");
    const play = document.getElementById("play"), label = document.getElementById("scrub-time");
    if (fixes.length < 2) { bar.hidden = true; return; }
    bar.hidden = false;
    const travelled = L.polyline([], { color: "#102a43", weight: 4, className: "travelled" }).addTo(layer);
    const truck = L.marker([fixes[0].lat, fixes[0].lon], { zIndexOffset: 100000, keyboard: false, interactive: false,
      icon: L.divIcon({ className: "truck-icon", iconSize: null, iconAnchor: [11, 11], html: el("span", { class: "truck-mark" }, el("span", { class: "truck sev-now", id: "now" })) }) }).addTo(layer);
    const rows = [...document.querySelectorAll("#events li[data-at]")];
    scrub.max = String(fixes.length - 1);
    // it starts at the alert's moment (the fix nearest it), and keeps the person's place on a reload
    const t = Date.parse(document.getElementById("scrub").dataset.alertAt || "");
    let at = 0;
    fixes.forEach((f, i) => { if (Math.abs(Date.parse(f.occurred_at) - t) < Math.abs(Date.parse(fixes[at].occurred_at) - t)) at = i; });
    if (scrub.dataset.touched) at = Math.min(Number(scrub.value), fixes.length - 1);
    document.getElementById("events").classList.add("playing");
    function show(i) {
      const f = fixes[i], when = Date.parse(f.occurred_at);
      truck.setLatLng([f.lat, f.lon]);
      travelled.setLatLngs(fixes.slice(0, i + 1).map(x => [x.lat, x.lon]));
      label.textContent = `${fmtTime(f.occurred_at)}${f.speed_kph != null ? ` · ${f.speed_kph} km/h` : ""} (${i + 1} of ${fixes.length})`;
      document.getElementById("now").dataset.at = f.occurred_at;
      let last = null;
      for (const r of rows) { const past = Date.parse(r.dataset.at) <= when; r.classList.toggle("past", past); r.classList.remove("now"); if (past) last = r; }
      if (last) last.classList.add("now");
    }
    scrub.oninput = () => { scrub.dataset.touched = "1"; show(Number(scrub.value)); };
    if (player) { clearInterval(player); player = null; play.textContent = "▶ Play"; }
    play.onclick = () => {
      if (player) { clearInterval(player); player = null; play.textContent = "▶ Play"; return; }
      if (Number(scrub.value) >= fixes.length - 1) scrub.value = "0";
      play.textContent = "❚❚ Pause"; scrub.dataset.touched = "1";
      player = setInterval(() => {
        const next = Number(scrub.value) + 1;
        if (next > fixes.length - 1) { clearInterval(player); player = null; play.textContent = "▶ Play"; return; }
        scrub.value = String(next); show(next);
      }, Math.max(60, Math.min(400, 20000 / fixes.length)));
    };
    scrub.value = String(at); show(at);
  }

  // "Pages the security lead in 4 min unless acknowledged": the next escalation still due, counted down.
  let countdown = null;
  function escalation(a, notes) {
    const box = document.getElementById("escalation");
    clearInterval(countdown);
    const due = notes.filter(n => n.status === "pending" && n.tier > 0 && n.kind !== "resolve" && n.kind !== "acknowledge")
      .sort((x, y) => Date.parse(x.due_at) - Date.parse(y.due_at))[0];
    if (!due || a.status !== "open") { box.hidden = true; return; }
    const tick = () => {
      const left = Date.parse(due.due_at) - Date.now();
      const when = left <= 0 ? "now" : left < 90e3 ? `in ${Math.ceil(left / 1000)} s` : `in ${Math.round(left / 60e3)} min`;
      box.textContent = `Escalates ${when}: pages ${due.receiver} (${due.channel}) unless acknowledged.`;
    };
    box.hidden = false; tick(); countdown = setInterval(tick, 1000);
  }

  // Assign to a person of the tenant: a pick list (typing a name still works, as a note of who).
  let peopleLoaded = false;
  async function people(a) {
    if (peopleLoaded) return;
    peopleLoaded = true;
    try {
      const found = (await api("/api/v1/people?tenant=" + encodeURIComponent(a.tenant))).people;
      document.getElementById("people").replaceChildren(...found.map(p => el("option", { value: p.label }, p.role)));
    } catch (e) { /* an all-tenants token without the tenant: free text only */ }
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
