"""DCSA Track & Trace 2.2 and 3.0: the events a carrier's publisher POSTs to a subscriber. Pure.

2.2 sends a JSON array of events; 3.0 sends ``{"events": [...]}`` (``PostEventsRequest``). A message is
taken whole or refused whole, with every problem named by its JSONPath (the publisher fixes and sends it
again): structure, date-times, identifiers and attribute values (UN/LOCODE countries, ISO 6346 check
digits, the code lists) are checked as DCSA's conformance suite does.

Mapping (only ``ACT`` events change anything; ``EST``/``PLN``/``REQ`` are forecasts and requests):

- ``INSP`` (seal inspected): a ``seal.verified`` of each seal, steps and seal taken as passed (T&T
  carries no step detail; a broken seal is reported as ``RMVD``);
- ``RMVD`` (seal removed): a ``seal.removed``, ``government_inspection`` with the authority's reference
  when the event carries a customs clearance or inspection certificate document (3.0 ``CUC``/``ICE``),
  otherwise ``carrier_inspection`` (T&T 2.2 has no place for an authority);
- ``RSEA`` (resealed): a ``seal.affixed`` of each new seal; class ``H`` for bolt seals (ISO 17712 bolts
  are what containers carry), ``S`` for wire and ``I`` for padlocks, which T&T's seal types imply;
- IoT ``DRO`` (door opened): a ``seal.alarm`` ``opened`` of each seal named (else of the device's seal);
  ``DRC`` (door closed) has nothing to judge;
- any event with coordinates for a container: a ``gps.position`` (a UN/LOCODE alone is not a position);
- ``isRetracted``: skipped (sealguard's log is append-only evidence: what was judged stays, and people
  resolve an alert raised from a retracted event).

The device is ``dcsa:{equipmentReference}``; the container number itself is the conveyance when the
device has no binding.
"""

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import orjson

from sealguard.schemas.foreign.common import (
    MAX_ITEMS,
    Mapped,
    Translation,
    decimal_text,
    foreign,
    iso,
    position_ok,
    rfc3339,
)
from sealguard.schemas.foreign.common import stable_id as _stable
from sealguard.schemas.foreign.countries import COUNTRIES
from sealguard.schemas.iso6346 import check_digit, looks_like_container_number

SKEW = timedelta(minutes=5)
REMOVAL_TO_RESEAL = timedelta(hours=2)  # criteria.md's SEAL-008 window
_LOCODE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")
CLASSIFIERS = {"PLN", "ACT", "REQ", "EST"}
EQUIPMENT_CODES = {"LOAD", "DISC", "GTIN", "GTOT", "STUF", "STRP", "PICK", "DROP", "INSP", "RSEA", "RMVD"}
TRANSPORT_CODES = {"ARRI", "DEPA"}
SHIPMENT_CODES = {
    "RECE",
    "DRFT",
    "PENA",
    "PENU",
    "REJE",
    "APPR",
    "ISSU",
    "SURR",
    "SUBM",
    "VOID",
    "CONF",
    "REQS",
    "CMPL",
    "HOLD",
    "RELS",
}
DOCUMENT_TYPES_22 = {"CBR", "BKG", "SHI", "SRM", "TRD", "ARN", "VGM", "CAS", "CUS", "DGD", "OOG"}
SEAL_SOURCES = {"CAR", "SHI", "PHY", "VET", "CUS", "CNS", "CST", "TER"}
SEAL_TYPES = {"KLP": ("I", "other"), "BLT": ("H", "bolt"), "WIR": ("S", "cable")}
AUTHORITY_DOCUMENTS = {"CUC", "ICE"}
AUTHORITY_SOURCES = {"CUS", "PHY", "VET"}  # seal sources that are authorities: customs, phytosanitary, veterinary
# Every property of a T&T 2.2 shipment, transport or equipment event (TNT_v2.2.0-resolved.yaml).
PROPERTIES_22 = {
    "ISOEquipmentCode",
    "changeRemark",
    "delayReasonCode",
    "documentID",
    "documentReferences",
    "documentTypeCode",
    "emptyIndicatorCode",
    "equipmentEventTypeCode",
    "equipmentReference",
    "eventClassifierCode",
    "eventCreatedDateTime",
    "eventDateTime",
    "eventID",
    "eventLocation",
    "eventType",
    "eventTypeCode",
    "reason",
    "references",
    "seals",
    "shipmentEventTypeCode",
    "shipmentID",
    "shipmentInformationTypeCode",
    "transportCall",
    "transportCallID",
    "transportEventTypeCode",
    "vesselScheduleChangeRemark",
}
SEAL_CODES = {"INSP", "RMVD", "RSEA"}


