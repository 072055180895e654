"""The event log: daily partitions, COPY on the hot path, the dedupe index, dead letters, reference data."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from sealguard.schemas.events import (
    Event,
    FacilityRegistered,
    SealAffixed,
    SealIssued,
    SealRemoved,
    SealVerified,
    TripClosed,
    TripPlanned,
)
from sealguard.store.event_log import NO_PROVENANCE, Provenance

Conn = psycopg.AsyncConnection[Any]


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 4x, once per record
class StoredEvent:
    seq: int
    event: Event
    payload: bytes
    source: str
    received_at: datetime
    provenance: Provenance = NO_PROVENANCE


@dataclass(frozen=True, slots=True)
class DeadLetter:
    received_at: datetime
    source: str
    origin: dict[str, Any]
    tenant: str | None
    event_id: str | None
    reason: str
    raw: bytes


class PartitionCache:
    """Which daily partitions exist; None when TimescaleDB partitions by itself."""

    def __init__(self, native: bool) -> None:
        self.native = native
        self.known: set[str] = set()

    def missing(self, times: list[datetime]) -> bool:
        """Whether ``ensure`` has anything to do for ``times`` (no statement is sent to find out)."""
        return self.native and any(_partition(t.astimezone(UTC).date()) not in self.known for t in times)

    async def ensure(self, conn: Conn, times: list[datetime]) -> None:
        if not self.native:
            return
        for day in sorted({t.astimezone(UTC).date() for t in times}):
            name = _partition(day)
            if name in self.known:
                continue
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            # The last day Python can name has no next day: its partition runs to MAXVALUE.
            end = sql.Literal((start + timedelta(days=1)).isoformat()) if day < date.max else sql.SQL("MAXVALUE")
            try:
                async with conn.transaction():  # a savepoint: a refused partition must not abort the batch
                    # DDL takes no parameters: the name and bounds are composed, quoted, from a date.
                    await conn.execute(
                        sql.SQL(
                            "CREATE TABLE IF NOT EXISTS {} PARTITION OF events FOR VALUES FROM ({}) TO ({})"
                        ).format(sql.Identifier(name), sql.Literal(start.isoformat()), end)
                    )
            except psycopg.errors.CheckViolation:
                pass  # rows of that day already sit in the default partition; they stay there
            except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation):
                # Another worker's batch created it first: IF NOT EXISTS looked before waiting for that
                # batch's lock on ``events``, and its catalog rows are committed by now. Failing here
                # failed this whole batch, which then went record by record.
                pass
            self.known.add(name)


def _partition(day: date) -> str:
    """The name of ``day``'s partition of ``events``."""
    return f"events_p{day:%Y%m%d}"


async def native_partitions(conn: Conn) -> bool:
    cur = await conn.execute("SELECT variant FROM schema_migrations WHERE version = 2")
    row = await cur.fetchone()
    return row is None or row[0] != "timescale"


