"""The embedded log: what a single process's gateway admitted, held as Kafka holds a topic (partitions,
gap-free offsets in commit order), so that ``sealguard up`` runs the very worker loop of the split roles
without Kafka installed (docs/partitioning.md).

An append locks each partition's head row until its transaction commits, so two appenders never
interleave offsets and a reader that has seen offset n has seen everything before it. An event id already
in the log or in the event store is a duplicate and is not appended: the sender hears so at once."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

Conn = psycopg.AsyncConnection[Any]
CHANNEL = "event_log"  # NOTIFY after each append: the worker reads without waiting for its next poll


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where an event came from, kept as evidence: the bytes its sender sent where admission changed them
    (None: the record's value is what was sent), and where an adapter made the event, the partner's format
    and the SHA-256 of its message (kept once in ``partner_messages``)."""

    original: bytes | None = None
    partner: tuple[str, str] | None = None


NO_PROVENANCE = Provenance()


@dataclass(frozen=True, slots=True)
class Entry:
    """One record to append: an event (``event_id`` set) or a control record (``control`` set)."""

    partition: int
    key: bytes | None
    value: bytes
    source: str
    received_ms: int
    tenant: str | None = None
    event_id: str | None = None
    control: str | None = None
    provenance: Provenance = NO_PROVENANCE


@dataclass(frozen=True, slots=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    control: str | None
    source: str
    received_ms: int
    provenance: Provenance = NO_PROVENANCE


async def known(conn: Conn, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which ``(tenant, event_id)`` are in the log still or in the event store already."""
    if not keys:
        return set()
    tenants, ids = [k[0] for k in keys], [k[1] for k in keys]
    cur = await conn.execute(
        "SELECT k.tenant, k.event_id FROM unnest(%s::text[], %s::text[]) AS k(tenant, event_id)"
        " WHERE EXISTS (SELECT 1 FROM event_log l WHERE l.tenant = k.tenant AND l.event_id = k.event_id)"
        " OR EXISTS (SELECT 1 FROM event_ids e WHERE e.tenant = k.tenant AND e.event_id = k.event_id)",
        (tenants, ids),
    )
    return {(r[0], r[1]) for r in await cur.fetchall()}


async def append(conn: Conn, entries: Sequence[Entry]) -> list[int]:
    """Append ``entries`` in the caller's transaction, in order within each partition; their offsets."""
    if not entries:
        return []
    counts: dict[int, int] = {}
    for e in entries:
        counts[e.partition] = counts.get(e.partition, 0) + 1
    starts: dict[int, int] = {}
    for partition in sorted(counts):  # heads locked in one order: appenders never deadlock
        cur = await conn.execute(
            "INSERT INTO event_log_heads (partition, next_offset) VALUES (%s, %s) ON CONFLICT (partition)"
            " DO UPDATE SET next_offset = event_log_heads.next_offset + EXCLUDED.next_offset RETURNING next_offset",
            (partition, counts[partition]),
        )
        row = await cur.fetchone()
        assert row is not None  # an upsert's RETURNING always has the row
        starts[partition] = int(row[0]) - counts[partition]
    offsets = []
    columns = 'partition, "offset", key, value, control, source, received_ms, tenant, event_id, original, partner'
    # Binary COPY: the event's bytes (and its original's) go as they are; in text COPY each byte was two hex
    # digits, escaped, and parsed back by the server.
    async with conn.cursor().copy(f"COPY event_log ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["int4", "int8", "bytea", "bytea", "text", "text", "int8", "text", "text", "bytea", "text"])
        for e in entries:
            offset = starts[e.partition]
            starts[e.partition] = offset + 1
            offsets.append(offset)
            partner = e.provenance.partner
            await copy.write_row((e.partition, offset, e.key, e.value, e.control, e.source, e.received_ms, e.tenant,
                                  e.event_id, e.provenance.original,
                                  _partner_column(partner)))  # fmt: skip
    await conn.execute(f"NOTIFY {CHANNEL}")
    return offsets


async def read(conn: Conn, positions: dict[int, int], limit: int) -> list[Record]:
    """Up to ``limit`` records of each partition from its position on, in offset order."""
    if not positions:
        return []
    parts = sorted(positions)
    cur = await conn.execute(
        'SELECT l.partition, l."offset", l.key, l.value, l.control, l.source, l.received_ms, l.original, l.partner'
        " FROM unnest(%s::int[], %s::bigint[]) AS p(partition, pos), LATERAL ("
        '  SELECT * FROM event_log e WHERE e.partition = p.partition AND e."offset" >= p.pos'
        '  ORDER BY e."offset" LIMIT %s) l ORDER BY l.partition, l."offset"',
        (parts, [positions[p] for p in parts], limit),
    )
    return [Record(int(r[0]), int(r[1]), bytes(r[2]) if r[2] is not None else None, bytes(r[3]), r[4], r[5],
                   int(r[6]), _provenance(r[7], r[8])) for r in await cur.fetchall()]  # fmt: skip


def _partner_column(partner: tuple[str, str] | None) -> str | None:
    """A partner message's format and SHA-256 in one column: ``format:sha256``."""
    return None if partner is None else f"{partner[0]}:{partner[1]}"


def _provenance(original: bytes | None, partner: str | None) -> Provenance:
    if original is None and partner is None:
        return NO_PROVENANCE
    kept = None
    if partner is not None:
        fmt, _, sha = partner.rpartition(":")
        kept = (fmt, sha)
    return Provenance(bytes(original) if original is not None else None, kept)


async def keep_partner_message(conn: Conn, tenant: str, fmt: str, message: bytes, received_at: datetime) -> str:
    """Keep a partner's message once; its SHA-256 (hex), which the events made from it carry."""
    sha = hashlib.sha256(message).hexdigest()
    await conn.execute(
        "INSERT INTO partner_messages (tenant, sha256, format, received_at, message) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant, sha256) DO NOTHING",
        (tenant, sha, fmt, received_at, message),
    )
    return sha


async def heads(conn: Conn) -> dict[int, int]:
    """Each partition's next offset (for the lag metric)."""
    cur = await conn.execute("SELECT partition, next_offset FROM event_log_heads")
    return {int(r[0]): int(r[1]) for r in await cur.fetchall()}


async def trim(conn: Conn, topic: str) -> int:
    """Delete what every restore has passed: records before their partition's checkpoint."""
    cur = await conn.execute(
        "DELETE FROM event_log l USING partition_checkpoints c WHERE c.topic = %s AND c.partition = l.partition"
        ' AND l."offset" < c.next_offset',
        (topic,),
    )
    return cur.rowcount


async def listen(conn: Conn) -> None:
    """Be woken by each append (the connection must be in autocommit)."""
    await conn.execute(f"LISTEN {CHANNEL}")


async def try_reader_lock(conn: Conn, key: int) -> bool:
    """Take the session lock that makes this connection the log's one reader; False when another holds it."""
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))
    row = await cur.fetchone()
    return bool(row and row[0])
