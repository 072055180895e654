"""The monitor's reader of the front door's log (``store.mqtt_inbox``): what devices published on the
embedded broker, handed to the pipeline in the order it was stored, deleted once each is handled.

Delivery is at least once: a row is deleted only after the pipeline has stored or dead-lettered it, so a
monitor killed in between reads it again, and the event id store makes the second a duplicate."""

import asyncio
import contextlib
import logging
from typing import Any

import psycopg
import psycopg_pool

from sealguard.ingest.inbound import EventSink
from sealguard.ingest.mqtt import MqttOptions
from sealguard.retry import Backoff
from sealguard.store import mqtt_inbox
from sealguard.stream.outage import RETRYABLE

log = logging.getLogger("sealguard.inbox")
BATCH = 2000
POLL_S = 0.5  # a NOTIFY wakes it at once; the poll is what a missed one costs


class InboxSource:
    def __init__(self, sink: EventSink, pool: psycopg_pool.AsyncConnectionPool[Any], conninfo: str,
                 options: MqttOptions) -> None:  # fmt: skip
        self.sink = sink
        self.pool = pool
        self.conninfo = conninfo
        self.options = options
        self.connected = False
        self._wake = asyncio.Event()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen(), name="inbox-listen")
        backoff = Backoff(base=0.5, cap=10.0)
        last = 0
        try:
            while True:
                try:
                    last = await self._drain(last)
                    backoff.reset()
                except RETRYABLE as exc:
                    last = 0  # read again from the first row not deleted: duplicates are ignored
                    log.warning("MQTT log: %s; retrying", exc)
                    await asyncio.sleep(backoff.next())
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_S)
                self._wake.clear()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    async def _drain(self, last: int) -> int:
        """Hand over every row after ``last``; the last id handed over and handled."""
        while True:
            async with self.pool.connection() as conn:
                rows = await mqtt_inbox.after(conn, last, BATCH)
            if not rows:
                return last
            futures = []
            for row in rows:
                origin = {"topic": row.topic, "client": row.client, "log_id": row.id}
                item = self.options.inbound(row.topic, row.payload, origin)
                item.received_at = row.received_at.timestamp()
                futures.append(await self.sink.submit(item))
            await asyncio.gather(*futures)  # a pipeline that could not store them raises: rows stay
            async with self.pool.connection() as conn:
                await mqtt_inbox.handled(conn, rows[-1].id)
            last = rows[-1].id

    async def _listen(self) -> None:
        backoff = Backoff(base=0.5, cap=10.0)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                    await mqtt_inbox.listen(conn)
                    self.connected = True
                    backoff.reset()
                    async for _ in conn.notifies():
                        self._wake.set()
            except RETRYABLE as exc:
                self.connected = False
                log.warning("MQTT log listener: %s; reconnecting", exc)
                await asyncio.sleep(backoff.next())
