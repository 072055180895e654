// The dock: look a conveyance up, run the VVTT seal check step by step and the 7/8/17-point inspection,
// and get the verdict at once. A scanner that types into the focused field and ends with Enter works.
"use strict";
(() => {
  const { el, api, fmtTime } = SG;
  let conv = null, points = {};
  const vvtt = {};
  const AGRI = [["pest_contamination", "Visible pests, eggs, seeds or soil in or on the conveyance?"],
                ["wood_packaging_unmarked", "Wood packaging without the ISPM 15 mark?"]];
  const agri = {};

  const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));
  const nowIso = () => new Date().toISOString();

  // Lookups can answer out of order (a scanner enters two conveyances in quick succession): only the
  // latest asked for is shown, or a slow first answer would put the wrong conveyance's check on screen.
  const lookup = SG.latestOnly();
  async function find(id) {
    const latest = lookup();
    let found;
    try {
      found = await api("/api/v1/conveyances/" + encodeURIComponent(id));
    } catch (e) {
      if (!latest()) return;
      conv = null; box().replaceChildren(el("p", { class: "error" }, e.message)); hide(); return;
    }
    if (!latest()) return;
    conv = found;
    document.getElementById("conveyance").value = conv.conveyance_id;  // as the system spells it
    document.getElementById("photos-step").hidden = true;  // photos belong to a check of this conveyance
    photoCheck = null;
    showTrip();
    document.getElementById("vvtt").hidden = false;
    document.getElementById("inspection").hidden = false;
    resetVvtt();
    document.getElementById("itype").value = checklistFor(conv);
    submitted.vvtt = submitted.insp = null;
    renderPoints();
    document.querySelector('[data-step="view"][data-v="true"]').focus();
  }

  // The checklist the conveyance needs (MSC 5.3): a container's 7 points, a truck's 17 (tractor and
  // trailer). The plan's conveyance type says which; without one, an ISO 6346 container number
  // (4 letters, 7 digits) is a container and anything else is a truck at a highway dock.
  function checklistFor(c) {
    const type = c.trip && c.trip.conveyance_type;
    if (type === "container") return "container_7pt";
    if (type === "trailer" || type === "tractor_trailer") return "tractor_trailer_17pt";
    return /^[A-Z]{4}\d{7}$/.test(c.conveyance_id) ? "container_7pt" : "tractor_trailer_17pt";
  }

  function showTrip() {
    const t = conv.trip, i = conv.latest_inspection, seals = t ? t.expected_seals : [];
    // Nothing but the seal numbers goes in #expected: a note there could be read (or scanned) as a number.
    box().replaceChildren(...[
      el("p", {}, el("b", {}, conv.conveyance_id), t ? ` · trip ${t.trip_id} (${t.status}) ${t.origin.facility_id} → ${t.destination.facility_id}` : " · no open trip"),
      el("p", {}, "Expected seals: ", seals.length ? el("b", { id: "expected" }, seals.join(", ")) : el("span", { class: "muted", id: "no-seals" }, "the documents name no seal")),
      el("p", { id: "latest-insp" }, "Latest inspection: ", i ? `${fmtTime(i.at)} — ${i.passed ? "passed" : "FAILED"}` : "none recorded"),
      conv.open_alerts.length ? el("p", { class: "error" }, `${conv.open_alerts.length} open alert(s): ` + conv.open_alerts.map(a => a.rule_id).join(", ")) : null,
    ].filter(Boolean));  // replaceChildren would print a null as the text "null"
  }
  const box = () => document.getElementById("trip");
  const submitted = { vvtt: null, insp: null };  // when this page last recorded each, for this conveyance
  const label = p => p.replace(/_/g, " ");
  // Verdicts name inspection points as people say them ("air breather", not air_breather).
  const readable = text => text.replace(/\b[a-z]+(?:_[a-z]+)+\b/g, label);

  function hide() { document.getElementById("vvtt").hidden = true; document.getElementById("inspection").hidden = true; }

  function resetVvtt() {
    for (const k of ["view", "verify", "tug", "twist_turn", "intact"]) { delete vvtt[k]; mark(k, null); }
    document.getElementById("seal").value = ""; document.getElementById("seal-check").textContent = "";
    document.getElementById("vvtt-verdict").replaceChildren();
    document.getElementById("submit-vvtt").disabled = true;
  }

  function mark(step, ok) {
    const n = document.getElementById("s-" + step);
    n.classList.toggle("done", ok === true); n.classList.toggle("bad", ok === false);
    // the chosen answer stays shown on its button
    n.querySelectorAll("button[data-v]").forEach(b => {
      const on = ok !== null && (b.dataset.v === "true") === ok;
      b.classList.toggle("on", on); b.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  function ready() { document.getElementById("submit-vvtt").disabled = !["view", "verify", "tug", "twist_turn", "intact"].every(k => k in vvtt); }

  const ORDER = ["view", "verify", "tug", "twist_turn", "intact"];
  function next(step) {
    const i = ORDER.indexOf(step) + 1;
    if (i >= ORDER.length) { document.getElementById("submit-vvtt").focus(); return; }
    if (ORDER[i] === "verify") document.getElementById("seal").focus();
    else document.querySelector(`[data-step="${ORDER[i]}"][data-v="true"]`).focus();
  }

  document.querySelectorAll("#vvtt button[data-step]").forEach(b => b.addEventListener("click", () => {
    const step = b.dataset.step, v = b.dataset.v === "true";
    vvtt[step] = v; mark(step, v); ready(); next(step);
  }));

  document.getElementById("seal-form").addEventListener("submit", ev => {
    ev.preventDefault();
    const number = document.getElementById("seal").value.trim();
    if (!number) return;
    const expected = conv && conv.trip ? conv.trip.expected_seals : [];
    const norm = s => s.toUpperCase().replace(/[\s-]/g, "");
    const ok = expected.some(s => norm(s) === norm(number));
    vvtt.verify = ok; vvtt.seal_number = number;
    mark("verify", ok);
    document.getElementById("seal-check").replaceChildren(ok ? el("span", { style: "color:var(--ok)" }, `${number} matches the documents`)
      : expected.length ? el("span", { class: "error" }, `${number} does not match the documents (${expected.join(", ")})`)
      : el("span", { class: "error" }, `the documents name no seal: ${number} cannot be matched — ask the office before loading`));
    ready(); next("verify");
  });

  function verdict(box, result, good, badHead) {
    const findings = (result.results && result.results[0] && result.results[0].findings) || [];
    const item = result.results ? result.results[0] : null;
    if (item && item.status === "rejected") { box.replaceChildren(el("div", { class: "verdict reject" }, "Not recorded: " + readable(item.reason))); return; }
    if (!findings.length) { box.replaceChildren(el("div", { class: "verdict accept" }, good)); return; }
    box.replaceChildren(el("div", { class: "verdict reject" }, badHead, el("ul", {}, ...findings.map(f => el("li", {}, `${f.rule_id} (${f.severity}): ${readable(f.message)}`)))));
  }

  // Checks made without a connection are kept on this phone (localStorage) and sent, in order, when it
  // returns; each keeps its event id and time, so a check sent twice is recorded once.
  const QUEUE = "sealguard.dock.queue";
  const queued = () => JSON.parse(localStorage.getItem(QUEUE) || "[]");
  function showQueue() {
    const n = queued().length, q = document.getElementById("queue");
    q.hidden = !n;
    q.textContent = n ? `${n} check(s) saved on this phone, to be sent when the connection returns` : "";
  }
  async function flush() {
    let items = queued();
    while (items.length && navigator.onLine) {
      try { await api("/api/v1/events", { method: "POST", body: items[0] }); }
      catch (e) { if (e instanceof TypeError) break; }  // still offline: try again later; refused: drop it
      items = queued().slice(1);
      localStorage.setItem(QUEUE, JSON.stringify(items));
    }
    showQueue();
  }
  window.addEventListener("online", flush);
  class Queued extends Error {}

  async function submitEvent(event) {
    if (conv.tenant) event.tenant = conv.tenant;
    const keep = () => { localStorage.setItem(QUEUE, JSON.stringify([...queued(), event])); showQueue(); throw new Queued(); };
    if (!navigator.onLine) keep();
    try { return await api("/api/v1/events", { method: "POST", body: event }); }
    catch (e) { if (e instanceof TypeError) keep(); throw e; }  // a network failure (fetch's TypeError): keep it
  }

  // A second submit of the same check is a second record: say so, and ask, rather than record it silently.
  function again(which, what) {
    if (!submitted[which]) return true;
    return confirm(`A ${what} of ${conv.conveyance_id} was already recorded at ${fmtTime(submitted[which])}. Record another one?`);
  }

  async function refresh() {  // the latest inspection and open alerts, as they are now
    try { conv = await api("/api/v1/conveyances/" + encodeURIComponent(conv.conveyance_id)); showTrip(); } catch (e) { /* keep what is shown */ }
  }

  document.getElementById("submit-vvtt").addEventListener("click", async () => {
    if (!again("vvtt", "seal check")) return;
    const box = document.getElementById("vvtt-verdict");
    const event = { event_id: "dock-" + uuid(), kind: "seal.verified", occurred_at: nowIso(), conveyance_id: conv.conveyance_id,
      trip_id: conv.trip ? conv.trip.trip_id : undefined, seal_number: vvtt.seal_number,
      steps: { view: vvtt.view, verify: vvtt.verify, tug: vvtt.tug, twist_turn: vvtt.twist_turn }, intact: vvtt.intact };
    try {
      const result = await submitEvent(event);
      const head = vvtt.verify ? "Do not accept the load:" : "Seal number does not match the documents — do not accept the load:";
      verdict(box, result, "Seal verified — accept the load.", head);
      if (result.results && result.results[0] && result.results[0].status !== "rejected") { submitted.vvtt = event.occurred_at; photosFor(event, "the seal check"); }
      await refresh();
    } catch (e) { box.replaceChildren(e instanceof Queued ? el("div", { class: "verdict queued" }, "No connection: the check is saved on this phone and will be sent when the connection returns.")
      : el("div", { class: "verdict reject" }, "Not recorded: " + e.message)); }
  });

  // --- inspection ---------------------------------------------------------------------------------
  async function renderPoints() {
    if (!points.container_7pt) points = (await api("/api/v1/reference/inspection-points")).points;
    const type = document.getElementById("itype").value;
    const chosen = {};
    const rows = points[type].map(p => {
      const name = label(p);
      const pass = el("button", { type: "button", class: "pass", "data-point": p, "data-v": "pass" }, "Pass");
      const fail = el("button", { type: "button", class: "fail", "data-point": p, "data-v": "fail" }, "Fail");
      for (const b of [pass, fail]) b.addEventListener("click", () => { chosen[p] = b.dataset.v; pass.classList.toggle("on", b === pass); fail.classList.toggle("on", b === fail); check(); });
      return el("label", {}, name, el("span", { class: "choice" }, pass, fail));
    });
    document.getElementById("points").replaceChildren(...rows);
    document.getElementById("agri").replaceChildren(...AGRI.map(([k, q]) => {
      const yes = el("button", { type: "button", class: "fail", "data-agri": k, "data-v": "yes" }, "Yes");
      const no = el("button", { type: "button", class: "pass", "data-agri": k, "data-v": "no" }, "No");
      for (const b of [yes, no]) b.addEventListener("click", () => { agri[k] = b === yes; yes.classList.toggle("on", b === yes); no.classList.toggle("on", b === no); check(); });
      return el("label", {}, q, el("span", { class: "choice" }, yes, no));
    }));
    for (const k of AGRI.map(a => a[0])) delete agri[k];
    const check = () => { document.getElementById("submit-insp").disabled = !(points[type].every(p => p in chosen) && AGRI.every(([k]) => k in agri)); };
    check();
    document.getElementById("submit-insp").onclick = async () => {
      if (!again("insp", "inspection")) return;
      const box = document.getElementById("insp-verdict");
      const event = { event_id: "dock-" + uuid(), kind: "inspection.completed", occurred_at: nowIso(), conveyance_id: conv.conveyance_id,
        trip_id: conv.trip ? conv.trip.trip_id : undefined, inspection_type: type, points: { ...chosen }, agricultural: { ...agri },
        inspector_id: document.getElementById("inspector").value.trim() || (SG.me() && SG.me().kind === "person" ? SG.me().name : undefined) };
      try {
        const result = await submitEvent(event);
        verdict(box, result, "Inspection passed — the conveyance may be loaded and sealed.", "Inspection failed — do not load or seal:");
        if (result.results && result.results[0] && result.results[0].status !== "rejected") { submitted.insp = event.occurred_at; photosFor(event, "the inspection"); }
        await refresh();
      } catch (e) { box.replaceChildren(e instanceof Queued ? el("div", { class: "verdict queued" }, "No connection: the inspection is saved on this phone and will be sent when the connection returns.")
        : el("div", { class: "verdict reject" }, "Not recorded: " + e.message)); }
    };
  }
  document.getElementById("itype").addEventListener("change", renderPoints);

  // --- photos of the seal and the doors, attached to the check just recorded ------------------------------
  // The camera through the browser (getUserMedia) where there is one; a file (or the phone's camera app)
  // otherwise. A photo is scaled to at most 2048 px and sent as JPEG, so it fits the upload limit; the
  // server reads its type from the bytes and strips its location as the site's policy says.
  let photoCheck = null, stream = null;
  function photosFor(event, what) {
    photoCheck = { event_id: event.event_id, conveyance_id: event.conveyance_id, trip_id: event.trip_id };
    document.getElementById("photo-of").textContent = `${what} of ${event.conveyance_id} (${event.event_id})`;
    document.getElementById("photo-list").replaceChildren();
    document.getElementById("photo-result").replaceChildren();
    document.getElementById("photos-step").hidden = false;
  }
  async function upload(blob) {
    const box = document.getElementById("photo-result");
    const q = new URLSearchParams({ event_id: photoCheck.event_id, subject: document.getElementById("photo-subject").value });
    if (photoCheck.conveyance_id) q.set("conveyance_id", photoCheck.conveyance_id);
    if (photoCheck.trip_id) q.set("trip_id", photoCheck.trip_id);
    if (conv && conv.tenant) q.set("tenant", conv.tenant);
    const me = SG.me();
    const resp = await fetch("/api/v1/photos?" + q, { method: "POST", body: blob, credentials: "same-origin",
      headers: { "Content-Type": blob.type || "application/octet-stream", ...(me && me.csrf ? { "X-CSRF-Token": me.csrf } : {}) } });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) { box.replaceChildren(el("div", { class: "verdict reject" }, "Photo not kept: " + (data.detail || resp.statusText))); return; }
    box.replaceChildren(el("div", { class: "verdict accept" }, `Photo of ${data.subject} kept (SHA-256 ${data.sha256.slice(0, 12)}…, location ${data.location}).`));
    document.getElementById("photo-list").append(el("figure", { class: "photo" }, el("img", { src: data.url, alt: `${data.subject} photo` }),
      el("figcaption", { class: "muted" }, `${data.subject} · ${fmtTime(data.uploaded_at)}`)));
  }
  function scaled(source, width, height) {
    const k = Math.min(1, 2048 / Math.max(width, height));
    const canvas = el("canvas", { width: Math.round(width * k), height: Math.round(height * k) });
    canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
    return new Promise(resolve => canvas.toBlob(resolve, "image/jpeg", 0.85));
  }
  document.getElementById("camera-on").addEventListener("click", async () => {
    const video = document.getElementById("camera");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      document.getElementById("snap").disabled = false;
    } catch (e) {
      document.getElementById("photo-result").replaceChildren(el("div", { class: "verdict reject" }, "No camera here (" + e.message + "); choose a photo instead."));
    }
  });
  document.getElementById("snap").addEventListener("click", async () => {
    const video = document.getElementById("camera");
    if (!photoCheck || !video.videoWidth) return;
    await upload(await scaled(video, video.videoWidth, video.videoHeight));
  });
  document.getElementById("photo-file").addEventListener("change", async ev => {
    const file = ev.target.files && ev.target.files[0];
    ev.target.value = "";
    if (!file || !photoCheck) return;
    if (file.size <= 3 * 1024 * 1024) { await upload(file); return; }  // as taken (its location as the policy says)
    const bitmap = await createImageBitmap(file);
    await upload(await scaled(bitmap, bitmap.width, bitmap.height));
  });

  // --- scanning a barcode or QR code with the phone's camera ------------------------------------------
  // The browser's BarcodeDetector where there is one (Android, macOS); elsewhere the vendored ZXing reader
  // (loaded only when first asked for) reads frames of the camera drawn on a canvas. What it reads goes
  // into the field and is entered, as a hand scanner's Enter would.
  let scanning = null;
  function loadZxing() {
    if (window.ZXing) return Promise.resolve();
    return new Promise((ok, fail) => { const s = el("script", { src: "/static/vendor/zxing.min.js" }); s.onload = ok; s.onerror = fail; document.head.append(s); });
  }
  async function reader() {
    if ("BarcodeDetector" in window) {
      const detector = new BarcodeDetector();
      return async video => { const found = await detector.detect(video); return found.length ? found[0].rawValue : null; };
    }
    await loadZxing();
    const Z = window.ZXing, hints = new Map();
    hints.set(Z.DecodeHintType.POSSIBLE_FORMATS, [Z.BarcodeFormat.QR_CODE, Z.BarcodeFormat.CODE_128, Z.BarcodeFormat.CODE_39,
      Z.BarcodeFormat.DATA_MATRIX, Z.BarcodeFormat.EAN_13, Z.BarcodeFormat.ITF]);
    hints.set(Z.DecodeHintType.TRY_HARDER, true);
    const decoder = new Z.MultiFormatReader(); decoder.setHints(hints);
    const canvas = el("canvas");
    return async video => {
      canvas.width = video.videoWidth; canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      try { return decoder.decode(new Z.BinaryBitmap(new Z.HybridBinarizer(new Z.HTMLCanvasElementLuminanceSource(canvas)))).getText(); }
      catch (e) { return null; }  // nothing readable in this frame
    };
  }
  function stopScan() {
    if (!scanning) return;
    clearInterval(scanning.timer); scanning.stream.getTracks().forEach(t => t.stop());
    document.getElementById("scanner").hidden = true; scanning = null;
  }
  async function scan(field) {
    stopScan();
    const state = document.getElementById("scan-state"), video = document.getElementById("scanner");
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      video.srcObject = stream; video.hidden = false; await video.play();
      const read = await reader();
      state.textContent = "Point the camera at the barcode or QR code…";
      scanning = { stream, timer: setInterval(async () => {
        if (!video.videoWidth) return;
        const text = await read(video);
        if (!text || !scanning) return;
        stopScan();
        state.textContent = `Read: ${text}`;
        const input = document.getElementById(field);
        input.value = text.trim();
        input.form.requestSubmit();
      }, 250) };
    } catch (e) { stopScan(); state.textContent = "No camera here (" + e.message + "); type the number instead."; }
  }
  for (const b of document.querySelectorAll("button.scan")) b.addEventListener("click", () => scan(b.dataset.scan));

  document.getElementById("find").addEventListener("submit", ev => { ev.preventDefault(); const id = document.getElementById("conveyance").value.trim(); if (id) find(id); });
  SG.login(() => { document.getElementById("conveyance").focus(); showQueue(); flush(); });
})();