async def seen(conn: Conn, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which ``(tenant, event_id)`` are already stored."""
    if not keys:
        return set()
    cur = await conn.execute(
        "SELECT i.tenant, i.event_id FROM event_ids i"
        " JOIN unnest(%s::text[], %s::text[]) AS k(tenant, event_id) USING (tenant, event_id)",
        ([k[0] for k in keys], [k[1] for k in keys]),
    )
    return {(r[0], r[1]) for r in await cur.fetchall()}


async def stored_seqs(conn: Conn, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The sequence number each stored ``(tenant, event_id)`` was stored under (a worker catching up
    tells its own records from duplicates by it)."""
    if not keys:
        return {}
    cur = await conn.execute(
        "SELECT i.tenant, i.event_id, i.seq FROM event_ids i"
        " JOIN unnest(%s::text[], %s::text[]) AS k(tenant, event_id) USING (tenant, event_id)",
        ([k[0] for k in keys], [k[1] for k in keys]),
    )
    return {(r[0], r[1]): int(r[2]) for r in await cur.fetchall()}


_EVENT_TYPES = ["int8", "text", "text", "text", "text", "text", "timestamptz", "timestamptz", "text", "jsonb",
                "bytea", "text", "text"]  # fmt: skip


def _as_is(payload: Any) -> bytes:
    """The payload is JSON already (the bytes that were validated): written as it is."""
    return bytes(payload)


async def write_events(conn: Conn, rows: list[StoredEvent], partitions: PartitionCache) -> None:
    if not rows:
        return
    await partitions.ensure(conn, [r.event.occurred_at for r in rows])
    cur = conn.cursor()
    # Binary COPY: the original bytes go as they are (text COPY wrote each byte as two hex digits and a
    # backslash escape, and the server parsed them back), times as eight-byte integers, and the payload
    # as the JSON text it already is (Jsonb with an identity dumps: never decoded and encoded again).
    async with cur.copy(
        "COPY events (seq, tenant, event_id, kind, conveyance_id, trip_id, occurred_at, received_at, source, payload,"
        " original, partner_format, partner_sha256) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(_EVENT_TYPES)
        for r in rows:
            e, partner = r.event, r.provenance.partner
            await copy.write_row((r.seq, e.tenant, e.event_id, e.kind, getattr(e, "conveyance_id", None),
                                  getattr(e, "trip_id", None), e.occurred_at, r.received_at, r.source,
                                  Jsonb(r.payload, dumps=_as_is), r.provenance.original or r.payload,
                                  partner[0] if partner else None, partner[1] if partner else None))  # fmt: skip
    async with cur.copy("COPY event_ids (tenant, event_id, seq, occurred_at) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["text", "text", "int8", "timestamptz"])
        for r in rows:
            await copy.write_row((r.event.tenant, r.event.event_id, r.seq, r.event.occurred_at))
    await _reference(conn, rows)


# A reference event into the broadcast table and the event store in one statement: its event-store row
# exists exactly when its broadcast row was new (a repeat inserts neither), and no round trip carries the
# number from one to the other. Every parameter is typed: in a SELECT list the server infers none.
_REFERENCE_EVENT = (
    "WITH r AS ("
    " INSERT INTO reference_events (tenant, event_id, kind, occurred_at, payload)"
    " VALUES (%(tenant)s::text, %(event_id)s::text, %(kind)s::text, %(occurred_at)s::timestamptz, %(payload)s::jsonb)"
    " ON CONFLICT (tenant, event_id) DO NOTHING RETURNING nextval('reference_seq') AS seq"
    "), stored AS ("
    " INSERT INTO events (seq, tenant, event_id, kind, conveyance_id, trip_id, occurred_at, received_at, source,"
    " payload, original, partner_format, partner_sha256)"
    " SELECT -r.seq, %(tenant)s::text, %(event_id)s::text, %(kind)s::text, %(conveyance_id)s::text,"
    " %(trip_id)s::text, %(occurred_at)s::timestamptz, %(received_at)s::timestamptz, %(source)s::text,"
    " %(payload)s::jsonb, %(original)s::bytea, %(partner_format)s::text, %(partner_sha256)s::text FROM r"
    "), ids AS ("
    " INSERT INTO event_ids (tenant, event_id, seq, occurred_at)"
    " SELECT %(tenant)s::text, %(event_id)s::text, -r.seq, %(occurred_at)s::timestamptz FROM r"
    ") SELECT seq FROM r"
)


async def write_reference_events(conn: Conn, rows: list[StoredEvent]) -> list[StoredEvent | None]:
    """Store reference events (``seal.issued``, ``facility.registered``) in order, in the caller's
    transaction: each in the broadcast table and the event store, and the facilities and seals tables.
    Each row's ``seq`` is assigned here (``reference_seq``, negated: apart from the workers' records);
    returns each row as stored, or None for a repeat (of a stored event, or of one before it here).

    The gateway's whole queue waits while these commit (later events may read them), so everything is
    sent in a pipeline when the caller holds one: two round trips for a run, where the statements one
    by one, with two COPYs, took nine. The day's partition must exist (``PartitionCache.ensure``)."""
    cursors = []
    for r in rows:
        e, partner = r.event, r.provenance.partner
        cursors.append(await conn.execute(_REFERENCE_EVENT, {
            "tenant": e.tenant, "event_id": e.event_id, "kind": e.kind, "occurred_at": e.occurred_at,
            "payload": Jsonb(r.payload, dumps=_as_is), "conveyance_id": getattr(e, "conveyance_id", None),
            "trip_id": getattr(e, "trip_id", None), "received_at": r.received_at, "source": r.source,
            "original": r.provenance.original or r.payload, "partner_format": partner[0] if partner else None,
            "partner_sha256": partner[1] if partner else None,
        }))  # fmt: skip
    stored: list[StoredEvent | None] = []
    for r, cur in zip(rows, cursors, strict=True):
        row = await cur.fetchone()
        if row is not None:
            r.seq = -int(row[0])
        stored.append(None if row is None else r)
    await _reference(conn, [r for r in stored if r is not None])
    return stored


#: The kinds that change the trips, facilities and seals tables (the classes are final: ``schemas.events``).
_REFERENCE_KINDS: frozenset[type] = frozenset(
    {TripPlanned, TripClosed, FacilityRegistered, SealIssued, SealAffixed, SealRemoved, SealVerified}
)


async def _reference(conn: Conn, rows: list[StoredEvent]) -> None:
    """Keep the trips, facilities and seals tables current for the API and operators."""
    trips, closed, facilities, seals = [], [], [], []
    for r in rows:
        e = r.event
        if type(e) not in _REFERENCE_KINDS:
            continue  # fixes, heartbeats, inspections, alarms: most rows, skipped with one set lookup
        if isinstance(e, TripPlanned):
            # orjson writes the route's tuples as arrays; the plan is the payload as it came (no round trip)
            geometry = orjson.dumps({
                "route": e.route,
                "approved_stops": [p.model_dump(mode="json", exclude_none=True) for p in e.approved_stops or ()],
            }).decode()  # fmt: skip
            trips.append((e.tenant, e.trip_id, e.conveyance_id, r.payload.decode(), e.occurred_at, geometry))
        elif isinstance(e, TripClosed):
            closed.append((e.occurred_at, e.tenant, e.trip_id))
        elif isinstance(e, FacilityRegistered):
            place = Jsonb(e.place.model_dump(mode="json", exclude_none=True))
            facilities.append((e.tenant, e.place.facility_id, place, e.occurred_at))
        elif isinstance(e, SealIssued | SealAffixed | SealRemoved | SealVerified):
            state = e.kind.removeprefix("seal.")
            seals.append((e.tenant, e.seal_number, getattr(e, "conveyance_id", None), state, e.occurred_at, e.event_id))
    async with conn.cursor() as cur:
        if trips:
            await cur.executemany(
                "INSERT INTO trips (tenant, trip_id, conveyance_id, plan, status, planned_at, geometry)"
                " VALUES (%s, %s, %s, %s::jsonb, 'planned', %s, %s::jsonb) ON CONFLICT (tenant, trip_id) DO UPDATE"
                " SET plan = EXCLUDED.plan, conveyance_id = EXCLUDED.conveyance_id, planned_at = EXCLUDED.planned_at,"
                " geometry = EXCLUDED.geometry WHERE trips.status <> 'closed'",
                trips,
            )
        if closed:
            await cur.executemany(
                "UPDATE trips SET status = 'closed', closed_at = %s WHERE tenant = %s AND trip_id = %s", closed
            )
        if facilities:
            await cur.executemany(
                "INSERT INTO facilities (tenant, facility_id, place, updated_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (tenant, facility_id) DO UPDATE"
                " SET place = EXCLUDED.place, updated_at = EXCLUDED.updated_at",
                facilities,
            )
        if seals:
            await cur.executemany(
                "INSERT INTO seals (tenant, seal_number, conveyance_id, state, updated_at, last_event_id)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant, seal_number) DO UPDATE SET"
                " conveyance_id = COALESCE(EXCLUDED.conveyance_id, seals.conveyance_id), state = EXCLUDED.state,"
                " updated_at = EXCLUDED.updated_at, last_event_id = EXCLUDED.last_event_id"
                " WHERE seals.updated_at <= EXCLUDED.updated_at",
                seals,
            )


def _text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; the raw bytes keep the original."""
    return value.replace("\x00", "\\u0000") if value is not None else None
