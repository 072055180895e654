"""The one wiring of a process's parts, for ``sealguard up`` (every part) and each split role (a subset):
the HTTP application's lifespan opens them in this order and closes them in reverse, so intake stops
first (sources), what is in hand is answered (the gateway and its log), the worker commits and
checkpoints its batch, deliveries in hand finish, and the pool closes last."""

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg_pool

from sealguard.alerts import config as alerting_config
from sealguard.alerts.config import AlertingConfig
from sealguard.config import Settings
from sealguard.ingest.kafka import KafkaOptions
from sealguard.roads import RoadMap
from sealguard.roles import housekeeping
from sealguard.roles.actions import ControlledActions
from sealguard.roles.gateway import Gateway
from sealguard.roles.notifier import Notifier, close_all
from sealguard.roles.serving import stop_task
from sealguard.roles.worker import Worker
from sealguard.stream.live import PgUpdates, UpdateHub


@dataclass(kw_only=True)
class Parts:
    """What one process runs. Each part is optional: a role is the parts it has."""

    pool: psycopg_pool.AsyncConnectionPool[Any]
    database_url: str
    gateway: Gateway | None = None
    actions: ControlledActions | None = None  # people's actions, and the relay of their control records
    worker: Worker | None = None
    notifier: Notifier | None = None
    closers: list[Any] = field(default_factory=list)  # the notifier's clients
    sources: list[Any] = field(default_factory=list)  # transports feeding the gateway
    hub: UpdateHub | None = None  # live updates for the web API's streams
    retention: timedelta | None = None  # dead letters older than this are pruned (hourly); None: not here
    tasks: list["asyncio.Task[Any]"] = field(default_factory=list)  # what runs, by name, for tests and health


Background = tuple[tuple[str, Callable[[], Coroutine[Any, Any, None]]], ...]


async def open_parts(stack: contextlib.AsyncExitStack, parts: Parts, background: Background = ()) -> None:
    """Open ``parts`` and push each one's closing onto ``stack``; ``background`` (name, what to run) runs
    beside them."""
    await parts.pool.open(wait=True, timeout=30)
    stack.push_async_callback(parts.pool.close)
    if parts.notifier is not None:
        task = _run(parts, parts.notifier.run(), "notifier")
        stack.push_async_callback(close_all, parts.closers)
        stack.push_async_callback(stop_task, task, parts.notifier.request_stop, 10)
    if parts.worker is not None:
        task = _run(parts, parts.worker.run(), "worker")
        stack.push_async_callback(parts.worker.stop)  # checkpoint what it owns, after its loop ended
        stack.push_async_callback(stop_task, task, parts.worker.request_stop, 15)
    if parts.gateway is not None:
        await parts.gateway.start()
        stack.push_async_callback(parts.gateway.stop)
    if parts.actions is not None:
        stack.push_async_callback(stop_task, _run(parts, parts.actions.relay(), "control-relay"), None, 0)
    if parts.hub is not None:
        listener = PgUpdates(parts.database_url, parts.hub)
        stack.push_async_callback(stop_task, _run(parts, listener.run(), "live-updates"), None, 0)
        await asyncio.wait_for(listener.listening.wait(), 30)
    if parts.retention is not None:
        keeping = housekeeping.run(parts.pool, parts.retention)
        stack.push_async_callback(stop_task, _run(parts, keeping, "housekeeping"), None, 0)
    for name, run in background:
        stack.push_async_callback(stop_task, _run(parts, run(), name), None, 0)
    for source in parts.sources:
        task = _run(parts, source.run(), type(source).__name__)
        stack.push_async_callback(stop_task, task, getattr(source, "request_stop", None), 5)


def kafka_options(s: Settings) -> KafkaOptions:
    return KafkaOptions(s.kafka_bootstrap or "", s.kafka_topic, s.kafka_group, s.kafka_security_protocol,
                        s.kafka_sasl_mechanism, s.kafka_sasl_username,
                        s.kafka_sasl_password.get_secret_value() if s.kafka_sasl_password else None,
                        s.kafka_ca_file)  # fmt: skip


def roads_of(s: Settings) -> RoadMap | None:
    """The operator's roads for the offline map, read once at start (a bad file stops the start, with why)."""
    return RoadMap.load(s.map_roads) if s.map_roads else None


def alerting_of(s: Settings) -> AlertingConfig:
    alerting = alerting_config.load(s.alerting)
    if "public_url" not in alerting.model_fields_set:
        alerting = alerting.model_copy(update={"public_url": s.public_url or f"http://{s.http}"})
    return alerting


def _run(parts: Parts, coro: Coroutine[Any, Any, Any], name: str) -> "asyncio.Task[Any]":
    task = asyncio.create_task(coro, name=name)
    parts.tasks.append(task)
    return task
