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
from typing import Any, Literal

from sealguard import housekeeping
from sealguard.alerts import config as alerting_config
from sealguard.alerts.channels import TopicSink
from sealguard.alerts.config import AlertingConfig
from sealguard.api_actions import ControlledActions
from sealguard.config import Settings
from sealguard.errors import SealguardError
from sealguard.gateway import KafkaForwarder
from sealguard.ingest.kafka import KafkaOptions, ensure_topic
from sealguard.ingest.mqtt import MqttOptions, MqttSource
from sealguard.interop import DeviceBook, TranslatingSink
from sealguard.live import PgUpdates, UpdateHub
from sealguard.metrics import Metrics
from sealguard.notifier import Notifier, close_all, configured_notifier
from sealguard.rules.policy import Policy
from sealguard.runtime import migrate_url, open_pool
from sealguard.serving import Serving, stop_task
from sealguard.topic_sinks import KafkaSink, MqttSink
from sealguard.web.app import HealthRuntime, Runtime, create_app, create_health_app
from sealguard.web.bodies import limits_of
from sealguard.web.signin import signin_of
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
        self.serving = Serving(self._open)
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
                                            queue_size=s.queue_size, metrics=self.metrics,
                                            dead_letters=s.dead_letter_limits,
                                            max_event_bytes=s.max_event_bytes)  # fmt: skip
            actions = ControlledActions(self.pool, alerting_of(s), self.options)
            self.parts.append(actions)
            brokers: dict[str, Any] = {}
            if self.role == "gateway":
                group = s.mqtt_shared_group or ("sealguard-gateways" if s.mqtt_protocol == "5" else None)
                mqtt = MqttSource(TranslatingSink(self.forwarder, DeviceBook(self.pool)), MqttOptions(
                    s.mqtt_url or "mqtt://127.0.0.1:1883", client_id=s.worker_id or f"sg-gw-{_me()}",
                    protocol=s.mqtt_protocol, shared_group=group, ca_file=s.mqtt_ca_file,
                    role_topics=s.mqtt_acl == "sealguard"), metrics=self.metrics.ingest)  # fmt: skip
                if s.mqtt_url:
                    self.parts.append(mqtt)
                    brokers["mqtt"] = mqtt
            rt = Runtime(pool=self.pool, sink=self.forwarder, actions=actions, hub=self.hub, brokers=brokers,
                         limits=limits_of(s), rate_per_s=s.http_rate_per_s,
                         rate_burst=s.http_rate_burst, metrics_token=token, registry=self.metrics.registry,
                         signin=signin_of(s), map_tile_url=s.map_tile_url,
                         map_attribution=s.map_attribution)  # fmt: skip
            app = create_app(rt, lifespan=self.serving.lifespan)
        else:
            brokers = {}
            if self.role == "worker":
                policy = Policy.load(s.policy) if s.policy else Policy()
                self.worker = Worker(self.pool, self.options, policy, alerting=alerting_of(s),
                                     owner=s.worker_id or f"{socket.gethostname()}-{os.getpid()}",
                                     idle_advance_after=s.idle_advance_after, metrics=self.metrics,
                                     checkpoint_every_s=s.checkpoint_every_s,
                                     checkpoint_every_records=s.checkpoint_every_records,
                                     dead_letters=s.dead_letter_limits)  # fmt: skip
                self.parts.append(self.worker)
                brokers["kafka"] = self.worker
            else:
                self.parts.append(self._notifier(alerting_of(s)))
            health = HealthRuntime(pool=self.pool, brokers=brokers, metrics_token=token, registry=self.metrics.registry)
            app = create_health_app(health, lifespan=self.serving.lifespan)
        await self.serving.start(app, s.http_host, s.http_port, s.trusted_proxies)

    def _notifier(self, alerting: AlertingConfig) -> Notifier:
        s = self.settings
        sinks: dict[str, TopicSink] = {}
        if s.mqtt_url:
            sinks["mqtt"] = MqttSink(MqttOptions(s.mqtt_url, client_id=s.worker_id or f"sg-notifier-{_me()}",
                                                 protocol=s.mqtt_protocol, ca_file=s.mqtt_ca_file))  # fmt: skip
        if s.kafka_bootstrap:
            sinks["kafka"] = KafkaSink(self.options)
        notifier, self._closers = configured_notifier(self.pool, alerting, s, sinks, self.metrics)
        return notifier

    async def _open(self, stack: contextlib.AsyncExitStack) -> None:
        await self.pool.open(wait=True, timeout=30)
        stack.push_async_callback(self.pool.close)
        if self.forwarder is not None:
            await self.forwarder.start()
            stack.push_async_callback(self.forwarder.stop)
            listener = PgUpdates(str(self.settings.database_url), self.hub)
            stack.push_async_callback(stop_task, asyncio.create_task(listener.run(), name="live-updates"), None, 0)
            keeping = housekeeping.run(self.pool, self.settings.dead_letter_limits.retention)
            stack.push_async_callback(stop_task, asyncio.create_task(keeping, name="housekeeping"), None, 0)
        for part in self.parts:
            if isinstance(part, ControlledActions):
                stack.push_async_callback(stop_task, asyncio.create_task(part.relay(), name="control-relay"), None, 0)
            elif isinstance(part, Notifier):
                task = asyncio.create_task(part.run(), name="notifier")
                stack.push_async_callback(close_all, self._closers)
                stack.push_async_callback(stop_task, task, part.request_stop, 10)
            elif isinstance(part, Worker):
                task = asyncio.create_task(part.run(), name="worker")
                stack.push_async_callback(part.stop)  # checkpoint what it owns, after its loop ended
                stack.push_async_callback(stop_task, task, part.request_stop, 15)
            elif isinstance(part, MqttSource):
                stack.push_async_callback(stop_task, asyncio.create_task(part.run(), name="mqtt"), None, 0)

    async def stop(self) -> None:
        await self.serving.stop()

    def banner(self) -> str:
        s = self.settings
        return (f"sealguard {self.role} is running: http://{s.http}/healthz  /readyz  /metrics"
                f"  (Kafka {s.kafka_bootstrap or '-'} topic {s.kafka_topic})")  # fmt: skip


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