class _Checked:
    """One event read into the fields the mapping needs, with each problem noted on the way."""

    def __init__(self, out: Translation, path: str) -> None:
        self.out, self.path, self.ok = out, path, True

    def bad(self, where: str, reason: str) -> None:
        self.out.reject(f"{self.path}.{where}" if where else self.path, reason)
        self.ok = False


def from_events(body: bytes, *, now: datetime, max_items: int = MAX_ITEMS) -> tuple[str, Translation]:
    """``(version, translation)`` of a POSTed message: ``2.2`` for an array, ``3.0`` for
    ``{"events": [...]}``."""
    out = Translation()
    try:
        msg = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        out.reject("$", f"not valid JSON: {exc}")
        return "?", out
    if isinstance(msg, list):
        version, events, prefix = "2.2", msg, "$"
    elif isinstance(msg, dict) and isinstance(msg.get("events"), list):
        version, events, prefix = "3.0", msg["events"], "$.events"
    else:
        keys = ", ".join(sorted(msg)[:5]) if isinstance(msg, dict) else type(msg).__name__
        out.reject("$", f"expected an array of events (T&T 2.2) or an object with an 'events' array (3.0); got {keys}")
        return "?", out
    if not events:
        out.reject(prefix, "no events")
    if out.too_many(events, prefix, max_items):
        return version, out
    seen: dict[str, int] = {}
    for i, event in enumerate(events):
        path = f"{prefix}[{i}]"
        if not isinstance(event, dict):
            out.reject(path, "an event must be an object")
            continue
        eid = event.get("eventID")
        if isinstance(eid, str) and eid in seen:
            out.reject(f"{path}.eventID", f"{eid} is also the eventID of {prefix}[{seen[eid]}]: event ids are unique")
        elif isinstance(eid, str):
            seen[eid] = i
        if version == "2.2":
            _event_22(out, event, path, now)
        else:
            _event_30(out, event, path, now)
    _removed_by_the_authority(out)
    return version, out


def _removed_by_the_authority(out: Translation) -> None:
    """T&T 2.2 cannot say who removed a seal, but it says who affixed the next: a removal (``RMVD``)
    followed in the same message, on the same container, within two hours, by a reseal whose new seal an
    authority affixed (``RSEA``, ``sealSource`` CUS, PHY or VET) was that authority's inspection. It is
    read as one (``government_inspection``, the reseal as its reference), as the authority's own seal is."""
    reseals = [(m.device, m.event["occurred_at"], m.event["authority_ref"]) for m in out.mapped
               if m.event.get("kind") == "seal.affixed" and m.event.get("authority_ref")]  # fmt: skip
    if not reseals:
        return
    for m in out.mapped:
        e = m.event
        if e.get("kind") != "seal.removed" or e.get("reason") != "carrier_inspection":
            continue
        removed = datetime.fromisoformat(e["occurred_at"])
        for device, at, ref in reseals:
            if device == m.device and timedelta(0) <= datetime.fromisoformat(at) - removed <= REMOVAL_TO_RESEAL:
                e["reason"], e["authority_ref"] = "government_inspection", f"reseal: {ref}"[:128]
                break


# --- 2.2 -----------------------------------------------------------------------------------------------


