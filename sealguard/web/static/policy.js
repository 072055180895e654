// The policy in force, and a backtest of an edited copy over a past window (POST /api/v1/backtest).
(() => {
  const { el, api } = SG;
  const local = d => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  async function start() {
    const text = (await api("/api/v1/policy")).yaml;
    document.getElementById("current").textContent = text;
    if (!document.getElementById("policy").value) document.getElementById("policy").value = text;
    const now = new Date();
    document.getElementById("until").value = local(now);
    document.getElementById("since").value = local(new Date(now.getTime() - 7 * 86400000));
  }
  document.getElementById("bt").addEventListener("submit", async ev => {
    ev.preventDefault();
    const status = document.getElementById("status"), button = document.getElementById("run");
    button.disabled = true;
    status.textContent = "replaying the stored events under both policies…";
    try {
      const d = await api("/api/v1/backtest", { method: "POST", body: {
        policy: document.getElementById("policy").value,
        since: new Date(document.getElementById("since").value).toISOString(),
        until: new Date(document.getElementById("until").value).toISOString() } });
      status.textContent = `replayed ${d.events.replayed.toLocaleString()} events (${d.events.in_window.toLocaleString()} in the window) in ${d.seconds} s; ` +
        `${d.alerts.current} alerts now, ${d.alerts.proposed} under the proposed policy`;
      const table = document.getElementById("table");
      table.hidden = false;
      document.getElementById("rows").replaceChildren(...d.rules.map(r => el("tr", { class: r.appear || r.disappear || r.severity_changed || r.time_changed ? "changed" : "" },
        el("th", {}, r.rule_id), ...[r.current, r.proposed, r.appear, r.disappear, r.severity_changed, r.time_changed].map(v => el("td", {}, String(v))))));
      const items = [];
      for (const r of d.rules) for (const [what, xs] of Object.entries(r.examples)) for (const x of xs)
        items.push(el("li", {}, `${r.rule_id} ${what.replace("_", " ")}: ${x.conveyance_id || "-"} ${x.severity} at ${x.occurred_at}` +
          (x.proposed ? ` → ${x.proposed.severity} at ${x.proposed.occurred_at}` : "") + ` — ${x.message}`));
      document.getElementById("examples").replaceChildren(...items);
    } catch (e) { status.textContent = "Not run: " + e.message; }
    finally { button.disabled = false; }
  });
  SG.login(start);
})();
