"""Traccar: the JSON bodies of its position and event forwarding, and the OsmAnd protocol its phone
clients speak. Pure: a body or query in, contract events (naming the device ``traccar:{uniqueId}``) out.

Traccar decodes 200+ device protocols and forwards each position as ``{"position", "device"}``
(``forward.url``) and each event as ``{"event", "position"?, "device", "geofence"?, ...}``
(``event.forward.url``). Speeds are knots (Traccar's unit); times are ISO 8601 with an offset.

Seal and lock events: the alarms ``tampering`` and ``removing`` are a tamper, ``door`` and ``unlock`` an
opening (``seal.alarm``); a position that carries a lock state (``lock``) with a battery level
(``batteryLevel``), as e-lock decoders set them, is also a ``seal.heartbeat`` of the lock. ``lock`` as an
alarm (the lock closed) has nothing to judge. The seal is the device itself unless its binding names
the seal number. An alarm arriving both in a forwarded position and as a forwarded event has the same
event id (the position's id and the alarm name), so it is stored once.
"""

import math
from typing import Any

import orjson

from sealguard.schemas.foreign.common import (
    Mapped,
    Translation,
    content_id,
    converted,
    epoch,
    fix,
    foreign,
    iso,
    number,
    position_ok,
    rfc3339,
    stable_id,
)

KNOT_KPH = 1.852
SEAL_ALARMS = {"tampering": "tamper", "removing": "tamper", "door": "opened", "unlock": "opened"}


def from_forward(body: bytes) -> Translation:
    """A body of Traccar's position or event forwarding."""
    out = Translation()
    try:
        msg = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        out.reject("$", f"not valid JSON: {exc}")
        return out
    if not isinstance(msg, dict) or not ("position" in msg or "event" in msg):
        out.reject("$", "expected Traccar's forwarding body: an object with 'position' or 'event', and 'device'")
        return out
    device = msg.get("device")
    unique = device.get("uniqueId") if isinstance(device, dict) else None
    if not isinstance(unique, str) or not unique or len(unique) > 100:
        out.reject("$.device.uniqueId", "missing: the device's unique id names it (and its binding)")
        return out
    name = f"traccar:{unique}"
    position = msg.get("position")
    if position is not None and not isinstance(position, dict):
        out.reject("$.position", "must be an object")
        return out
    event = msg.get("event")
    if event is not None:
        _event(out, name, unique, event, position, msg)
    elif position is not None:
        _position(out, name, unique, position, msg)
    return out


def _position(out: Translation, name: str, unique: str, p: dict[str, Any], msg: Any) -> None:
    at = rfc3339(p.get("fixTime")) or rfc3339(p.get("deviceTime"))
    if at is None:
        out.reject("$.position.fixTime", "missing or not an ISO 8601 date-time with an offset")
        return
    lat, lon = number(p.get("latitude")), number(p.get("longitude"))
    if not position_ok(lat, lon):
        out.reject("$.position", "latitude and longitude must be numbers within ±90 and ±180")
        return
    ref = ("p", p["id"]) if isinstance(p.get("id"), int) and not isinstance(p.get("id"), bool) else None
    base = stable_id("traccar", unique, *ref) if ref else content_id("traccar", p)
    attributes: dict[str, Any] = p["attributes"] if isinstance(p.get("attributes"), dict) else {}
    if p.get("outdated") is True:
        out.skip("$.position", "outdated: Traccar re-sent the last known position, not a new fix")
    elif p.get("valid") is False:
        out.skip("$.position", "not a valid GPS fix (the device had no satellite fix)")
    else:
        assert lat is not None and lon is not None
        speed = number(p.get("speed"))
        out.mapped.append(
            Mapped(
                name,
                fix(
                    base,
                    at,
                    lat,
                    lon,
                    name,
                    foreign("traccar", msg),
                    speed_kph=None if speed is None else converted(speed, KNOT_KPH),
                    heading=number(p.get("course")),
                    accuracy_m=number(p.get("accuracy")),
                ),
            )
        )
    where = {"lat": lat, "lon": lon} if p.get("valid") is not False else {}
    for alarm in _alarms(attributes.get("alarm")):
        _alarm(
            out,
            name,
            alarm,
            stable_id("traccar", unique, *(ref or (base,)), "alarm", alarm),
            at,
            where,
            msg,
            "$.position.attributes.alarm",
        )
    _locks(out, name, unique, ref or (base,), at, where, attributes, msg)
    lock, battery = attributes.get("lock"), number(attributes.get("batteryLevel"))
    if isinstance(lock, bool) and battery is not None:
        out.mapped.append(
            Mapped(
                name,
                {
                    "event_id": stable_id("traccar", unique, *(ref or (base,)), "lock"),
                    "kind": "seal.heartbeat",
                    "occurred_at": iso(at),
                    "seal_number": unique,
                    "battery_pct": min(100.0, max(0.0, battery)),
                    "locked": lock,
                    **where,
                    "source": {"device_id": name},
                    "foreign": foreign("traccar", msg),
                },
                seal_from_device=True,
            )
        )