def _event_22(out: Translation, e: dict[str, Any], path: str, now: datetime) -> None:
    c = _Checked(out, path)
    eid = _event_id(c, e.get("eventID"), uuid_required=True)
    etype = e.get("eventType")
    if etype not in ("SHIPMENT", "TRANSPORT", "EQUIPMENT"):
        c.bad("eventType", f"must be SHIPMENT, TRANSPORT or EQUIPMENT; got {_shown(etype)}")
    classifier = _code(c, e, "eventClassifierCode", CLASSIFIERS)
    unknown = sorted(set(e) - PROPERTIES_22)
    if unknown:
        c.bad("", f"not properties of a T&T 2.2 event: {', '.join(unknown[:5])}")
    at = _when(c, e, "eventDateTime", now)
    created = _when(c, e, "eventCreatedDateTime", now)
    if at and created and classifier == "ACT" and created < at - SKEW:
        c.bad(
            "eventCreatedDateTime",
            f"{iso(created)} is before eventDateTime {iso(at)}: an actual event cannot be recorded before it happened",
        )
    refs: list[str] = []
    code = None
    if etype == "TRANSPORT":
        code = _code(c, e, "transportEventTypeCode", TRANSPORT_CODES)
        call = e.get("transportCall")
        if not isinstance(call, dict):
            c.bad("transportCall", "required for a transport event")
        else:
            _call(c, call, "transportCall")
        refs = [
            str(r["referenceValue"])
            for r in e.get("references") or []
            if isinstance(r, dict) and r.get("referenceType") == "EQ" and isinstance(r.get("referenceValue"), str)
        ]
    elif etype == "EQUIPMENT":
        code = _code(c, e, "equipmentEventTypeCode", EQUIPMENT_CODES)
        ref = _equipment(c, e.get("equipmentReference"), "equipmentReference")
        refs = [ref] if ref else []
        _location(c, e.get("eventLocation"), "eventLocation")
        if isinstance(e.get("transportCall"), dict):
            _call(c, e["transportCall"], "transportCall")
    elif etype == "SHIPMENT":
        _code(c, e, "shipmentEventTypeCode", SHIPMENT_CODES)
        _code(c, e, "documentTypeCode", DOCUMENT_TYPES_22)
        if not isinstance(e.get("documentID"), str) or not e.get("documentID"):
            c.bad("documentID", "required for a shipment event")
    seals = _seals(c, e.get("seals"), "seals", number="sealNumber", source="sealSource", kind="sealType")
    if code in SEAL_CODES and classifier == "ACT" and not seals and c.ok:
        c.bad("seals", f"{code} (a seal event) names no seal")
    if not c.ok or eid is None or at is None:
        return
    carrier: dict[str, Any] = e["transportCall"] if isinstance(e.get("transportCall"), dict) else {}
    location = e.get("eventLocation") if etype == "EQUIPMENT" else carrier.get("location")
    _map(out, path, e, eid, classifier, etype, code, refs, seals, _coordinates(location), at, authority=None)


# --- 3.0 -----------------------------------------------------------------------------------------------


def _event_30(out: Translation, e: dict[str, Any], path: str, now: datetime) -> None:
    c = _Checked(out, path)
    eid = _event_id(c, e.get("eventID"), uuid_required=False)
    if e.get("isRetracted") is True:
        if eid is not None:
            out.skip(path, f"event {eid} is retracted: sealguard keeps what it already judged of it")
        return
    at = _when(c, e, "eventDateTime", now)
    _when(c, e, "eventUpdatedDateTime", now)
    cls = e.get("eventClassification")
    if not isinstance(cls, dict):
        c.bad("eventClassification", "required: an object with eventTypeCode and eventClassifierCode")
        return
    etype = cls.get("eventTypeCode")
    if etype not in ("SHIPMENT", "TRANSPORT", "EQUIPMENT", "IOT", "REEFER"):
        c.bad(
            "eventClassification.eventTypeCode",
            f"must be SHIPMENT, TRANSPORT, EQUIPMENT, IOT or REEFER; got {_shown(etype)}",
        )
    classifier = _code(c, cls, "eventClassifierCode", CLASSIFIERS, "eventClassification.")
    code = None
    if etype == "EQUIPMENT":
        code = _code(c, cls, "equipmentEventTypeCode", EQUIPMENT_CODES, "eventClassification.")
    elif etype == "TRANSPORT":
        code = _code(c, cls, "transportEventTypeCode", TRANSPORT_CODES, "eventClassification.")
    elif etype == "IOT":
        details = e.get("iotDetails")
        code = details.get("iotEventCode") if isinstance(details, dict) else None
        code = code if isinstance(code, str) else None
        if not isinstance(code, str):
            c.bad("iotDetails.iotEventCode", "required for an IoT event")
    _location(c, e.get("eventLocation"), "eventLocation")
    equipment: dict[str, Any] = e["equipmentDetails"] if isinstance(e.get("equipmentDetails"), dict) else {}
    ref = _equipment(c, equipment.get("equipmentReference"), "equipmentDetails.equipmentReference")
    seals = _seals(c, equipment.get("seals"), "equipmentDetails.seals", number="number", source="source", kind="type")
    if code in SEAL_CODES and classifier == "ACT" and not seals and c.ok:
        c.bad("equipmentDetails.seals", f"{code} (a seal event) names no seal")
    if not c.ok or eid is None or at is None:
        return
    _map(
        out,
        path,
        e,
        eid,
        classifier,
        etype,
        code,
        [ref] if ref else [],
        seals,
        _coordinates(e.get("eventLocation")),
        at,
        authority=_authority(e),
    )


