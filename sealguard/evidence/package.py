"""An incident package: everything a CTPAT member shows CBP, a partner or an auditor about one alert, in
one zip a third party can check without sealguard (docs/evidence.md). Pure: the facts in, the bytes out.

    report.html, report.pdf   the record for people
    incident.json             the same for machines (format ``sealguard-incident/1``)
    events/NN-<id>.json       each evidence event's bytes as its sender sent them
    partner/<sha256>.<fmt>    a partner's message an adapter made an evidence event from, as it came
    photos/<id>.<ext>         the trip's dock photos, as stored
    history/<seq>.json        each of the alert's history rows as the bytes its hash is the SHA-256 of
    chain.json                the tenant's hash chain from the alert's first row to its head, as links
    SHA256SUMS                every other file's SHA-256 (``sha256sum -c`` reads it)
    SHA256SUMS.sig            the site's Ed25519 signature over SHA256SUMS (64 bytes)
    site-key.pem              the site's public key (compare its fingerprint with the published one)
"""

import hashlib
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.alerts.audit import row_body
from sealguard.evidence import keys
from sealguard.schemas.alerts import StoredAlert, rfc3339
from sealguard.schemas.history import HistoryRow
from sealguard.store.incident import EvidenceEvent, Link, PartnerMessage
from sealguard.store.photos import PackedPhoto

FORMAT = "sealguard-incident/1"
MANIFEST, SIGNATURE, PUBLIC_KEY = "SHA256SUMS", "SHA256SUMS.sig", "site-key.pem"
UNSIGNED = frozenset({MANIFEST, SIGNATURE})  # every other file is in the manifest
_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Incident:
    """The facts of one alert, as the store holds them at the time of export."""

    alert: StoredAlert
    rule: dict[str, Any] | None
    events: list[EvidenceEvent]
    partner_messages: list[PartnerMessage]
    history: list[HistoryRow]
    links: list[Link]
    head: Link | None
    notifications: list[dict[str, Any]]
    plan: dict[str, Any] | None
    track: list[tuple[datetime, float, float]]
    checks: list[dict[str, Any]]  # the trip's inspections and seal checks (payloads)
    photos: list[PackedPhoto]
    generated_at: datetime
    generated_by: str
    site: str = "sealguard"
    links_truncated: bool = False


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _event_file(n: int, e: EvidenceEvent) -> str:
    return f"events/{n:02d}-{_SAFE.sub('_', e.event_id)[:80]}.json"


def _partner_file(m: PartnerMessage) -> str:
    return f"partner/{m.sha256}.{_SAFE.sub('_', m.format)[:20] or 'bin'}"


def _photo_file(p: PackedPhoto) -> str:
    return f"photos/{p.photo_id}.{_EXT.get(p.content_type, 'bin')}"


def history_file(seq: int) -> str:
    return f"history/{seq:08d}.json"


