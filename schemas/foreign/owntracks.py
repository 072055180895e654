"""OwnTracks: the JSON messages of its phone and vehicle apps, over MQTT (topic
``owntracks/{user}/{device}``) or HTTP (one message or an array; user and device in the ``X-Limit-U`` and
``X-Limit-D`` headers). Pure. The device is ``owntracks:{user}/{device}``.

``location`` becomes ``gps.position`` (``tst`` epoch seconds, ``vel`` km/h, ``cog`` degrees, ``acc``
metres); ``transition`` (entering or leaving one of the phone's own regions) is a position where it
happened (sealguard judges places itself); ``lwt`` (the broker's last will: the device went away) and
the other types (waypoints, cards, commands, ...) have nothing to judge; encrypted payloads are refused
(switch encryption off for sealguard, which reads them in the clear over TLS).
"""

from typing import Any

import orjson

from sealguard.schemas.foreign.common import (
    MAX_ITEMS,
    Mapped,
    Translation,
    epoch,
    fix,
    foreign,
    number,
    position_ok,
    stable_id,
)

_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@")


def device_name(user: str, device: str) -> str | None:
    """``owntracks:{user}/{device}``, or None when either part is empty, too long or odd."""
    if not (0 < len(user) <= 64 and 0 < len(device) <= 64) or not set(user + device) <= _NAME_OK:
        return None
    return f"owntracks:{user}/{device}"


def from_message(body: bytes, user: str, device: str, *, max_items: int = MAX_ITEMS) -> Translation:
    out = Translation()
    name = device_name(user, device)
    if name is None:
        out.reject("$", f"user {user[:70]!r} and device {device[:70]!r} must be 1-64 letters, digits, or -_.@")
        return out
    try:
        msg = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        out.reject("$", f"not valid JSON: {exc}")
        return out
    items = msg if isinstance(msg, list) else [msg]
    if out.too_many(items, "$", max_items):
        return out
    for i, item in enumerate(items):
        _one(out, name, item, f"$[{i}]" if isinstance(msg, list) else "$")
    return out


def _one(out: Translation, name: str, m: Any, path: str) -> None:
    if not isinstance(m, dict) or not isinstance(m.get("_type"), str):
        out.reject(path, "an OwnTracks message is an object with a _type")
        return
    kind = m["_type"]
    if kind == "encrypted":
        out.reject(f"{path}._type", "encrypted payloads are not read: switch OwnTracks encryption off for sealguard")
        return
    if kind == "lwt":
        out.skip(f"{path}._type", "lwt: the device went away; silence rules judge the gap")
        return
    if kind not in ("location", "transition"):
        out.skip(f"{path}._type", f"{kind!r} messages carry no position or seal event")
        return
    at = epoch(m.get("tst")) if isinstance(m.get("tst"), int) else None
    if at is None:
        out.reject(f"{path}.tst", "missing or not whole seconds since the epoch")
        return
    lat, lon = number(m.get("lat")), number(m.get("lon"))
    if not position_ok(lat, lon):
        out.reject(f"{path}.lat", "lat and lon must be numbers within ±90 and ±180")
        return
    assert lat is not None and lon is not None
    event_id = stable_id("owntracks", name.split(":", 1)[1], m["tst"], kind)
    event = fix(
        event_id,
        at,
        lat,
        lon,
        name,
        foreign("owntracks", m),
        speed_kph=number(m.get("vel")),
        heading=number(m.get("cog")),
        accuracy_m=number(m.get("acc")),
    )
    out.mapped.append(Mapped(name, event))
