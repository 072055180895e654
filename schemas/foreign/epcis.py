"""GS1 EPCIS 2.0 (JSON / JSON-LD): the capture of an ``EPCISDocument`` (or of one event). Pure.

CBV 2.0 has no sealing step and no seal-number field: a container is sealed when an event gives it the
disposition ``container_closed`` and found open with ``container_open``. So, for each EPC of an
``ObjectEvent``:

- ``bizStep`` ``inspecting``: a ``seal.verified``: intact with ``container_closed``/``conformant``, broken
  (``intact`` false) with ``container_open``/``damaged``/``non_conformant``/``needs_replacement``;
- otherwise ``container_closed``: a ``seal.affixed`` (class and type from the event's ``sealClass`` /
  ``sealType`` extension fields; without them ``H`` and ``other``: CTPAT requires high-security seals,
  and the dock's own affix event, when there is one, says more); ``container_open``: a ``seal.removed``,
  ``delivered`` when the step is a receiving one (``receiving``, ``unloading``, ``arriving``,
  ``accepting``), else ``other``;
- a sensor report with ``exception`` ``ALARM_CONDITION``: a ``seal.alarm`` ``tamper``;
- a ``geo:`` read point, or latitude and longitude sensor reports: a ``gps.position``.

The seal number is the event's ``sealNumber`` extension field (any namespace prefix) when given, else the
device's (its binding's seal number, else the EPC). A BIC container EPC (``urn:epc:id:bic:...``) is its
own conveyance when it has no binding; any other EPC (a seal's, an e-lock's) needs one. An event with
``errorDeclaration`` is skipped: what was judged stays as evidence, and people resolve an alert raised
from an event declared erroneous. Event ids: the event's ``eventID``, else a SHA-256 of its canonical
JSON (not the CBV event-hash algorithm, whose canonical form needs the JSON-LD context).
"""

import re
from datetime import datetime, timedelta
from typing import Any

import orjson

from sealguard.schemas.foreign.common import (
    MAX_ITEMS,
    Mapped,
    Translation,
    content_id,
    foreign,
    iso,
    number,
    position_ok,
    rfc3339,
    stable_id,
)

SKEW = timedelta(minutes=5)
EVENT_TYPES = {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}
ACTIONS = {"ADD", "OBSERVE", "DELETE"}
INTACT = {"container_closed", "conformant"}
BROKEN = {"container_open", "damaged", "non_conformant", "needs_replacement"}
RECEIVING = {"receiving", "unloading", "arriving", "accepting"}
_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")
_GEO = re.compile(r"^geo:(-?\d{1,2}(?:\.\d+)?),(-?\d{1,3}(?:\.\d+)?)(?:,-?\d+(?:\.\d+)?)?(?:;.*)?$")
_PREFIXES = (
    "urn:epcglobal:cbv:bizstep:",
    "urn:epcglobal:cbv:disp:",
    "https://ref.gs1.org/cbv/BizStep-",
    "https://ref.gs1.org/cbv/Disp-",
    "cbv:BizStep-",
    "cbv:Disp-",
    "gs1:",
)


def from_document(body: bytes, *, now: datetime, max_items: int = MAX_ITEMS) -> Translation:
    out = Translation()
    try:
        msg = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        out.reject("$", f"not valid JSON: {exc}")
        return out
    if not isinstance(msg, dict):
        out.reject("$", "expected an EPCISDocument (or one EPCIS event) as a JSON object")
        return out
    if msg.get("type") in EVENT_TYPES:
        events, prefix = [msg], "$"
    elif msg.get("type") == "EPCISDocument":
        if str(msg.get("schemaVersion")) not in ("2.0", "2.0.0"):
            out.reject("$.schemaVersion", f"EPCIS 2.0 documents only; got {msg.get('schemaVersion')!r}")
            return out
        if rfc3339(msg.get("creationDate")) is None:
            out.reject("$.creationDate", "required: an RFC 3339 date-time with an offset")
        body_ = msg.get("epcisBody")
        listed = body_.get("eventList") if isinstance(body_, dict) else None
        if not isinstance(listed, list):
            out.reject("$.epcisBody.eventList", "required: the document's array of events")
            return out
        events = listed
        prefix = "$.epcisBody.eventList"
    else:
        out.reject("$.type", f"expected EPCISDocument or an EPCIS event type; got {msg.get('type')!r}")
        return out
    if out.too_many(events, prefix, max_items):
        return out
    for i, event in enumerate(events):
        _event(out, event, prefix if prefix == "$" else f"{prefix}[{i}]", now)
    return out


