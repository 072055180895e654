"""Dock photos: one row per photo with its bytes and their SHA-256, attached to the inspection or seal
check (event id) it was taken for."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    photo_id: str
    event_id: str
    conveyance_id: str | None
    trip_id: str | None
    subject: str
    content_type: str
    size: int
    sha256: str
    location: str
    taken_by: str
    uploaded_at: datetime


_INFO = ("photo_id::text, event_id, conveyance_id, trip_id, subject, content_type, bytes AS size, sha256, location,"
         " taken_by, uploaded_at")  # fmt: skip


async def lock_event(conn: Conn, tenant: str, event_id: str) -> None:
    """Uploads to one check take turns (the per-check limit holds under concurrent uploads)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"photo:{tenant}:{event_id}",))


async def count_for_event(conn: Conn, tenant: str, event_id: str) -> int:
    cur = await conn.execute("SELECT count(*) FROM photos WHERE tenant = %s AND event_id = %s", (tenant, event_id))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def add(conn: Conn, tenant: str, event_id: str, conveyance_id: str | None, trip_id: str | None, subject: str,
              content_type: str, data: bytes, sha256: str, location: str, taken_by: str,
              at: datetime) -> PhotoInfo:  # fmt: skip
    photo_id = str(uuid.uuid4())
    cur = await conn.cursor(row_factory=class_row(PhotoInfo)).execute(
        "INSERT INTO photos (photo_id, tenant, event_id, conveyance_id, trip_id, subject, content_type, bytes, sha256,"
        f" location, taken_by, uploaded_at, data) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        f" RETURNING {_INFO}",
        (photo_id, tenant, event_id, conveyance_id, trip_id, subject, content_type, len(data), sha256, location,
         taken_by, at, data),
    )  # fmt: skip
    row = await cur.fetchone()
    assert row is not None  # INSERT ... RETURNING returns the row
    return row


@dataclass(frozen=True, slots=True)
class PackedPhoto(PhotoInfo):
    data: bytes | None  # None: past the package's photo budget (listed, not packed)


async def packed(conn: Conn, tenant: str, trip_id: str | None, event_ids: Sequence[str],
                 budget: int = 100 * 1024 * 1024) -> list[PackedPhoto]:  # fmt: skip
    """The photos of the trip's checks and of ``event_ids``, oldest first, with their bytes while their
    running total stays within ``budget`` (a package stays a size one can mail and open)."""
    cur = await conn.cursor(row_factory=class_row(PackedPhoto)).execute(
        f"SELECT {_INFO}, CASE WHEN sum(bytes) OVER (ORDER BY uploaded_at, photo_id) <= %s THEN data END AS data"
        " FROM photos WHERE tenant = %s AND (trip_id = %s OR event_id = ANY(%s)) ORDER BY uploaded_at, photo_id"
        " LIMIT 200",
        (budget, tenant, trip_id, list(event_ids)),
    )
    return await cur.fetchall()


async def get(conn: Conn, photo_id: str, tenant: str | None) -> tuple[str, bytes, str] | None:
    """A photo's content type, bytes and SHA-256, in ``tenant`` (None: any)."""
    cur = await conn.execute(
        "SELECT content_type, data, sha256 FROM photos WHERE photo_id = %s AND (%s::text IS NULL OR tenant = %s)",
        (photo_id, tenant, tenant),
    )
    row = await cur.fetchone()
    return (str(row[0]), bytes(row[1]), str(row[2])) if row else None


async def of_trip(conn: Conn, tenant: str, trip_id: str | None, event_ids: Sequence[str]) -> list[PhotoInfo]:
    """The photos of a trip's checks and of ``event_ids`` (an alert's evidence), oldest first."""
    cur = await conn.cursor(row_factory=class_row(PhotoInfo)).execute(
        f"SELECT {_INFO} FROM photos WHERE tenant = %s AND (trip_id = %s OR event_id = ANY(%s))"
        " ORDER BY uploaded_at, photo_id LIMIT 200",
        (tenant, trip_id, list(event_ids)),
    )
    return await cur.fetchall()
