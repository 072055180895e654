// The fleet at a glance: every conveyance with its status, open alerts, trip, seals, last report, speed,
// where it is (the nearest town), when it should arrive, and how long it has been silent. Worst first: its
// own alert state, then the longest silence, so a device gone quiet is near the top. Silent past the
// tenant's tracking-gap window (TRK-003, from the policy) is flagged. A page of PAGE rows at a time.
"use strict";
(() => {
  const { el, api, stream, age, fmtTime } = SG;
  const RANK = { critical: 0, high: 1, medium: 2, low: 3 };
  const PAGE = 100;
  let convs = [], page = 0;
  const limitS = c => c.silent_after_s || 900;  // the tenant's TRK-003 window
  const quietNow = (c, now) => c.trip && c.trip.status === "in_transit" && silentS(c, now) >= limitS(c);

  // When it last reported, and how long ago; a report stamped ahead of this clock (a simulation, a device
  // clock ahead) has no age here, and says so.
  function reported(at, now) {
    const a = age(at, now);
    return a.startsWith("event time") ? `${fmtTime(at)} (ahead of this clock)` : `${fmtTime(at)} (${a} ago)`;
  }

  function worst(c) { return c.alert_state ? RANK[c.alert_state.worst] : 4; }
  function near(c) {
    const n = c.near;
    if (!n) return "—";
    return n.km < 1 ? `in ${n.name}` : `${Math.round(n.km)} km ${n.direction} of ${n.name}`;
  }
  function eta(c) {
    const e = c.eta;
    if (!e) return "—";
    const late = e.late_s === null ? "" : e.late_s > 300 ? ` · ${Math.round(e.late_s / 60)} min late` : " · on time";
    return el("span", { title: `${e.km_left} km left in a straight line: the ETA is the earliest it can be` },
      `${fmtTime(e.at)}${late}`);
  }
  function silentS(c, now) { return c.position ? Math.max(0, (now - Date.parse(c.position.at)) / 1000) : Infinity; }
  function silentText(s) {
    if (!isFinite(s)) return "never reported";
    if (s < 60) return "—";
    if (s < 5400) return Math.round(s / 60) + " min";
    if (s < 172800) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " d";
  }

  function render() {
    const now = Date.now(), q = document.getElementById("find").value.trim().toLowerCase();
    const quietOnly = document.getElementById("quiet-only").checked;
    const rows = convs.filter(c => {
      const t = c.trip;
      const text = [c.conveyance_id, t && t.trip_id, t && t.origin.facility_id, t && t.destination.facility_id].join(" ").toLowerCase();
      return (!q || text.includes(q) || (c.near && c.near.name.toLowerCase().includes(q))) && (!quietOnly || quietNow(c, now));
    }).sort((a, b) => worst(a) - worst(b) || silentS(b, now) - silentS(a, now) || a.conveyance_id.localeCompare(b.conveyance_id));
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    page = Math.min(page, pages - 1);
    const shown = rows.slice(page * PAGE, (page + 1) * PAGE);
    document.getElementById("rows").replaceChildren(...shown.map(c => {
      const t = c.trip, s = silentS(c, now), quiet = quietNow(c, now);
      const sev = c.alert_state ? c.alert_state.worst : null, n = c.alert_state ? c.alert_state.unresolved : 0;
      const speed = c.position && c.position.speed_kph !== null && c.position.speed_kph !== undefined ? Math.round(c.position.speed_kph) + " km/h" : "—";
      return el("tr", { "data-conveyance": c.conveyance_id, class: quiet ? "quiet" : "" },
        el("td", {}, el("b", {}, c.conveyance_id), c.tenant !== "default" ? el("span", { class: "muted" }, " · " + c.tenant) : null,
          c.position ? [" ", el("a", { class: "on-map", href: "/?conveyance=" + encodeURIComponent(c.conveyance_id), title: "show on the map" }, "map")] : null),
        el("td", { "data-label": "status" }, t ? t.status.replace("_", " ") : "no trip"),
        el("td", { "data-label": "alerts" }, sev ? el("span", { class: "sev " + sev }, `${n} · ${sev}`) : "—"),
        el("td", { "data-label": "trip" }, t ? `${t.trip_id} · ${t.origin.facility_id} → ${t.destination.facility_id}` : "—"),
        el("td", { "data-label": "seals on" }, c.seals_on.length ? c.seals_on.join(", ") : (t && t.expected_seals.length ? el("span", { class: "error" }, "none (expected " + t.expected_seals.join(", ") + ")") : "—")),
        el("td", { "data-label": "last report", title: c.position ? c.position.at : "" }, c.position ? reported(c.position.at, now) : "—"),
        el("td", { class: "near", "data-label": "near" }, near(c)),
        el("td", { class: "eta", "data-label": "ETA" }, eta(c)),
        el("td", { class: "speed", "data-label": "speed" }, speed),
        el("td", { class: "silent", "data-label": "silent for" }, silentText(s)));
    }));
    const quietCount = convs.filter(c => quietNow(c, now)).length;
    const windows = [...new Set(convs.map(c => Math.round(limitS(c) / 60)))].join("/") || "15";
    document.getElementById("summary").textContent = `${convs.length} conveyances · ${quietCount} in transit and silent past their tracking-gap window (${windows} min)`;
    const pager = document.getElementById("pager");
    pager.replaceChildren(...(pages > 1 ? [
      el("button", { type: "button", disabled: page === 0, onclick: () => { page -= 1; render(); } }, "‹ previous"),
      el("span", { class: "muted" }, ` ${page * PAGE + 1}–${Math.min((page + 1) * PAGE, rows.length)} of ${rows.length} `),
      el("button", { type: "button", disabled: page >= pages - 1, onclick: () => { page += 1; render(); } }, "next ›")] : []));
  }

  async function load() { convs = (await api("/api/v1/conveyances?geometry=false")).conveyances; render(); }
  let timer = null;
  function onLive() { clearTimeout(timer); timer = setTimeout(() => load().catch(() => {}), 1000); }
  function setLive(on) { const n = document.getElementById("live"); n.className = on ? "on" : "off"; n.textContent = on ? "live" : "reconnecting"; }
  document.getElementById("find").addEventListener("input", () => { page = 0; render(); });
  document.getElementById("quiet-only").addEventListener("change", render);
  SG.login(async () => {
    try { await load(); } catch (e) { document.getElementById("rows").replaceChildren(el("tr", {}, el("td", { class: "error", colspan: "10" }, e.message))); }
    stream("/api/v1/stream", onLive, setLive);
    setInterval(render, 30000);
  });
})();