def _authority(e: dict[str, Any]) -> str | None:
    details: dict[str, Any] = e["shipmentDetails"] if isinstance(e.get("shipmentDetails"), dict) else {}
    docs = [details.get("documentReference"), *(details.get("additionalDocumentReferences") or [])]
    for d in docs:
        if isinstance(d, dict) and d.get("typeCode") in AUTHORITY_DOCUMENTS and isinstance(d.get("reference"), str):
            return f"{d['typeCode']} {d['reference']}"[:128]
    return None


# --- checks --------------------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    return repr(value)[:60] if value is not None else "nothing"


def _event_id(c: _Checked, value: Any, *, uuid_required: bool) -> str | None:
    if value is None:
        c.bad("eventID", "missing")
        return None
    if not isinstance(value, str) or not value or len(value) > 500:
        c.bad("eventID", f"must be a string of 1-500 characters; got {_shown(value)}")
        return None
    if uuid_required:
        try:
            uuid.UUID(value)
        except ValueError:
            c.bad("eventID", f"must be a UUID in T&T 2.2; got {_shown(value)}")
            return None
    return value


def _code(c: _Checked, obj: dict[str, Any], name: str, allowed: set[str], prefix: str = "") -> str | None:
    value = obj.get(name)
    if value not in allowed:
        c.bad(prefix + name, f"must be one of {', '.join(sorted(allowed))}; got {_shown(value)}")
        return None
    return str(value)


def _when(c: _Checked, e: dict[str, Any], name: str, now: datetime) -> datetime | None:
    value = e.get(name)
    if value is None:
        c.bad(name, "missing")
        return None
    at = rfc3339(value)
    if at is None:
        c.bad(name, f"not an RFC 3339 date-time with an offset (e.g. 2021-01-09T14:12:56Z); got {_shown(value)}")
        return None
    if at > now + SKEW:
        c.bad(name, f"{iso(at)} is in the future")
        return None
    return at


