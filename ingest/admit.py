"""Admission: raw bytes from any transport to a validated event and the payload to store. Pure.

The transport may fix the tenant (an MQTT topic, an API token). A payload that omits ``tenant`` takes
the transport's; one that names another tenant is refused, so no device can write into a tenant it is
not connected as. Text PostgreSQL cannot hold (NUL characters) is refused here with a clear reason
rather than failing a whole batch at write time.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.decode import InvalidEvent, decode_event, decode_object
from schemas.events import Event


@dataclass(frozen=True, slots=True)
class Admitted:
    event: Event
    payload: bytes  # the JSON object as stored (tenant filled in when the transport fixed it)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def admit(raw: bytes, tenant: str | None = None) -> Admitted:
    """Validate one input; raise :class:`InvalidEvent` with the reason when it cannot be accepted."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise InvalidEvent("an event must be a JSON object")
    event_id = obj.get("event_id") if isinstance(obj.get("event_id"), str) else None
    if b"u0000" in raw and any("\x00" in s for s in _strings(obj)):
        raise InvalidEvent("contains a NUL character (\\u0000), which cannot be stored", event_id=event_id)
    if tenant is not None:
        named = obj.get("tenant")
        if named is None:
            obj["tenant"] = tenant
            return Admitted(decode_object(obj), orjson.dumps(obj))
        if named != tenant:
            raise InvalidEvent(f"tenant mismatch: the event names tenant {named!r} but arrived for tenant {tenant!r}",
                               event_id=event_id)  # fmt: skip
    return Admitted(decode_event(raw), raw)
