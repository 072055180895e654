"""Bytes to a validated event, or one typed error that names the field and the reason."""

from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from sealguard.errors import SealguardError
from sealguard.schemas.events import EVENT_MODELS, Event

_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


class InvalidEvent(SealguardError, ValueError):
    """An input that is not a valid event. ``reason`` is one line naming each bad field."""

    def __init__(self, reason: str, *, event_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.event_id = event_id


def _where(loc: tuple[int | str, ...]) -> str:
    # The discriminated union puts the tag first (e.g. "gps.position"); the field path is what helps.
    parts = [str(p) for p in loc]
    if parts and parts[0] in EVENT_MODELS:
        parts = parts[1:]
    # Tagged unions inside places add "polygon"/"circle"; keep them, they say which shape was read.
    return ".".join(parts)


def describe(exc: ValidationError) -> str:
    """One line for a validation error: ``field: reason; field: reason``."""
    items = []
    for err in exc.errors(include_url=False):
        where = _where(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "field required"
        if err["type"] == "union_tag_invalid" and where == "":
            ctx = err.get("ctx", {})
            where, msg = "kind", f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
        if msg.startswith(f"{where}: "):
            items.append(msg)
        else:
            items.append(f"{where}: {msg}" if where else msg)
    return "; ".join(items)


def _event_id_of(raw: bytes | str) -> str | None:
    try:
        obj = orjson.loads(raw)
    except Exception:
        return None
    if isinstance(obj, dict) and isinstance(obj.get("event_id"), str):
        return str(obj["event_id"])
    return None


def decode_event(raw: bytes | str) -> Event:
    """Parse one JSON object into an event, or raise :class:`InvalidEvent`."""
    try:
        return _ADAPTER.validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if errors and errors[0]["type"] == "json_invalid":
            raise InvalidEvent(f"not valid JSON: {errors[0]['msg'].removeprefix('Invalid JSON: ')}") from exc
        if errors and errors[0]["type"] == "model_attributes_type":
            raise InvalidEvent("an event must be a JSON object") from exc
        raise InvalidEvent(describe(exc), event_id=_event_id_of(raw)) from exc


def decode_object(obj: Any) -> Event:
    """Validate an already-parsed JSON value (an item of an HTTP batch, a snapshot entry).

    It is re-encoded so that JSON's rules apply exactly as on the wire (strict Python mode would
    refuse a timestamp string or a ``[lon, lat]`` list)."""
    try:
        raw = orjson.dumps(obj)
    except TypeError as exc:
        raise InvalidEvent(f"not representable as JSON: {exc}") from exc
    return decode_event(raw)
