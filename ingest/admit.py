"""Admission: raw bytes from any transport to a validated event and the payload to store. Pure.

The transport may fix the tenant (an MQTT topic, an API token). A payload that omits ``tenant`` takes
the transport's; one that names another tenant is refused, so no device can write into a tenant it is
not connected as. Text PostgreSQL cannot hold (NUL characters) is refused here with a clear reason
rather than failing a whole batch at write time.

Kinds are authorised by the sender's role where the transport knows it (``KIND_ROLES``): scanners and
devices report what they see (seals, inspections, positions); planning and closing trips is an
operator's work, registering facilities an admin's. A sender below the kind's role is refused, so a
scanner cannot re-plan a trip to the seal it is about to verify.

A scanner bound to a facility (``sealguard token create --facility``) reports for that facility only,
whichever door it comes through (HTTP, a partner format, MQTT): its events carry that facility as their
source (filled in when they name none), and one naming another facility is refused. The transports only
say which facility the sender is bound to; the check is here, once.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from sealguard.schemas.decode import InvalidEvent, decode_event, decode_object
from sealguard.schemas.events import Event
from sealguard.schemas.instants import epoch_seconds

ROLE_ORDER = ("scanner", "operator", "admin")
#: The most one event may weigh, in bytes, on every transport (a plan of 10,000 route points is ~250 KB).
MAX_EVENT_BYTES = 1024 * 1024
#: The least role that may send each kind; kinds not listed are open to every sender.
KIND_ROLES = {"trip.planned": "operator", "trip.closed": "operator", "facility.registered": "admin"}


def kind_refusal(kind: str, role: str | None) -> str | None:
    """Why a sender of ``role`` may not send ``kind`` (``None``: it may; a ``None`` role is trusted)."""
    needed = KIND_ROLES.get(kind)
    if needed is None or role is None or ROLE_ORDER.index(role) >= ROLE_ORDER.index(needed):
        return None
    return f"kind: {kind} needs the {needed} role; this sender is a {role}"


def check_skew(event: Event, received_at: float, max_future_skew: float) -> None:
    """Refuse an event dated more than ``max_future_skew`` seconds after it was received: it would move
    its tenant's clock into the future and fire that tenant's timers early (contract.md, replay)."""
    ahead = epoch_seconds(event.occurred_at) - received_at
    if ahead > max_future_skew:
        received = datetime.fromtimestamp(received_at, UTC).isoformat()
        raise InvalidEvent(
            f"occurred_at: {event.occurred_at.isoformat()} is {ahead:.0f} s after its receipt ({received}),"
            f" more than the {max_future_skew:.0f} s of clock skew allowed",
            event_id=event.event_id,
        )


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


def admit(raw: bytes, tenant: str | None = None, *, role: str | None = None, facility: str | None = None,
          max_bytes: int = MAX_EVENT_BYTES) -> Admitted:  # fmt: skip
    """Validate one input; raise :class:`InvalidEvent` with the reason when it cannot be accepted.
    ``facility``: the facility the sender is bound to (a facility-bound scanner), if any."""
    if len(raw) > max_bytes:  # stored whole and kept for the trip: an MQTT message may be 16 MiB
        raise InvalidEvent(f"an event of {len(raw)} bytes; at most {max_bytes}")
    admitted = _admit(raw, tenant, facility)
    refusal = kind_refusal(admitted.event.kind, role)
    if refusal is not None:
        raise InvalidEvent(refusal, event_id=admitted.event.event_id)
    return admitted


def facility_refusal(obj: dict[str, Any], facility: str) -> tuple[str | None, bool]:
    """A facility-bound sender's event: the refusal if it names another facility, and whether ``obj``
    was changed (its source given the facility)."""
    source = obj.get("source")
    if source is None:
        obj["source"] = {"facility_id": facility}
        return None, True
    if not isinstance(source, dict):
        return None, False  # validation says what is wrong with it
    named = source.get("facility_id")
    if named is None:
        source["facility_id"] = facility
        return None, True
    if named != facility:
        return f"source.facility_id: this sender is bound to facility {facility!r}, not {named!r}", False
    return None, False


def _admit(raw: bytes, tenant: str | None, facility: str | None = None) -> Admitted:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise InvalidEvent("an event must be a JSON object")
    event_id = obj.get("event_id") if isinstance(obj.get("event_id"), str) else None
    if b"u0000" in raw and any("\x00" in s for s in _strings(obj)):
        raise InvalidEvent("contains a NUL character (\\u0000), which cannot be stored", event_id=event_id)
    changed = False
    if facility is not None:
        refusal, changed = facility_refusal(obj, facility)
        if refusal is not None:
            raise InvalidEvent(refusal, event_id=event_id)
    if tenant is not None:
        named = obj.get("tenant")
        if named is None:
            obj["tenant"] = tenant
            return Admitted(decode_object(obj), orjson.dumps(obj))
        if named != tenant:
            raise InvalidEvent(f"tenant mismatch: the event names tenant {named!r} but arrived for tenant {tenant!r}",
                               event_id=event_id)  # fmt: skip
    if changed:
        return Admitted(decode_object(obj), orjson.dumps(obj))
    return Admitted(decode_event(raw), raw)
