// The fleet at a glance: every conveyance with its status, open alerts, trip, seals, last report, speed,
// and how long it has been silent. Worst first: open alerts by severity, then the longest silence, so a
// device that has gone quiet is near the top. Silent past SILENT_MIN minutes is flagged.
"use strict";
(() => {
  const { el, api, stream, age, fmtTime } = SG;
  const SILENT_MIN = 30;  // TRK-003's default window: a fix at least every 30 min in transit
  const RANK = { critical: 0, high: 1, medium: 2, low: 3 };
  let convs = [];

  // When it last reported, and how long ago; a report stamped ahead of this clock (a simulation, a device
  // clock ahead) has no age here, and says so.
  function reported(at, now) {
    const a = age(at, now);
    return a.startsWith("event time") ? `${fmtTime(at)} (ahead of this clock)` : `${fmtTime(at)} (${a} ago)`;
  }

  function worst(c) { return Math.min(4, ...c.open_alerts.map(a => RANK[a.severity])); }
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
      return (!q || text.includes(q)) && (!quietOnly || silentS(c, now) >= SILENT_MIN * 60);
    }).sort((a, b) => worst(a) - worst(b) || silentS(b, now) - silentS(a, now) || a.conveyance_id.localeCompare(b.conveyance_id));
    document.getElementById("rows").replaceChildren(...rows.map(c => {
      const t = c.trip, s = silentS(c, now), quiet = t && t.status === "in_transit" ? s >= SILENT_MIN * 60 : false;
      const sev = c.open_alerts.length ? c.open_alerts.map(a => a.severity).sort((x, y) => RANK[x] - RANK[y])[0] : null;
      const speed = c.position && c.position.speed_kph !== null && c.position.speed_kph !== undefined ? Math.round(c.position.speed_kph) + " km/h" : "—";
      return el("tr", { "data-conveyance": c.conveyance_id, class: quiet ? "quiet" : "" },
        el("td", {}, el("b", {}, c.conveyance_id), c.tenant !== "default" ? el("span", { class: "muted" }, " · " + c.tenant) : null,
          c.position ? [" ", el("a", { class: "on-map", href: "/?conveyance=" + encodeURIComponent(c.conveyance_id), title: "show on the map" }, "map")] : null),
        el("td", { "data-label": "status" }, t ? t.status.replace("_", " ") : "no trip"),
        el("td", { "data-label": "alerts" }, sev ? el("span", { class: "sev " + sev }, `${c.open_alerts.length} · ${sev}`) : "—"),
        el("td", { "data-label": "trip" }, t ? `${t.trip_id} · ${t.origin.facility_id} → ${t.destination.facility_id}` : "—"),
        el("td", { "data-label": "seals on" }, c.seals_on.length ? c.seals_on.join(", ") : (t && t.expected_seals.length ? el("span", { class: "error" }, "none (expected " + t.expected_seals.join(", ") + ")") : "—")),
        el("td", { "data-label": "last report", title: c.position ? c.position.at : "" }, c.position ? reported(c.position.at, now) : "—"),
        el("td", { class: "speed", "data-label": "speed" }, speed),
        el("td", { class: "silent", "data-label": "silent for" }, silentText(s)));
    }));
    const quietCount = convs.filter(c => c.trip && c.trip.status === "in_transit" && silentS(c, now) >= SILENT_MIN * 60).length;
    document.getElementById("summary").textContent = `${convs.length} conveyances · ${quietCount} in transit and silent for ${SILENT_MIN} min or more`;
  }

  async function load() { convs = (await api("/api/v1/conveyances?geometry=false")).conveyances; render(); }
  let timer = null;
  function onLive() { clearTimeout(timer); timer = setTimeout(() => load().catch(() => {}), 1000); }
  function setLive(on) { const n = document.getElementById("live"); n.className = on ? "on" : "off"; n.textContent = on ? "live" : "reconnecting"; }
  document.getElementById("find").addEventListener("input", render);
  document.getElementById("quiet-only").addEventListener("change", render);
  SG.login(async () => {
    try { await load(); } catch (e) { document.getElementById("rows").replaceChildren(el("tr", {}, el("td", { class: "error", colspan: "8" }, e.message))); }
    stream("/api/v1/stream", onLive, setLive);
    setInterval(render, 30000);
  });
})();
