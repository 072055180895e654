"""``epoch_seconds`` is ``datetime.timestamp()`` to the last bit, on every zone an event can carry."""

import random
from datetime import UTC, datetime, timedelta, timezone, tzinfo

import orjson

from sealguard.schemas import instants
from sealguard.schemas.decode import decode_event
from sealguard.schemas.instants import epoch_seconds


def _decoded(text: str) -> datetime:
    event = decode_event(orjson.dumps({"event_id": "e", "kind": "gps.position", "occurred_at": text,
                                       "conveyance_id": "TRL-1", "lon": 0.0, "lat": 0.0}))  # fmt: skip
    return event.occurred_at


def test_equal_to_timestamp_for_decoded_times_in_any_offset_with_microseconds() -> None:
    rng = random.Random(17)
    offsets = [0, 3600, -5 * 3600, 5 * 3600 + 1800, 12 * 3600 + 2700, -(9 * 3600 + 30 * 60), 14 * 3600]
    for _ in range(20_000):
        moment = datetime.fromtimestamp(rng.uniform(-2e9, 7e9), UTC).replace(microsecond=rng.randrange(10**6))
        local = moment.astimezone(timezone(timedelta(seconds=rng.choice(offsets))))
        decoded = _decoded(local.isoformat())
        assert epoch_seconds(decoded) == decoded.timestamp() == epoch_seconds(local) == local.timestamp()
        assert repr(epoch_seconds(decoded)) == repr(decoded.timestamp())  # the same float, not a near one


class _Summer(tzinfo):
    """A zone with summer time (as zoneinfo's are): +1 h, +2 h from April to September."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=2 if dt is not None and 4 <= dt.month <= 9 else 1)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=1 if dt is not None and 4 <= dt.month <= 9 else 0)

    def tzname(self, dt: datetime | None) -> str:
        return "summer" if dt is not None and 4 <= dt.month <= 9 else "winter"


def test_a_zone_whose_offset_changes_is_asked_each_time_and_new_zones_cannot_grow_the_cache() -> None:
    zone = _Summer()
    for month in (1, 7, 1, 7):  # winter and summer times in the same zone object, in turn
        moment = datetime(2026, month, 15, 12, tzinfo=zone)
        assert epoch_seconds(moment) == moment.timestamp()
    for minutes in range(1000):  # a stream of times each in a new zone object
        moment = datetime(2026, 1, 1, tzinfo=timezone(timedelta(minutes=minutes % 600)))
        assert epoch_seconds(moment) == moment.timestamp()
    assert len(instants._EPOCHS) <= instants._MAX_ZONES