def _locks(out: Translation, name: str, unique: str, ref: tuple[Any, ...], at: Any, where: dict[str, Any],
           attributes: dict[str, Any], msg: Any) -> None:  # fmt: skip
    """Multi-lock e-seals (one tracker, several locks): Traccar's decoders report lock *i* as ``lock{i}Id``,
    ``lock{i}Locked`` (or ``lock{i}Seal``) and ``lock{i}Battery``. Each lock is a seal of its own, named by
    its id: a heartbeat of it when the battery is a percentage; a battery in volts (some decoders) gives
    no percentage, and the lock's state is kept in the stored message only."""
    for i in range(1, 17):
        lock_id = attributes.get(f"lock{i}Id")
        if not isinstance(lock_id, str | int) or isinstance(lock_id, bool) or not str(lock_id).strip():
            break
        state = attributes.get(f"lock{i}Locked", attributes.get(f"lock{i}Seal"))
        battery = attributes.get(f"lock{i}Battery")
        path = f"$.position.attributes.lock{i}"
        if not isinstance(state, bool):
            out.skip(path, f"lock {lock_id}: no locked state reported")
            continue
        if not isinstance(battery, int) or isinstance(battery, bool) or not 0 <= battery <= 100:
            out.skip(path, f"lock {lock_id}: battery {battery!r} is not a percentage; its state stays in the message")
            continue
        out.mapped.append(
            Mapped(
                name,
                {
                    "event_id": stable_id("traccar", unique, *ref, "lock", i),
                    "kind": "seal.heartbeat",
                    "occurred_at": iso(at),
                    "seal_number": str(lock_id).strip()[:128],
                    "battery_pct": float(battery),
                    "locked": state,
                    **where,
                    "source": {"device_id": name},
                    "foreign": foreign("traccar", msg),
                },
            )
        )


def _event(out: Translation, name: str, unique: str, e: Any, position: dict[str, Any] | None, msg: Any) -> None:
    if not isinstance(e, dict):
        out.reject("$.event", "must be an object")
        return
    kind = e.get("type")
    at = rfc3339(e.get("eventTime"))
    if at is None:
        out.reject("$.event.eventTime", "missing or not an ISO 8601 date-time with an offset")
        return
    if kind != "alarm":
        out.skip("$.event.type", f"event type {kind!r} is not a seal event (positions come by position forwarding)")
        return
    attributes: dict[str, Any] = e["attributes"] if isinstance(e.get("attributes"), dict) else {}
    alarms = _alarms(attributes.get("alarm"))
    if not alarms:
        out.reject("$.event.attributes.alarm", "an alarm event must name its alarm")
        return
    where: dict[str, Any] = {}
    if position is not None and position.get("valid") is not False:
        lat, lon = number(position.get("latitude")), number(position.get("longitude"))
        if position_ok(lat, lon):
            where = {"lat": lat, "lon": lon}
    pid = e.get("positionId")
    ref = ("p", pid) if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else ("e", e.get("id"))
    for alarm in alarms:
        _alarm(
            out,
            name,
            alarm,
            stable_id("traccar", unique, *ref, "alarm", alarm),
            at,
            where,
            msg,
            "$.event.attributes.alarm",
        )


def _alarms(value: Any) -> list[str]:
    """Traccar joins several alarms of one position with commas."""
    if not isinstance(value, str):
        return []
    return [a.strip() for a in value.split(",") if a.strip()]


def _alarm(
    out: Translation, name: str, alarm: str, event_id: str, at: Any, where: dict[str, Any], msg: Any, path: str
) -> None:
    kind = SEAL_ALARMS.get(alarm)
    if kind is None:
        why = "the lock closed: nothing to judge" if alarm == "lock" else "not a seal or lock alarm"
        out.skip(path, f"alarm {alarm!r}: {why}")
        return
    out.mapped.append(
        Mapped(
            name,
            {
                "event_id": event_id,
                "kind": "seal.alarm",
                "occurred_at": iso(at),
                "seal_number": name.split(":", 1)[1],
                "alarm": kind,
                **where,
                "source": {"device_id": name},
                "foreign": foreign("traccar", msg),
            },
            seal_from_device=True,
        )
    )


