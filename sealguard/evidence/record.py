"""The incident record for people, as content: what the HTML and PDF reports both say, in the order of a
seal-discrepancy / security-incident record (what happened, where and when, the conveyance and its seals,
the criterion, the evidence, the inspections, who was told, who acted, the investigation notes, the proof).
Pure: ``incident.json``'s document in, sections out; the two renderers only lay them out."""

from dataclasses import dataclass, field
from typing import Any

import orjson

from sealguard.evidence.staticmap import MapDrawing, draw
from sealguard.schemas.decode import InvalidEvent, decode_event
from sealguard.schemas.events import InspectionCompleted, SealVerified

Rows = list[list[str]]


@dataclass(slots=True)
class Section:
    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)  # label, value
    table: tuple[list[str], Rows] | None = None
    bullets: list[str] = field(default_factory=list)
    blocks: list[tuple[str, str]] = field(default_factory=list)  # caption, preformatted text
    photos: list[tuple[str, str]] = field(default_factory=list)  # file, caption
    note: str | None = None


@dataclass(slots=True)
class Record:
    title: str
    subtitle: str
    sections: list[Section]
    drawing: MapDrawing | None


def _v(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(_v(v) for v in value) or "-"
    return str(value)


def _place(p: dict[str, Any] | None) -> str:
    if not p:
        return "-"
    name = p.get("name") or p.get("facility_id") or ""
    center = p.get("center")
    if isinstance(center, list) and len(center) == 2:
        return f"{name} ({center[1]}, {center[0]}; radius {p.get('radius_m', '-')} m)".strip()
    return str(name) or "-"


def _source(c: dict[str, Any]) -> dict[str, Any]:
    source = c.get("source")
    return source if isinstance(source, dict) else {}


def _seals_seen(doc: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    for e in doc["events"]:
        n = e["payload"].get("seal_number")
        if n and n not in seen:
            seen.append(n)
    for c in doc["inspections"]:
        n = c.get("seal_number")
        if n and n not in seen:
            seen.append(n)
    return seen


def _check_result(c: dict[str, Any]) -> str:
    """A stored check said as people say it, judged by the contract's own rules (``InspectionCompleted``
    and ``VvttSteps``), not a second copy of them."""
    try:
        event = decode_event(orjson.dumps(c))
    except InvalidEvent as exc:
        return f"{c.get('kind', 'check')}: not readable ({exc.reason})"
    if isinstance(event, SealVerified):
        failed = event.steps.failed() + ([] if event.intact else ["seal not intact"])
        return f"VVTT of seal {event.seal_number}: " + ("passed" if not failed else "failed: " + ", ".join(failed))
    if not isinstance(event, InspectionCompleted):
        return event.kind
    if event.passed():
        return f"{event.inspection_type}: passed ({len(event.points)} points)"
    failed, missing = event.failed_points(), event.missing_points()
    said = [f"failed {', '.join(failed)}" if failed else "", f"missing {', '.join(missing)}" if missing else ""]
    return f"{event.inspection_type}: " + ("; ".join(x for x in said if x) or "agricultural finding")


def record(doc: dict[str, Any]) -> Record:
    a, rule = doc["alert"], doc.get("rule") or {}
    family = "Seal discrepancy record" if a["rule_id"].startswith("SEAL") else "Security incident record"
    plan = (doc.get("trip") or {}).get("plan") or {}
    sections = []

    what = Section("What happened")
    what.facts = [
        ("Alert", a["alert_id"]), ("Rule", f"{a['rule_id']} {_v(rule.get('title'))}"), ("Severity", a["severity"]),
        ("Status", a["status"]), ("Occurred at (UTC)", a["occurred_at"]), ("Message", a["message"]),
        ("Conveyance", _v(a.get("conveyance_id"))), ("Trip", _v(a.get("trip_id"))),
        ("Facility", _v(a.get("facility_id"))), ("Tenant", a["tenant"]),
        ("Acknowledged", f"{_v(a.get('acknowledged_at'))} by {_v(a.get('acknowledged_by'))}"),
        ("Resolved", f"{_v(a.get('resolved_at'))} by {_v(a.get('resolved_by'))}"),
    ]  # fmt: skip
    sections.append(what)

    crit = Section("The criterion")
    crit.facts = [("CTPAT criterion", a["criterion"]), ("Condition", _v(rule.get("when"))),
                  ("Resolves", _v(rule.get("resolves")))]  # fmt: skip
    crit.bullets = list(rule.get("what_to_do") or [])
    sections.append(crit)

    marks = [
        (e["payload"]["lat"], e["payload"]["lon"], f"{e['kind']} {e['occurred_at']}")
        for e in doc["events"]
        if isinstance(e["payload"].get("lat"), int | float) and isinstance(e["payload"].get("lon"), int | float)
    ]
    track = [(lat, lon) for _, lat, lon in doc.get("track", [])]
    route = [(p[1], p[0]) for p in plan.get("route") or [] if isinstance(p, list) and len(p) == 2]
    drawing = draw(route, track, marks)
    where = Section("Where and when")
    where.table = (["time (UTC)", "event", "lat", "lon"], [[m[2].split(" ")[1], m[2].split(" ")[0], f"{m[0]:.5f}",
                                                            f"{m[1]:.5f}"] for m in marks])  # fmt: skip
    where.note = (f"Track: {len(track)} GPS fixes within six hours of the alert; the planned route dashed."
                  if drawing else "No event of this alert has a position.")  # fmt: skip
    sections.append(where)

    trip = Section("Conveyance, trip and seals")
    trip.facts = [
        ("Conveyance type", _v(plan.get("conveyance_type"))), ("Origin", _place(plan.get("origin"))),
        ("Destination", _place(plan.get("destination"))), ("Planned departure", _v(plan.get("planned_departure"))),
        ("Planned arrival", _v(plan.get("planned_arrival"))), ("Seals expected", _v(plan.get("seal_numbers"))),
        ("Seals seen", _v(_seals_seen(doc))),
    ]  # fmt: skip
    sections.append(trip)

    evidence = Section("Evidence events")
    for e in doc["events"]:
        partner = e.get("partner")
        caption = (f"{e['kind']} {e['event_id']} · occurred {e['occurred_at']} · received {e['received_at']}"
                   f" over {e['source']} · {e['file']} SHA-256 {e['sha256']}")  # fmt: skip
        if partner:
            caption += f" · made from a {partner['format']} message, {partner['file']} SHA-256 {partner['sha256']}"
        if not e.get("original_kept"):
            caption += " · (stored before originals were kept: the stored payload)"
        evidence.blocks.append((caption, orjson.dumps(e["payload"], option=orjson.OPT_INDENT_2).decode()))
    sections.append(evidence)

    checks = Section("Inspections and seal checks of this trip")
    checks.table = (["time (UTC)", "check", "by", "facility"], [
        [_v(c.get("occurred_at")), _check_result(c), _v(c.get("inspector_id") or _source(c).get("operator_id")),
         _v(_source(c).get("facility_id"))] for c in doc["inspections"]])  # fmt: skip
    checks.photos = [(p["file"], f"{p['subject']} · event {p['event_id']} · by {p['taken_by']} · {p['uploaded_at']}"
                      f" · SHA-256 {p['sha256']} · EXIF location {p['location']}") for p in doc["photos"]
                     if p["file"]]  # fmt: skip
    left_out = [p for p in doc["photos"] if not p["file"]]
    if left_out:
        checks.bullets = [f"Photo {p['photo_id']} ({p['bytes']:,} bytes, SHA-256 {p['sha256']}) is not in this package:"
                          " past its photo budget; it is kept by the site" for p in left_out]  # fmt: skip
    if not doc["inspections"]:
        checks.note = "No inspection or seal check of this trip is stored."
    sections.append(checks)

    told = Section("Who was notified")
    told.table = (["receiver", "channel", "kind", "tier", "status", "sent (UTC)", "attempts", "last error"], [
        [n["receiver"], n["channel"], n["kind"], str(n["tier"]), n["status"], _v(n.get("sent_at")),
         str(n["attempts"]), _v(n.get("last_error"))] for n in doc["notifications"]])  # fmt: skip
    if not doc["notifications"]:
        told.note = "Nobody was notified (no route matched, or the alert was silenced)."
    sections.append(told)

    acted = Section("Who acted")
    acted.table = (
        ["row", "time (UTC)", "action", "by", "note"],
        [[str(h["chain_seq"]), h["at"], h["action"], h["actor"], _v(h.get("note"))] for h in doc["history"]],
    )
    closers = [h["actor"] for h in doc["history"] if h["action"] in {"resolve", "resolve_requested", "resolved"}]
    if len(set(closers)) >= 2:
        acted.note = f"Closed by two people: {', '.join(dict.fromkeys(closers))}."
    sections.append(acted)

    notes = Section("Investigation notes")
    notes.bullets = [f"{h['at']} {h['actor']}: {h['note']}" for h in doc["history"] if h.get("note")]
    if not notes.bullets:
        notes.note = "No notes were written."
    sections.append(notes)

    chain = doc["chain"]
    proof = Section("Proof")
    head = chain.get("head") or {}
    proof.facts = [
        ("Site key", doc["site_key_fingerprint"]),
        ("Chain head", f"row {_v(head.get('chain_seq'))} {_v(head.get('hash'))}"),
        ("History rows", ", ".join(f"{h['chain_seq']}: {h['hash'][:16]}" for h in doc["history"]) or "-"),
        ("Generated", f"{doc['generated_at']} by {doc['generated_by']}"),
    ]  # fmt: skip
    proof.note = ("Check by hand: sha256sum -c SHA256SUMS; openssl pkeyutl -verify -pubin -inkey site-key.pem -rawin"
                  " -in SHA256SUMS -sigfile SHA256SUMS.sig (use the site's published key); sha256sum history/*"
                  " gives each row's hash. Or: sealguard incident verify this.zip --key site.pem")  # fmt: skip
    sections.append(proof)
    return Record(family, f"{a['rule_id']} · {a.get('conveyance_id') or '-'} · {a['occurred_at']}", sections, drawing)
