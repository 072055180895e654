"""Drains the outbox: claim due rows (row locks, so several notifiers can run), decide (silence, inhibit,
group), deliver, settle. A claimed batch keeps its id, which is the idempotency key every retry and any
notifier taking over an expired lease sends again; a notifier that dies mid-delivery therefore loses
nothing, and a receiver that deduplicates on the key sees each notification once.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import psycopg_pool

from sealguard.alerts import dispatch, paging
from sealguard.alerts.channels import Channels, DeliveryError, TopicSink
from sealguard.alerts.config import AlertingConfig
from sealguard.config import Settings
from sealguard.metrics import Metrics
from sealguard.retry import Backoff
from sealguard.schemas.outbox import OutboxRow
from sealguard.store import outbox
from sealguard.stream.outage import RETRYABLE

log = logging.getLogger("sealguard.roles.notifier")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Notifier:
    def __init__(
        self,
        pool: psycopg_pool.AsyncConnectionPool[Any],
        config: AlertingConfig,
        channels: Channels,
        *,
        poll_s: float = 0.5,
        lease_s: float = 60.0,
        retry_base_s: float = 2.0,
        retry_cap_s: float = 300.0,
        concurrency: int = 8,
        clock: Callable[[], datetime] = _utcnow,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.pool = pool
        self.config = config
        self.channels = channels
        self.poll_s = poll_s
        self.lease_s = lease_s
        self.retry_base_s = retry_base_s
        self.retry_cap_s = retry_cap_s
        self.clock = clock
        self.rng = rng or random.Random()
        self.metrics = metrics or Metrics()
        self._slots = asyncio.Semaphore(concurrency)
        self._receivers = {r.name for r in config.receivers}
        self._stopping = False

    def request_stop(self) -> None:
        """Finish the deliveries in hand, then return from ``run``."""
        self._stopping = True

    async def run(self) -> None:
        outage = Backoff(base=self.poll_s, cap=5.0)
        while not self._stopping:
            delay = self.poll_s
            try:
                busy = await self.step()
                outage.reset()
            except RETRYABLE as exc:
                log.warning("notifier: database unavailable (%s)", exc)
                busy, delay = 0, outage.next()
            if not busy and not self._stopping:
                await asyncio.sleep(delay)

    async def step(self) -> int:
        """One round: returns how many batches were delivered or retried."""
        now = self.clock()
        async with self.pool.connection() as conn, conn.transaction():
            rows = await outbox.due_rows(conn, now, 500)
            if rows:
                claimed = await self._decide(conn, rows, now)
            else:
                claimed = []
            waiting, oldest = await outbox.depth(conn, now)
        self.metrics.outbox_depth.set(waiting)
        self.metrics.outbox_oldest_age.set(oldest)
        if claimed:
            await asyncio.gather(*(self._deliver(batch, key, alerts) for batch, key, alerts in claimed))
        return len(claimed)

    async def _decide(self, conn: psycopg.AsyncConnection[Any], rows: list[OutboxRow],
                      now: datetime) -> list[tuple[list[OutboxRow], str, list[dict[str, Any]]]]:  # fmt: skip
        docs = await outbox.alert_docs(conn, sorted({r.alert_id for r in rows}))
        tenants = sorted({r.tenant for r in rows})
        silences = await outbox.active_silences(conn, tenants, now)
        pairs = sorted({(d["tenant"], d["conveyance_id"]) for d in docs.values() if d.get("conveyance_id")})
        near = await outbox.open_alerts_near(conn, pairs)
        last = await outbox.group_last_sent(conn, sorted({(r.receiver, r.group_key) for r in rows}))
        decision = dispatch.plan(rows, docs, silences, near, last, self.config.inhibit_rules, self._receivers, now)
        await outbox.settle_each(conn, decision.skip)
        for _, status, _ in decision.skip:
            self.metrics.notifications.labels("-", status).inc()
        await outbox.defer(conn, decision.defer)
        lease = now + timedelta(seconds=self.lease_s)
        claimed = []
        for batch in decision.batches:
            key = await outbox.claim(conn, [r.id for r in batch], batch[0].batch_id, lease)
            claimed.append((batch, key, [docs[r.alert_id] for r in batch]))
        return claimed

    async def _deliver(self, batch: list[OutboxRow], key: str, alerts: list[dict[str, Any]]) -> None:
        first = batch[0]
        receiver = self.config.receiver(first.receiver)
        async with self._slots:
            started = time.perf_counter()
            try:
                await self.channels.send(receiver, first.kind, first.group_key, alerts, key)
                error: DeliveryError | None = None
            except DeliveryError as exc:
                error = exc
            self.metrics.delivery_seconds.labels(receiver.channel).observe(time.perf_counter() - started)
        now = self.clock()
        async with self.pool.connection() as conn, conn.transaction():
            if error is None:
                await outbox.delivered(conn, batch, now)
                if any(r.repeat_interval for r in batch):
                    # Locked against a person's action, so an acknowledgement either comes first and stops
                    # the repeat, or comes after and cancels it.
                    docs = await outbox.alert_docs(conn, sorted({r.alert_id for r in batch}), share=True)
                    await outbox.insert(conn, paging.repeats(batch, docs, now))
                self.metrics.notifications.labels(receiver.channel, "sent").inc(len(batch))
                for r in batch:
                    self.metrics.notify_latency.labels(receiver.channel).observe((now - r.created_at).total_seconds())
            elif error.retryable:
                at = dispatch.retry_at(first.attempts, now, self.retry_base_s, self.retry_cap_s, self.rng)
                await outbox.retry_later(conn, batch, str(error), at)
                self.metrics.notifications.labels(receiver.channel, "retry").inc(len(batch))
                log.warning("%s to %s failed (%s); retrying at %s", first.kind, receiver.name, error, at.isoformat())
            else:
                await outbox.failed(conn, batch, str(error))
                self.metrics.notifications.labels(receiver.channel, "failed").inc(len(batch))
                log.error("%s to %s failed for good: %s", first.kind, receiver.name, error)


Closer = Callable[[], Awaitable[None]]


def configured_notifier(pool: psycopg_pool.AsyncConnectionPool[Any], alerting: AlertingConfig, settings: Settings,
                        sinks: dict[str, TopicSink], metrics: Metrics) -> tuple[Notifier, list[Closer]]:  # fmt: skip
    """A notifier as the settings configure it (``up`` and the notifier role alike), with the closers of
    the clients it owns (its HTTP client and the topic sinks), to call after it stopped."""
    http = httpx.AsyncClient()
    notifier = Notifier(pool, alerting, Channels(alerting, http, sinks), poll_s=settings.notify_poll_s,
                        lease_s=settings.notify_lease_s, retry_base_s=settings.notify_retry_base_s,
                        retry_cap_s=settings.notify_retry_cap_s, metrics=metrics)  # fmt: skip
    return notifier, [http.aclose, *(sink.close for sink in sinks.values())]


async def close_all(closers: list[Closer]) -> None:
    for close in closers:
        with contextlib.suppress(Exception):
            await close()
