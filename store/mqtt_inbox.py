"""The embedded broker's front door's log: what devices published, stored before they are acknowledged.

amqtt (the embedded broker without Mosquitto) drops QoS 1 messages in flight to a subscriber whose
connection ends, so a PUBACK from it promises nothing. The front door therefore writes each publish a
device makes on the monitor's topics here, in one transaction per group, and acknowledges it only after
the commit; the monitor reads the rows in id order and deletes them once each is stored or
dead-lettered. One front door writes, one transaction at a time, so ids commit in order and a reader
that remembers the last id it read skips nothing."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

Conn = psycopg.AsyncConnection[Any]
CHANNEL = "mqtt_inbox"  # NOTIFY after each group: the monitor reads without waiting for its next poll


@dataclass(frozen=True, slots=True)
class Published:
    id: int
    topic: str
    payload: bytes
    client: str
    received_at: datetime


async def append(conn: Conn, rows: list[tuple[str, bytes, str, datetime]]) -> None:
    """Store ``(topic, payload, client, received_at)`` rows in the caller's transaction, and wake the reader."""
    if not rows:
        return
    # binary: a payload's bytes go as they are, not as escaped hex digits
    async with conn.cursor().copy(
        "COPY mqtt_inbox (topic, payload, client, received_at) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["text", "bytea", "text", "timestamptz"])
        for row in rows:
            await copy.write_row(row)
    await conn.execute(f"NOTIFY {CHANNEL}")


async def after(conn: Conn, last: int, limit: int) -> list[Published]:
    cur = await conn.execute("SELECT id, topic, payload, client, received_at FROM mqtt_inbox WHERE id > %s"
                             " ORDER BY id LIMIT %s", (last, limit))  # fmt: skip
    return [Published(int(r[0]), r[1], bytes(r[2]), r[3], r[4]) for r in await cur.fetchall()]


async def handled(conn: Conn, up_to: int) -> None:
    """Every row up to ``up_to`` is stored or dead-lettered: gone from the log."""
    await conn.execute("DELETE FROM mqtt_inbox WHERE id <= %s", (up_to,))


async def listen(conn: Conn) -> None:
    """Be woken by each group the front door stores (the connection must be in autocommit)."""
    await conn.execute(f"LISTEN {CHANNEL}")