# --- OsmAnd (Traccar Client, OsmAnd and other phone apps) ----------------------------------------------


def from_osmand(params: dict[str, str], body: bytes = b"") -> Translation:
    """The OsmAnd protocol: query (or form) parameters ``id``, ``lat``, ``lon``, ``timestamp``, ``speed``
    (knots), ``bearing``/``heading``, ``altitude``, ``accuracy``, ``batt``, ``alarm``; or the JSON body
    of Traccar Client 9 (``{"device_id", "location": {"timestamp", "coords": {...}, ...}}``, speed m/s)."""
    out = Translation()
    if body.strip().startswith(b"{"):
        return _osmand_json(out, body)
    unique = params.get("id") or params.get("deviceid")
    if not unique or len(unique) > 100:
        out.reject("id", "missing: the device id (Traccar's unique id) names the device")
        return out
    lat, lon = _float(params.get("lat")), _float(params.get("lon"))
    if not position_ok(lat, lon):
        out.reject("lat", "lat and lon must be numbers within ±90 and ±180")
        return out
    at = _osmand_time(params.get("timestamp"))
    if at is None:
        out.reject("timestamp", "missing or not seconds since the epoch or an ISO 8601 date-time with an offset")
        return out
    assert lat is not None and lon is not None
    speed = _float(params.get("speed"))
    heading = _float(params.get("bearing") or params.get("heading"))
    name, event = _osmand_fix(unique, at, lat, lon, dict(params), None if speed is None else converted(speed, KNOT_KPH),
                              heading, _float(params.get("accuracy")))  # fmt: skip
    if params.get("valid", "true").lower() == "false":
        out.skip("valid", "not a valid GPS fix")
    else:
        out.mapped.append(Mapped(name, event))
    alarm = params.get("alarm")
    if alarm:
        for a in _alarms(alarm):
            _alarm(
                out,
                name,
                a,
                stable_id("osmand", unique, iso(at), "alarm", a),
                at,
                {"lat": lat, "lon": lon},
                dict(params),
                "alarm",
            )
    return out


def _osmand_json(out: Translation, body: bytes) -> Translation:
    try:
        msg = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        out.reject("$", f"not valid JSON: {exc}")
        return out
    loc = msg.get("location") if isinstance(msg, dict) else None
    unique = msg.get("device_id") if isinstance(msg, dict) else None
    if not isinstance(unique, str) or not unique or len(unique) > 100:
        out.reject("$.device_id", "missing: the device id names the device")
        return out
    if not isinstance(loc, dict) or not isinstance(loc.get("coords"), dict):
        out.reject("$.location.coords", "missing: expected Traccar Client's {location: {coords: {...}}}")
        return out
    coords = loc["coords"]
    lat, lon = number(coords.get("latitude")), number(coords.get("longitude"))
    if not position_ok(lat, lon):
        out.reject("$.location.coords", "latitude and longitude must be numbers within ±90 and ±180")
        return out
    at = rfc3339(loc.get("timestamp"))
    if at is None:
        out.reject("$.location.timestamp", "missing or not an ISO 8601 date-time with an offset")
        return out
    assert lat is not None and lon is not None
    speed = number(coords.get("speed"))  # Traccar Client's JSON gives metres per second
    name, event = _osmand_fix(unique, at, lat, lon, msg, None if speed is None else converted(speed, 3.6),
                              number(coords.get("heading")), number(coords.get("accuracy")))  # fmt: skip
    out.mapped.append(Mapped(name, event))
    return out


def _osmand_fix(unique: str, at: Any, lat: float, lon: float, payload: Any, speed_kph: float | None,
                heading: float | None, accuracy_m: float | None) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """The device's name and its fix, built alike from either OsmAnd form (the same fix re-sent in the
    other form has the same id, so it is a duplicate)."""
    name = f"traccar:{unique}"
    event = fix(stable_id("osmand", unique, iso(at)), at, lat, lon, name, foreign("osmand", payload),
                speed_kph=speed_kph, heading=heading, accuracy_m=accuracy_m)  # fmt: skip
    return name, event


def _float(value: str | None) -> float | None:
    if value is None or len(value) > 32:
        return None
    try:
        parsed = float(value)
    except ValueError:
        return None
    return parsed if math.isfinite(parsed) else None


def _osmand_time(value: str | None) -> Any:
    if value is None:
        return None
    if value.isdigit():
        return epoch(int(value))
    parsed = _float(value)
    if parsed is not None:
        return epoch(parsed)
    return rfc3339(value) or rfc3339(value.replace(" ", "T"))
