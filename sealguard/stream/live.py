"""Live updates for the web API's streams (SSE): whoever commits a batch (the pipeline of ``up``, a
worker) sends what changed with PostgreSQL NOTIFY in its transaction (``store.live``); every process
serving the API listens (``PgUpdates``) and fans the updates out to its open streams (``UpdateHub``).
So any api replica sees every change, and only committed changes."""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

import psycopg

from sealguard.alerts.book import AlertRecord, Change
from sealguard.retry import Backoff
from sealguard.schemas.events import Event
from sealguard.store import live

log = logging.getLogger("sealguard.stream.live")
Listener = Callable[[list[dict[str, Any]]], None]


class UpdateHub:
    """In-process fan-out: each open stream subscribes a listener."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self.listeners.remove(listener)

    def publish(self, updates: list[dict[str, Any]]) -> None:
        if updates:
            for listener in list(self.listeners):
                listener(updates)


class PgUpdates:
    """LISTEN on a dedicated connection, reconnecting with backoff, and publish into ``hub``."""

    def __init__(self, conninfo: str, hub: UpdateHub) -> None:
        self.conninfo = conninfo
        self.hub = hub
        self.listening = asyncio.Event()

    async def run(self) -> None:
        backoff = Backoff(base=0.5, cap=10.0)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                    await live.listen(conn)
                    self.listening.set()
                    backoff.reset()
                    async for note in conn.notifies():
                        self.hub.publish(live.parse(note.payload))
            except (psycopg.Error, OSError) as exc:
                self.listening.clear()
                delay = backoff.next()
                log.warning("live updates: lost the database (%s); listening again in %.1f s", exc, delay)
                # Streams missed what changed meanwhile: tell them to reload.
                self.hub.publish([{"type": "resync"}])
                await asyncio.sleep(delay)


def batch_updates(changes: Iterable[tuple[Change, AlertRecord]], events: Iterable[Event],
                  acted: Iterable[tuple[str, str, str]] = ()) -> list[dict[str, Any]]:  # fmt: skip
    """What a batch changed, as the streams tell it: alert changes (``acted``: (change, tenant, alert id)
    of people's actions) and each conveyance's latest position in the batch."""
    updates: list[dict[str, Any]] = [
        {"type": "alert", "change": change, "tenant": r.tenant, "alert_id": r.alert_id} for change, r in changes
    ]
    updates += [{"type": "alert", "change": c, "tenant": t, "alert_id": a} for c, t, a in acted]
    latest: dict[tuple[str, str], Any] = {}  # the last fix of each conveyance; only those are told
    for e in events:
        if e.kind == "gps.position":
            latest[(e.tenant, e.conveyance_id or "")] = e
    updates += [{"type": "position", "tenant": e.tenant, "conveyance_id": e.conveyance_id, "lon": e.lon, "lat": e.lat,
                 "at": e.occurred_at.isoformat()} for e in latest.values()]  # fmt: skip
    return updates
