"""The split roles as processes (``sealguard gateway | worker | notifier | api``), over an external
PostgreSQL and Kafka. ``sealguard up`` keeps every role in one process (``runtime.Monitor``).

Each role serves HTTP for probes and metrics; the gateway and the api role serve the web API too (the
api role for people, the gateway for devices that post). Like ``up``, the HTTP application's lifespan
opens and closes the role's parts, so a stop (SIGTERM) ends intake first, then finishes what is in hand.
"""

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx
import uvicorn

from sealguard.alerts import config as alerting_config
from sealguard.alerts.channels import Channels, TopicSink
from sealguard.alerts.config import AlertingConfig
from sealguard.api_actions import ControlledActions
from sealguard.config import Settings
from sealguard.errors import SealguardError
from sealguard.gateway import KafkaForwarder
from sealguard.ingest.kafka import KafkaOptions, ensure_topic
from sealguard.ingest.mqtt import MqttOptions, MqttSource
from sealguard.live import PgUpdates, UpdateHub
from sealguard.metrics import Metrics
from sealguard.notifier import Notifier
from sealguard.rules.policy import Policy
from sealguard.runtime import QuietServer, migrate_url, open_pool
from sealguard.topic_sinks import KafkaSink, MqttSink
from sealguard.web.app import HealthRuntime, Runtime, create_app, create_health_app
from sealguard.worker import Worker

log = logging.getLogger("sealguard.roles")
Role = Literal["gateway", "worker", "notifier", "api"]
ROLES: tuple[Role, ...] = ("gateway", "worker", "notifier", "api")


class RoleConfigError(SealguardError):
    """A split role started without what it needs (an external database, Kafka)."""


def kafka_options(s: Settings) -> KafkaOptions:
    return KafkaOptions(s.kafka_bootstrap or "", s.kafka_topic, s.kafka_group, s.kafka_security_protocol,
                        s.kafka_sasl_mechanism, s.kafka_sasl_username,
                        s.kafka_sasl_password.get_secret_value() if s.kafka_sasl_password else None,
                        s.kafka_ca_file)  # fmt: skip


def alerting_of(s: Settings) -> AlertingConfig:
    alerting = alerting_config.load(s.alerting)
    if "public_url" not in alerting.model_fields_set:
        alerting = alerting.model_copy(update={"public_url": s.public_url or f"http://{s.http}"})
    return alerting