def document(incident: Incident, fingerprint: str) -> dict[str, Any]:
    """``incident.json``: the alert, its evidence (with where each file is), history, chain, notifications."""
    a = incident.alert
    partner_files = {m.sha256: _partner_file(m) for m in incident.partner_messages}
    events = []
    for n, e in enumerate(incident.events, start=1):
        original = e.original if e.original is not None else orjson.dumps(e.payload)
        events.append({
            "event_id": e.event_id, "kind": e.kind, "occurred_at": rfc3339(e.occurred_at),
            "received_at": rfc3339(e.received_at), "source": e.source, "file": _event_file(n, e),
            "sha256": sha256(original), "original_kept": e.original is not None,
            "partner": None if e.partner_sha256 is None else {
                "format": e.partner_format, "sha256": e.partner_sha256, "file": partner_files.get(e.partner_sha256)},
            "payload": e.payload,
        })  # fmt: skip
    return {
        "format": FORMAT,
        "generated_at": rfc3339(incident.generated_at),
        "generated_by": incident.generated_by,
        "site": incident.site,
        "site_key_fingerprint": fingerprint,
        "alert": a.document(),
        "rule": incident.rule,
        "events": events,
        "partner_messages": [
            {
                "sha256": m.sha256,
                "format": m.format,
                "received_at": rfc3339(m.received_at),
                "file": partner_files[m.sha256],
            }
            for m in incident.partner_messages
        ],
        "history": [
            {
                "chain_seq": r.chain_seq,
                "alert_id": r.alert_id,
                "action": r.action,
                "actor": r.actor,
                "note": r.note,
                "at": r.at,
                "detail": r.detail,
                "prev_hash": r.prev_hash,
                "hash": r.hash,
                "file": history_file(r.chain_seq),
            }
            for r in incident.history
        ],
        "chain": {
            "tenant": a.tenant,
            "file": "chain.json",
            "head": None
            if incident.head is None
            else {"chain_seq": incident.head.chain_seq, "hash": incident.head.hash},
            "truncated": incident.links_truncated,
        },
        "notifications": incident.notifications,
        "trip": {"trip_id": a.trip_id, "plan": incident.plan},
        "inspections": incident.checks,
        "photos": [
            {
                "photo_id": p.photo_id,
                "event_id": p.event_id,
                "subject": p.subject,
                "content_type": p.content_type,
                "bytes": p.size,
                "sha256": p.sha256,
                "location": p.location,
                "taken_by": p.taken_by,
                "uploaded_at": rfc3339(p.uploaded_at),
                "file": _photo_file(p) if p.data is not None else None,
            }
            for p in incident.photos
        ],
        "track": [[rfc3339(t), lat, lon] for t, lat, lon in incident.track],
    }


def chain_document(incident: Incident) -> dict[str, Any]:
    """``chain.json``: each link as ``[chain_seq, alert_id, prev_hash, hash]``, the alert's rows among them."""
    return {
        "tenant": incident.alert.tenant,
        "alert_id": incident.alert.alert_id,
        "links": [[k.chain_seq, k.alert_id, k.prev_hash, k.hash] for k in incident.links],
        "head": None if incident.head is None else [incident.head.chain_seq, incident.head.hash],
        "truncated": incident.links_truncated,
    }


def manifest(files: dict[str, bytes]) -> bytes:
    """``sha256sum`` lines (two spaces, the name), sorted by name."""
    return "".join(f"{sha256(files[name])}  {name}\n" for name in sorted(files)).encode()


def build(incident: Incident, key: Ed25519PrivateKey,
          render: Callable[[dict[str, Any], dict[str, bytes]], dict[str, bytes]]) -> bytes:  # fmt: skip
    """The package's zip. ``render`` makes the reports from the document and the evidence files (HTML and
    PDF), so this module stays free of layout."""
    fingerprint = keys.fingerprint(key)
    doc = document(incident, fingerprint)
    files: dict[str, bytes] = {}
    for e, listed in zip(incident.events, doc["events"], strict=True):
        files[listed["file"]] = e.original if e.original is not None else orjson.dumps(e.payload)
    for m, listed in zip(incident.partner_messages, doc["partner_messages"], strict=True):
        files[listed["file"]] = m.message
    for p, listed in zip(incident.photos, doc["photos"], strict=True):
        if p.data is not None:  # else listed with its SHA-256, not packed (past the photo budget)
            files[listed["file"]] = p.data
    for r in incident.history:
        files[history_file(r.chain_seq)] = row_body(r)
    files["chain.json"] = orjson.dumps(chain_document(incident), option=orjson.OPT_INDENT_2)
    files["incident.json"] = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
    files[PUBLIC_KEY] = keys.public_pem(key)
    files.update(render(doc, files))
    listed = manifest(files)
    files[MANIFEST] = listed
    files[SIGNATURE] = key.sign(listed)
    out = io.BytesIO()
    stamp = incident.generated_at.astimezone(UTC).timetuple()[:6]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):  # one order and one time: the same facts give the same bytes
            info = zipfile.ZipInfo(name, date_time=(max(stamp[0], 1980), *stamp[1:]))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, files[name])
    return out.getvalue()
