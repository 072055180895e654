"""The split roles as processes (``sealguard gateway | worker | notifier | api``), over an external
PostgreSQL and Kafka. ``sealguard up`` keeps every role in one process (``runtime.Monitor``).

Each role serves HTTP for probes and metrics; the gateway and the api role serve the web API too (the
api role for people, the gateway for devices that post). Like ``up``, the HTTP application's lifespan
opens and closes the role's parts, so a stop (SIGTERM) ends intake first, then finishes what is in hand.
"""

import contextlib
import logging
import os
import socket
from typing import Any, Literal

from sealguard.alerts.channels import TopicSink
from sealguard.alerts.config import AlertingConfig
from sealguard.config import Settings, signing_key_path
from sealguard.errors import SealguardError
from sealguard.ingest.kafka import ensure_topic
from sealguard.ingest.mqtt import MqttOptions, MqttSource
from sealguard.metrics import Metrics
from sealguard.roles.actions import ControlledActions
from sealguard.roles.gateway import Gateway
from sealguard.roles.monitor import migrate_url, open_pool
from sealguard.roles.notifier import Notifier, configured_notifier
from sealguard.roles.parts import Parts, alerting_of, kafka_options, open_parts, roads_of
from sealguard.roles.serving import Serving
from sealguard.roles.topic_sinks import KafkaSink, MqttSink
from sealguard.roles.worker import Worker
from sealguard.rules.policy import Policy
from sealguard.stream.interop import DeviceBook, TranslatingSink
from sealguard.stream.live import UpdateHub
from sealguard.stream.log import KafkaLog
from sealguard.web.app import HealthRuntime, Runtime, create_app, create_health_app
from sealguard.web.bodies import limits_of
from sealguard.web.signin import signin_of

log = logging.getLogger("sealguard.roles.split")
Role = Literal["gateway", "worker", "notifier", "api"]
ROLES: tuple[Role, ...] = ("gateway", "worker", "notifier", "api")


class RoleConfigError(SealguardError):
    """A split role started without what it needs (an external database, Kafka)."""


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
        assert settings.database_url is not None
        self.parts = Parts(pool=self.pool, database_url=settings.database_url)
        self.serving = Serving(self._open)
        self.worker: Worker | None = None
        self.forwarder: Gateway | None = None

    async def start(self) -> None:
        s = self.settings
        assert s.database_url is not None
        await migrate_url(s.database_url)
        if self.role in ("gateway", "worker", "api"):
            await ensure_topic(self.options, s.kafka_partitions)
        token = s.metrics_token.get_secret_value() if s.metrics_token else None
        if self.role in ("gateway", "api"):
            kafka_log = KafkaLog(self.options)
            self.forwarder = Gateway(self.pool, kafka_log, max_future_skew=s.max_future_skew or None,
                                            queue_size=s.queue_size, metrics=self.metrics,
                                            dead_letters=s.dead_letter_limits,
                                            max_event_bytes=s.max_event_bytes)  # fmt: skip
            actions = ControlledActions(self.pool, alerting_of(s), kafka_log)
            self.parts.gateway, self.parts.actions, self.parts.hub = self.forwarder, actions, self.hub
            self.parts.retention = s.dead_letter_limits.retention
            brokers: dict[str, Any] = {}
            if self.role == "gateway":
                group = s.mqtt_shared_group or ("sealguard-gateways" if s.mqtt_protocol == "5" else None)
                mqtt = MqttSource(TranslatingSink(self.forwarder, DeviceBook(self.pool)), MqttOptions(
                    s.mqtt_url or "mqtt://127.0.0.1:1883", client_id=s.worker_id or f"sg-gw-{_me()}",
                    protocol=s.mqtt_protocol, shared_group=group, ca_file=s.mqtt_ca_file,
                    role_topics=s.mqtt_acl == "sealguard"), metrics=self.metrics.ingest)  # fmt: skip
                if s.mqtt_url:
                    self.parts.sources.append(mqtt)
                    brokers["mqtt"] = mqtt
            rt = Runtime(pool=self.pool, sink=self.forwarder, actions=actions, hub=self.hub, brokers=brokers,
                         limits=limits_of(s), rate_per_s=s.http_rate_per_s,
                         rate_burst=s.http_rate_burst, metrics_token=token, registry=self.metrics.registry,
                         signin=signin_of(s), map_tile_url=s.map_tile_url,
                         map_attribution=s.map_attribution, roads=roads_of(s), signing_key=signing_key_path(s),
                         site_name=s.site_name, photo_max_bytes=s.photo_max_bytes,
                         photo_location=s.photo_location,
                         two_person_rules=list(alerting_of(s).two_person_rules), policy_path=s.policy)  # fmt: skip
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
                self.parts.worker = self.worker
                brokers["kafka"] = self.worker
            else:
                self.parts.notifier = self._notifier(alerting_of(s))
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
        notifier, self.parts.closers = configured_notifier(self.pool, alerting, s, sinks, self.metrics)
        return notifier

    async def _open(self, stack: contextlib.AsyncExitStack) -> None:
        await open_parts(stack, self.parts)

    async def stop(self) -> None:
        await self.serving.stop()

    def banner(self) -> str:
        s = self.settings
        return (f"sealguard {self.role} is running: http://{s.http}/healthz  /readyz  /metrics"
                f"  (Kafka {s.kafka_bootstrap or '-'} topic {s.kafka_topic})")  # fmt: skip


def _me() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"