def _locode(c: _Checked, value: Any, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not _LOCODE.match(value):
        c.bad(where, f"not a UN/LOCODE (two letters of country, three of place); got {_shown(value)}")
    elif value[:2] not in COUNTRIES:
        c.bad(where, f"{value}: {value[:2]} is not an ISO 3166 country code")


def _location(c: _Checked, loc: Any, where: str) -> None:
    if loc is None:
        return
    if not isinstance(loc, dict):
        c.bad(where, "must be an object")
        return
    _locode(c, loc.get("UNLocationCode"), f"{where}.UNLocationCode")
    geo: dict[str, Any] = loc["geoCoordinate"] if isinstance(loc.get("geoCoordinate"), dict) else loc
    if "latitude" in geo or "longitude" in geo:
        lat, lon = decimal_text(geo.get("latitude")), decimal_text(geo.get("longitude"))
        if not position_ok(lat, lon):
            c.bad(where, "latitude and longitude must be decimal degrees within ±90 and ±180")


def _call(c: _Checked, call: dict[str, Any], where: str) -> None:
    _locode(c, call.get("UNLocationCode"), f"{where}.UNLocationCode")
    loc = call.get("location")
    _location(c, loc, f"{where}.location")
    outer = call.get("UNLocationCode")
    inner = loc.get("UNLocationCode") if isinstance(loc, dict) else None
    if isinstance(outer, str) and isinstance(inner, str) and outer != inner:
        c.bad(f"{where}.location.UNLocationCode", f"{inner} contradicts the transport call's UNLocationCode {outer}")


def _equipment(c: _Checked, value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 11:
        c.bad(where, f"must be a string of at most 11 characters; got {_shown(value)}")
        return None
    if looks_like_container_number(value):
        expected = check_digit(value[:10])
        if int(value[10]) != expected:
            c.bad(where, f"{value}: the ISO 6346 check digit should be {expected}")
            return None
    return value


def _seals(c: _Checked, value: Any, where: str, *, number: str, source: str,
           kind: str) -> list[tuple[str, str, str]]:  # fmt: skip
    """``(number, DCSA seal type, DCSA seal source)`` of each seal."""
    if value is None:
        return []
    if not isinstance(value, list):
        c.bad(where, "must be an array")
        return []
    seals = []
    for i, s in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(s, dict) or not isinstance(s.get(number), str) or not 0 < len(s[number]) <= 15:
            c.bad(f"{at}.{number}", "required: the seal number, 1-15 characters")
            continue
        if s.get(source) is not None and s[source] not in SEAL_SOURCES:
            c.bad(f"{at}.{source}", f"must be one of {', '.join(sorted(SEAL_SOURCES))}; got {_shown(s[source])}")
        if s.get(kind) is not None and s[kind] not in SEAL_TYPES:
            c.bad(f"{at}.{kind}", f"must be one of {', '.join(sorted(SEAL_TYPES))}; got {_shown(s[kind])}")
        seals.append((s[number], str(s.get(kind) or ""), str(s.get(source) or "")))
    return seals


def _coordinates(loc: Any) -> tuple[float, float] | None:
    if not isinstance(loc, dict):
        return None
    geo: dict[str, Any] = loc["geoCoordinate"] if isinstance(loc.get("geoCoordinate"), dict) else loc
    lat, lon = decimal_text(geo.get("latitude")), decimal_text(geo.get("longitude"))
    return (lat, lon) if position_ok(lat, lon) and lat is not None and lon is not None else None


# --- mapping -------------------------------------------------------------------------------------------


def _map(
    out: Translation,
    path: str,
    e: dict[str, Any],
    eid: str,
    classifier: str | None,
    etype: Any,
    code: str | None,
    refs: list[str],
    seals: list[tuple[str, str, str]],
    where: tuple[float, float] | None,
    at: datetime,
    *,
    authority: str | None,
) -> None:
    if classifier != "ACT":
        out.skip(path, f"{classifier} is a forecast or request: only actual (ACT) events change state")
        return
    if not refs:
        out.skip(path, f"{etype} event names no equipment (container): nothing to monitor")
        return
    base = {"occurred_at": iso(at), "foreign": foreign("dcsa", e)}
    point = {"lat": where[0], "lon": where[1]} if where else {}
    mapped_any = False
    for ref in refs:
        device, src = f"dcsa:{ref}", {"device_id": f"dcsa:{ref}"}
        if where is not None:
            out.mapped.append(
                Mapped(
                    device,
                    {
                        **base,
                        "event_id": _stable("dcsa", eid, ref, "position"),
                        "kind": "gps.position",
                        **point,
                        "source": src,
                    },
                    direct=ref,
                )
            )
            mapped_any = True
        for index, (number, seal_type, seal_source) in enumerate(seals if code in SEAL_CODES else []):
            event: dict[str, Any] = {
                **base,
                # by position, not by number: an update of the event (same eventID) naming another seal is
                # the same event, already judged, not a second removal
                "event_id": _stable("dcsa", eid, ref, "seal", index),
                "seal_number": number,
                "source": src,
            }
            if code == "INSP":
                event |= {
                    "kind": "seal.verified",
                    "intact": True,
                    "steps": {"view": True, "verify": True, "tug": True, "twist_turn": True},
                }
            elif code == "RMVD":
                event |= {
                    "kind": "seal.removed",
                    "reason": "government_inspection" if authority else "carrier_inspection",
                }
                if authority:
                    event["authority_ref"] = authority
            else:  # RSEA
                seal_class, kind = SEAL_TYPES.get(seal_type, ("H", "other"))
                event |= {"kind": "seal.affixed", "seal_class": seal_class, "seal_type": kind}
                if seal_source in AUTHORITY_SOURCES:  # the authority put its own seal on: a documented reseal
                    event["authority_ref"] = f"DCSA sealSource {seal_source}, event {eid}"[:128]
            out.mapped.append(Mapped(device, event, direct=ref))
            mapped_any = True
        if etype == "IOT" and code == "DRO":
            for index, (number, _, _) in enumerate(seals or [(ref, "", "")]):
                out.mapped.append(
                    Mapped(
                        device,
                        {
                            **base,
                            "event_id": _stable("dcsa", eid, ref, "DRO", index),
                            "kind": "seal.alarm",
                            "seal_number": number,
                            "alarm": "opened",
                            **point,
                            "source": src,
                        },
                        seal_from_device=not seals,
                        direct=ref,
                    )
                )
            mapped_any = True
    if not mapped_any:
        out.skip(path, f"{etype} {code}: no seal event and no coordinates to map")
