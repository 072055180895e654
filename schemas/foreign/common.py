"""What every partner-format adapter returns, and the small parsers they share. Pure: no I/O.

An adapter turns one foreign message into contract events that still name a *device*, not a conveyance
(a Traccar ``uniqueId``, an OwnTracks user and device, a DCSA container, an EPC): the application binds
each to a tenant's conveyance by the event's own time (``store.device_bindings``). Each event carries
the foreign item it came from under ``foreign`` (format and the whole original item), so nothing the
partner said is lost, and an ``event_id`` that is stable for the same message (a re-sent message is a
duplicate, never a second event). What an adapter understands but does not map is *skipped* with the
reason; what is wrong is *rejected* with a reason that names the field.
"""

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

EVENT_ID_MAX = 128  # the contract's event_id length
MAX_ITEMS = 1000  # items one message may hold (the endpoints pass their http_max_batch)
MAX_NOTES = 100  # notes kept per kind: the rest are counted, so an answer is never larger than the message


@dataclass(frozen=True, slots=True)
class Mapped:
    """One contract event from a foreign item, before binding.

    ``device`` names the sender as ``{format}:{id}``; ``seal_from_device`` marks a seal event whose
    message named no seal, so the seal is the device itself unless its binding names one; ``direct``
    is the conveyance id the message names itself (a DCSA or EPCIS container number), used when the
    device has no binding."""

    device: str
    event: dict[str, Any]
    seal_from_device: bool = False
    direct: str | None = None


@dataclass(frozen=True, slots=True)
class Note:
    """An item that was skipped or rejected: where in the message (a JSONPath) and why."""

    path: str
    reason: str


@dataclass(slots=True)
class Translation:
    """What became of a message. Only the first ``MAX_NOTES`` skipped and rejected notes are kept and the
    rest counted (``more_skipped``, ``more_rejected``): a message of a million broken items is answered
    with a hundred reasons and a count, not a million (an answer is feedback, not a copy)."""

    mapped: list[Mapped] = field(default_factory=list)
    skipped: list[Note] = field(default_factory=list)
    rejected: list[Note] = field(default_factory=list)
    more_skipped: int = 0
    more_rejected: int = 0
    too_large: str | None = None  # refused for its size alone: the transport says so (HTTP 413)

    def reject(self, path: str, reason: str) -> None:
        if len(self.rejected) < MAX_NOTES:
            self.rejected.append(Note(path, reason))
        else:
            self.more_rejected += 1

    def skip(self, path: str, reason: str) -> None:
        if len(self.skipped) < MAX_NOTES:
            self.skipped.append(Note(path, reason))
        else:
            self.more_skipped += 1

    def rejected_notes(self) -> list[Note]:
        """The rejections kept, and one more note counting those left out."""
        extra = [Note("$", f"and {self.more_rejected} more problems not listed")] if self.more_rejected else []
        return [*self.rejected, *extra]

    def skipped_notes(self) -> list[Note]:
        extra = [Note("$", f"and {self.more_skipped} more items skipped, not listed")] if self.more_skipped else []
        return [*self.skipped, *extra]

    def too_many(self, items: list[Any], path: str, max_items: int) -> bool:
        """Refuse a message of more than ``max_items`` items whole, before any is read: the sender splits
        it (every standard here allows many messages), and no item of it costs anything."""
        if len(items) <= max_items:
            return False
        self.too_large = f"{len(items)} items; at most {max_items} per message (send them in several)"
        self.reject(path, self.too_large)
        return True

    def bound(self, max_item_bytes: int, max_total_bytes: int) -> None:
        """Refuse the message when one foreign item is larger than ``max_item_bytes`` (serialised), or when
        the events it maps to would carry more than ``max_total_bytes`` of foreign items together (each
        event keeps its item as evidence: one large item with many seals would be copied into each)."""
        sizes: dict[int, int] = {}
        total = 0
        for m in self.mapped:
            item = m.event.get("foreign", {}).get("payload")
            key = id(item)
            if key not in sizes:
                sizes[key] = len(orjson.dumps(item))
                if sizes[key] > max_item_bytes:
                    self.too_large = f"an item of {sizes[key]} bytes; at most {max_item_bytes} per item"
                    break
            total += sizes[key]
            if total > max_total_bytes:
                self.too_large = f"its events would carry {total}+ bytes of items; at most {max_total_bytes}"
                break
        if self.too_large is not None:
            self.reject("$", self.too_large)
            self.mapped.clear()


def stable_id(prefix: str, *parts: Any) -> str:
    """``prefix:parts`` when short enough, else ``prefix:`` and a SHA-256 of the parts: the same message
    always gives the same id."""
    plain = ":".join([prefix, *(str(p) for p in parts)])
    if len(plain) <= EVENT_ID_MAX:
        return plain
    digest = hashlib.sha256(orjson.dumps([str(p) for p in parts])).hexdigest()[:40]
    return f"{prefix}:{digest}"


def content_id(prefix: str, item: Any, *, ignore: tuple[str, ...] = ()) -> str:
    """An id from the item's content (canonical JSON, keys sorted), for formats whose messages have none."""
    body = {k: v for k, v in item.items() if k not in ignore} if isinstance(item, dict) else item
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:40]
    return f"{prefix}:{digest}"


def foreign(fmt: str, item: Any) -> dict[str, Any]:
    return {"format": fmt, "payload": item}


def rfc3339(value: Any) -> datetime | None:
    """An RFC 3339 date-time with an offset (``Z`` or ``±hh:mm``), else None."""
    if not isinstance(value, str) or len(value) < 20 or value[10] not in "Tt":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def epoch(value: Any) -> datetime | None:
    """Seconds (or milliseconds, when past the year 2286 as seconds) since the epoch, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    seconds = value / 1000 if value > 1e10 else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def number(value: Any) -> float | None:
    """A finite JSON number (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def converted(value: float, factor: float) -> float:
    """``value`` in another unit, to one decimal more than the sender gave (48.6 knots is 90.01 km/h, not
    90.00720000000001: the sender never knew the thousandths; the one more keeps what a factor of about
    two spreads)."""
    text = repr(float(value))
    places = 0 if "e" in text else len(text.partition(".")[2].rstrip("0"))
    return round(value * factor, min(places + 1, 6))


def decimal_text(value: Any) -> float | None:
    """A number given as JSON text, as DCSA 3.0 sends coordinates ("51.5074"), else None."""
    if isinstance(value, str) and 0 < len(value) <= 20:
        try:
            parsed = float(value)
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    return number(value)


def fix(
    event_id: str,
    at: datetime,
    lat: float,
    lon: float,
    device: str,
    origin: dict[str, Any],
    *,
    speed_kph: float | None = None,
    heading: float | None = None,
    accuracy_m: float | None = None,
) -> dict[str, Any]:
    """A ``gps.position`` from a partner's fix; a speed below 0, a heading outside 0-360 or an accuracy
    of 0 or less (how several apps say "unknown") are left out rather than refused."""
    event: dict[str, Any] = {"event_id": event_id, "kind": "gps.position", "occurred_at": iso(at), "lat": lat,
                             "lon": lon, "source": {"device_id": device}, "foreign": origin}  # fmt: skip
    if speed_kph is not None and speed_kph >= 0:
        event["speed_kph"] = speed_kph
    if heading is not None and 0 <= heading <= 360:
        event["heading"] = heading
    if accuracy_m is not None and accuracy_m > 0:
        event["accuracy_m"] = accuracy_m
    return event


def position_ok(lat: float | None, lon: float | None) -> bool:
    return lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180