def _local(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    for p in _PREFIXES:
        if value.startswith(p):
            return value[len(p) :]
    return value


def _extension(e: dict[str, Any], name: str) -> Any:
    """An extension field by its local name, whatever its namespace prefix (``example:sealNumber``)."""
    for key, value in e.items():
        if key == name or key.endswith(":" + name):
            return value
    return None


def _event(out: Translation, e: Any, path: str, now: datetime) -> None:
    if not isinstance(e, dict):
        out.reject(path, "an event must be an object")
        return
    kind = e.get("type")
    if kind not in EVENT_TYPES:
        out.reject(f"{path}.type", f"must be one of {', '.join(sorted(EVENT_TYPES))}; got {kind!r}")
        return
    at = rfc3339(e.get("eventTime"))
    problems = []
    if at is None:
        problems.append(("eventTime", "required: an RFC 3339 date-time with an offset"))
    elif at > now + SKEW:
        problems.append(("eventTime", f"{iso(at)} is in the future"))
    if not isinstance(e.get("eventTimeZoneOffset"), str) or not _OFFSET.match(e["eventTimeZoneOffset"]):
        problems.append(("eventTimeZoneOffset", "required: the offset where it happened, as +hh:mm or -hh:mm"))
    if kind == "ObjectEvent" and e.get("action") not in ACTIONS:
        problems.append(("action", f"must be ADD, OBSERVE or DELETE; got {e.get('action')!r}"))
    epcs = e.get("epcList", [])
    if not isinstance(epcs, list) or not all(isinstance(x, str) and 0 < len(x) <= 200 for x in epcs):
        problems.append(("epcList", "must be an array of EPC URIs"))
        epcs = []
    for where, reason in problems:
        out.reject(f"{path}.{where}", reason)
    if problems or at is None:
        return
    declared = e.get("errorDeclaration")
    if isinstance(declared, dict):
        out.skip(
            path,
            f"error declaration ({declared.get('reason') or 'no reason given'}, declared"
            f" {declared.get('declarationTime')}): sealguard keeps what it judged of the original",
        )
        return
    if kind != "ObjectEvent":
        out.skip(path, f"{kind}: only ObjectEvents carry container dispositions and sensor alarms here")
        return
    if not epcs:
        out.skip(f"{path}.epcList", "names no object (EPC): nothing to monitor")
        return
    eid = e.get("eventID")
    key = eid if isinstance(eid, str) and eid else content_id("epcis", e, ignore=("recordTime",)).split(":", 1)[1]
    step, disposition = _local(e.get("bizStep")), _local(e.get("disposition"))
    seal_ext = _extension(e, "sealNumber")
    seals = [seal_ext] if isinstance(seal_ext, str) else [s for s in seal_ext or [] if isinstance(s, str)]
    position = _position(e)
    alarm = _alarm(e)
    common = {"occurred_at": iso(at), "foreign": foreign("epcis", e)}
    mapped = False
    for epc in epcs:
        device = f"epc:{epc}"
        direct = epc.removeprefix("urn:epc:id:bic:") if epc.startswith("urn:epc:id:bic:") else None
        src = {"device_id": device}
        if position is not None:
            out.mapped.append(
                Mapped(
                    device,
                    {
                        **common,
                        "event_id": stable_id("epcis", key, epc, "position"),
                        "kind": "gps.position",
                        "lat": position[0],
                        "lon": position[1],
                        "source": src,
                    },
                    direct=direct,
                )
            )
            mapped = True
        point = {"lat": position[0], "lon": position[1]} if position else {}
        seal_options: list[str | None] = [*seals] or [None]
        for seal in seal_options:
            number_ = seal or epc
            seal_event: dict[str, Any] | None = None
            if step == "inspecting" and disposition in INTACT | BROKEN:
                seal_event = {
                    "kind": "seal.verified",
                    "intact": disposition in INTACT,
                    "steps": {"view": True, "verify": True, "tug": True, "twist_turn": True},
                }
            elif disposition == "container_closed":
                seal_class, seal_type = _extension(e, "sealClass"), _extension(e, "sealType")
                seal_event = {
                    "kind": "seal.affixed",
                    "seal_class": seal_class if seal_class in ("H", "S", "I") else "H",
                    "seal_type": seal_type
                    if seal_type in ("bolt", "cable", "bar", "electronic", "indicative", "other")
                    else "other",
                }
            elif disposition == "container_open":
                seal_event = {"kind": "seal.removed", "reason": "delivered" if step in RECEIVING else "other"}
            for ev in [seal_event, {"kind": "seal.alarm", "alarm": "tamper", **point} if alarm else None]:
                if ev is None:
                    continue
                suffix = "alarm" if ev["kind"] == "seal.alarm" else "seal"
                out.mapped.append(
                    Mapped(
                        device,
                        {
                            **common,
                            **ev,
                            "event_id": stable_id("epcis", key, epc, number_, suffix),
                            "seal_number": number_,
                            "source": src,
                        },
                        seal_from_device=seal is None,
                        direct=direct,
                    )
                )
                mapped = True
    if not mapped:
        out.skip(path, f"bizStep {step!r}, disposition {disposition!r}: no seal meaning and no position")


def _position(e: dict[str, Any]) -> tuple[float, float] | None:
    for holder in ("readPoint", "bizLocation"):
        loc = e.get(holder)
        match = _GEO.match(loc.get("id", "")) if isinstance(loc, dict) and isinstance(loc.get("id"), str) else None
        if match:
            glat, glon = float(match.group(1)), float(match.group(2))
            if position_ok(glat, glon):
                return glat, glon
    lat: float | None = None
    lon: float | None = None
    for report in _reports(e):
        kind = str(_local(report.get("type")) or "")
        if kind.endswith("Latitude"):
            lat = number(report.get("value"))
        elif kind.endswith("Longitude"):
            lon = number(report.get("value"))
    return (lat, lon) if position_ok(lat, lon) and lat is not None and lon is not None else None


def _alarm(e: dict[str, Any]) -> bool:
    return any(report.get("exception") == "ALARM_CONDITION" for report in _reports(e))


def _reports(e: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for element in e.get("sensorElementList") or []:
        if isinstance(element, dict):
            out += [r for r in element.get("sensorReport") or [] if isinstance(r, dict)]
    return out
