// The compliance figures of a period: the period and grouping live in the URL (a view can be shared),
// the charts and the table come from GET /api/v1/compliance, the CSV link is the same query.
(() => {
  const { el, api } = SG;
  const charts = {};
  const pct = v => (v === null || v === undefined ? "-" : `${v} %`);
  const dur = s => {
    if (s === null || s === undefined) return "-";
    if (s < 90) return `${Math.round(s)} s`;
    if (s < 5400) return `${Math.round(s / 60)} min`;
    return `${(s / 3600).toFixed(1)} h`;
  };
  const day = d => d.toISOString().slice(0, 10);

  function fromUrl() {
    const q = new URLSearchParams(location.search);
    const until = q.get("until") || day(new Date(Date.now() + 86400000));
    const since = q.get("since") || day(new Date(Date.parse(until) - 90 * 86400000));
    document.getElementById("since").value = since;
    document.getElementById("until").value = until;
    document.getElementById("by").value = q.get("by") || "facility";
  }

  function query(format) {
    const q = new URLSearchParams({ since: document.getElementById("since").value + "T00:00:00Z",
      until: document.getElementById("until").value + "T00:00:00Z", by: document.getElementById("by").value });
    if (format) q.set("format", format);
    return q;
  }

  function chart(id, config) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart(document.getElementById(id), { ...config, options: { animation: false, responsive: true, maintainAspectRatio: false, ...(config.options || {}) } });
  }

  const asking = SG.latestOnly();  // an earlier request answering last would show other figures
  async function show() {
    const latest = asking();
    const summary = document.getElementById("summary");
    summary.textContent = "computing…";
    const started = performance.now();
    let d;
    try { d = await api("/api/v1/compliance?" + query()); } catch (e) { if (latest()) summary.textContent = "Not shown: " + e.message; return; }
    if (!latest()) return;
    document.getElementById("csv").href = "/api/v1/compliance?" + query("csv");
    const rows = [...d.groups, ...(d.total ? [d.total] : [])];
    const total = d.total || { trips: 0 };
    summary.textContent = `${total.trips} trips of tenant ${d.tenant}, ${d.since.slice(0, 10)} to ${d.until.slice(0, 10)} · ${Math.round(performance.now() - started)} ms`;
    // each cell names its figure: on a phone the rows stack and the header is hidden
    const cell = (label, text) => el("td", { "data-label": label }, text);
    document.getElementById("rows").replaceChildren(...rows.map(g => el("tr", { class: g === d.total ? "total" : "" },
      el("th", {}, g.group), cell("trips", String(g.trips)),
      cell("inspected before sealing", `${pct(g.inspected_before_sealing.pct)} (${g.inspected_before_sealing.count})`),
      cell("inspection passed", `${pct(g.inspection_passed.pct)} (${g.inspection_passed.count})`),
      cell("VVTT at arrival", `${pct(g.vvtt_at_arrival.pct)} (${g.vvtt_at_arrival.count})`),
      cell("seal discrepancies /100", g.seal_discrepancies.per_100_trips === null ? "-" : String(g.seal_discrepancies.per_100_trips)),
      cell("alerts", String(g.alerts.total)),
      cell("acknowledge median · p90", `${dur(g.time_to_acknowledge_s.median)} · ${dur(g.time_to_acknowledge_s.p90)}`),
      cell("resolve median · p90", `${dur(g.time_to_resolve_s.median)} · ${dur(g.time_to_resolve_s.p90)}`),
      cell("two-person closures by two", `${pct(g.two_person_closures.pct)} (${g.two_person_closures.by_two} of ${g.two_person_closures.count})`))));
    const labels = d.groups.map(g => g.group);
    chart("c-checks", { type: "bar", data: { labels, datasets: [
      { label: "inspected before sealing", data: d.groups.map(g => g.inspected_before_sealing.pct), backgroundColor: "#2680c2" },
      { label: "inspection passed", data: d.groups.map(g => g.inspection_passed.pct), backgroundColor: "#66bb6a" },
      { label: "VVTT at arrival", data: d.groups.map(g => g.vvtt_at_arrival.pct), backgroundColor: "#f9a825" }] },
      options: { scales: { y: { min: 0, max: 100 } } } });
    chart("c-seals", { type: "bar", data: { labels, datasets: [
      { label: "seal discrepancies per 100 trips", data: d.groups.map(g => g.seal_discrepancies.per_100_trips), backgroundColor: "#d62728" }] } });
    const byRule = Object.entries(total.alerts ? total.alerts.by_rule : {}).sort((a, b) => b[1] - a[1]);
    chart("c-rules", { type: "bar", data: { labels: byRule.map(r => r[0]), datasets: [
      { label: "alerts", data: byRule.map(r => r[1]), backgroundColor: "#7e57c2" }] }, options: { indexAxis: "y" } });
  }

  document.getElementById("period").addEventListener("submit", ev => {
    ev.preventDefault();
    const q = query();
    history.replaceState(null, "", "?" + new URLSearchParams({ since: q.get("since").slice(0, 10), until: q.get("until").slice(0, 10), by: q.get("by") }));
    show();
  });
  SG.login(() => { fromUrl(); show(); });
})();