class RoleProcess:
    def __init__(self, role: Role, settings: Settings) -> None:
        if not settings.database_url:
            raise RoleConfigError(f"sealguard {role} needs SEALGUARD_DATABASE_URL (the split roles share a database)")
        if role != "notifier" and not settings.kafka_bootstrap:
            raise RoleConfigError(f"sealguard {role} needs SEALGUARD_KAFKA_BOOTSTRAP")
        self.role = role
        self.settings = settings
        self.metrics = Metrics()
        self.hub = UpdateHub()
        self.pool = open_pool(settings.database_url)
        self.options = kafka_options(settings)
        self.parts: list[Any] = []
        self.server: uvicorn.Server | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._error: BaseException | None = None
        self.worker: Worker | None = None
        self.forwarder: KafkaForwarder | None = None
        self._closers: list[Any] = []

    async def start(self) -> None:
        s = self.settings
        assert s.database_url is not None
        await migrate_url(s.database_url)
        if self.role in ("gateway", "worker", "api"):
            await ensure_topic(self.options, s.kafka_partitions)
        token = s.metrics_token.get_secret_value() if s.metrics_token else None
        if self.role in ("gateway", "api"):
            self.forwarder = KafkaForwarder(self.pool, self.options, max_future_skew=s.max_future_skew or None,
                                            queue_size=s.queue_size, metrics=self.metrics)  # fmt: skip
            actions = ControlledActions(self.pool, alerting_of(s), self.options)
            self.parts.append(actions)
            brokers: dict[str, Any] = {}
            if self.role == "gateway":
                group = s.mqtt_shared_group or ("sealguard-gateways" if s.mqtt_protocol == "5" else None)
                mqtt = MqttSource(self.forwarder, MqttOptions(
                    s.mqtt_url or "mqtt://127.0.0.1:1883", client_id=s.worker_id or f"sg-gw-{_me()}",
                    protocol=s.mqtt_protocol, shared_group=group, ca_file=s.mqtt_ca_file,
                    role_topics=s.mqtt_acl == "sealguard"), metrics=self.metrics.ingest)  # fmt: skip
                if s.mqtt_url:
                    self.parts.append(mqtt)
                    brokers["mqtt"] = mqtt
            rt = Runtime(pool=self.pool, sink=self.forwarder, actions=actions, hub=self.hub, brokers=brokers,
                         max_batch=s.http_max_batch, max_body=s.http_max_body, rate_per_s=s.http_rate_per_s,
                         rate_burst=s.http_rate_burst, metrics_token=token, registry=self.metrics.registry)  # fmt: skip
            app = create_app(rt, lifespan=self._lifespan)
        else:
            brokers = {}
            if self.role == "worker":
                policy = Policy.load(s.policy) if s.policy else Policy()
                self.worker = Worker(self.pool, self.options, policy, alerting=alerting_of(s),
                                     owner=s.worker_id or f"{socket.gethostname()}-{os.getpid()}",
                                     idle_advance_after=s.idle_advance_after, metrics=self.metrics,
                                     checkpoint_every_s=s.checkpoint_every_s,
                                     checkpoint_every_records=s.checkpoint_every_records)  # fmt: skip
                self.parts.append(self.worker)
                brokers["kafka"] = self.worker
            else:
                self.parts.append(self._notifier(alerting_of(s)))
            app = create_health_app(HealthRuntime(pool=self.pool, brokers=brokers, metrics_token=token,
                                                  registry=self.metrics.registry), lifespan=self._lifespan)  # fmt: skip
        config = uvicorn.Config(app, host=s.http_host, port=s.http_port, log_level="warning", lifespan="on",
                                access_log=False, timeout_graceful_shutdown=5)  # fmt: skip
        self.server = QuietServer(config)
        self._serve_task = asyncio.create_task(self.server.serve(), name="http")
        while not self.server.started:
            if self._serve_task.done():
                await self._close()
                if self._error is not None:
                    raise self._error
                self._serve_task.result()
                raise RoleConfigError(f"the HTTP server of sealguard {self.role} stopped while starting")
            await asyncio.sleep(0.05)

    def _notifier(self, alerting: AlertingConfig) -> Notifier:
        s = self.settings
        sinks: dict[str, TopicSink] = {}
        if s.mqtt_url:
            sinks["mqtt"] = MqttSink(MqttOptions(s.mqtt_url, client_id=s.worker_id or f"sg-notifier-{_me()}",
                                                 protocol=s.mqtt_protocol, ca_file=s.mqtt_ca_file))  # fmt: skip
        if s.kafka_bootstrap:
            sinks["kafka"] = KafkaSink(self.options)
        http = httpx.AsyncClient()
        self._closers = [http.aclose, *(sink.close for sink in sinks.values())]
        return Notifier(self.pool, alerting, Channels(alerting, http, sinks), poll_s=s.notify_poll_s,
                        lease_s=s.notify_lease_s, retry_base_s=s.notify_retry_base_s,
                        retry_cap_s=s.notify_retry_cap_s, metrics=self.metrics)  # fmt: skip

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Any) -> AsyncIterator[None]:
        try:
            await self._open()
        except BaseException as exc:
            self._error = exc
            await self._close()
            raise
        try:
            yield
        finally:
            await self._close()

    async def _open(self) -> None:
        stack = self._stack = contextlib.AsyncExitStack()
        await self.pool.open(wait=True, timeout=30)
        stack.push_async_callback(self.pool.close)
        if self.forwarder is not None:
            await self.forwarder.start()
            stack.push_async_callback(self.forwarder.stop)
            listener = PgUpdates(str(self.settings.database_url), self.hub)
            stack.push_async_callback(_cancel, asyncio.create_task(listener.run(), name="live-updates"))
        for part in self.parts:
            if isinstance(part, ControlledActions):
                stack.push_async_callback(_cancel, asyncio.create_task(part.relay(), name="control-relay"))
            elif isinstance(part, Notifier):
                task = asyncio.create_task(part.run(), name="notifier")
                stack.push_async_callback(self._stop_notifier, part, task)
            elif isinstance(part, Worker):
                task = asyncio.create_task(part.run(), name="worker")
                stack.push_async_callback(self._stop_worker, part, task)
            elif isinstance(part, MqttSource):
                stack.push_async_callback(_cancel, asyncio.create_task(part.run(), name="mqtt"))

    async def _stop_worker(self, worker: Worker, task: "asyncio.Task[None]") -> None:
        worker.request_stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), 15)
        except (TimeoutError, Exception):
            await _cancel(task)
        await worker.stop()

    async def _stop_notifier(self, notifier: Notifier, task: "asyncio.Task[None]") -> None:
        notifier.request_stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), 10)
        except (TimeoutError, Exception):
            await _cancel(task)
        for close in self._closers:
            with contextlib.suppress(Exception):
                await close()

    async def _close(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def stop(self) -> None:
        if self.server is not None and self._serve_task is not None:
            self.server.should_exit = True
            with contextlib.suppress(BaseException):
                await self._serve_task
        await self._close()

    def banner(self) -> str:
        s = self.settings
        return (f"sealguard {self.role} is running: http://{s.http}/healthz  /readyz  /metrics"
                f"  (Kafka {s.kafka_bootstrap or '-'} topic {s.kafka_topic})")  # fmt: skip


async def _cancel(task: "asyncio.Task[Any]") -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def _me() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def run_role(role: Role, settings: Settings) -> None:
    process = RoleProcess(role, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await process.start()
        print(process.banner(), flush=True)
        await stop.wait()
        log.info("stopping %s", role)
    finally:
        await process.stop()
