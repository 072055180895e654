"""``sealguard up``: the split roles in one process (gateway, worker, notifier, api) over the embedded
log in PostgreSQL (``stream.log``), with embedded servers started for whatever is not configured, and a
clean shutdown on SIGINT/SIGTERM. From the log onwards this is the code ``sealguard worker`` runs."""

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import orjson
import psycopg
import psycopg_pool
from psycopg.types.json import set_json_dumps

from sealguard.alerts.channels import TopicSink
from sealguard.alerts.config import AlertingConfig
from sealguard.config import Settings, signing_key_path
from sealguard.embedded import mqtt_access
from sealguard.embedded.inbox_source import InboxSource
from sealguard.embedded.mqtt_access import CredentialFiles, MonitorLogin, monitor_login
from sealguard.embedded.servers import DataDirLock, EmbeddedPostgres, MqttBroker, MqttFront, write_private
from sealguard.errors import SealguardError
from sealguard.ingest.kafka import KafkaOptions, KafkaSource
from sealguard.ingest.mqtt import MqttOptions, MqttSource
from sealguard.metrics import Metrics
from sealguard.roles.actions import ControlledActions
from sealguard.roles.gateway import Gateway
from sealguard.roles.notifier import configured_notifier
from sealguard.roles.parts import Parts, alerting_of, kafka_options, open_parts, roads_of
from sealguard.roles.serving import Serving
from sealguard.roles.topic_sinks import KafkaSink, MqttSink
from sealguard.roles.worker import Worker
from sealguard.rules.policy import Policy
from sealguard.store import tokens
from sealguard.store.migrate import migrate
from sealguard.stream.interop import DeviceBook, TranslatingSink
from sealguard.stream.live import UpdateHub
from sealguard.stream.log import EMBEDDED_TOPIC, PgLog, PgLogConsumer, Tail, lock_log
from sealguard.stream.verdicts import Decoded, Verdicts
from sealguard.web.app import Runtime, create_app
from sealguard.web.bodies import limits_of
from sealguard.web.signin import signin_of

log = logging.getLogger("sealguard")
CREDENTIALS_POLL_S = 1.0


class DataDirBusy(SealguardError, RuntimeError):
    """Another monitor (or demo) holds the data directory."""


def open_pool(url: str, *, max_size: int = 10) -> psycopg_pool.AsyncConnectionPool[Any]:
    return psycopg_pool.AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        open=False,
        timeout=5.0,
        kwargs={"options": "-c timezone=UTC", "connect_timeout": 5},
        check=psycopg_pool.AsyncConnectionPool.check_connection,
        configure=_configure,
    )


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    # Jsonb parameters through orjson: the standard library's encoder was a tenth of a worker's time.
    set_json_dumps(json_dumps, conn)


def json_dumps(value: Any) -> bytes:
    """orjson, with the standard library for what orjson refuses (e.g. integers beyond 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value, allow_nan=False).encode()


async def migrate_url(url: str) -> list[str]:
    async with await psycopg.AsyncConnection.connect(url, connect_timeout=10) as conn:
        return await migrate(conn)


async def admin_token(conn: psycopg.AsyncConnection[Any], data_dir: Path) -> str:
    """The bootstrap admin token: created on first start, kept in ``{data_dir}/admin-token``."""
    path = data_dir / "admin-token"
    if path.exists():
        token = path.read_text().strip()
        if await tokens.lookup(conn, token) is not None:
            return token
    token = await tokens.create(conn, tokens.ALL_TENANTS, "admin", label="bootstrap admin")
    write_private(path, token + "\n")
    return token


def embedded_url_file(data_dir: Path) -> Path:
    """Where a running ``up`` says how to reach its embedded database (the port differs each start)."""
    return data_dir / "postgres.url"


@dataclass
class Monitor:
    """The running pieces, so tests and ``up`` share one wiring.

    ``start`` prepares what outlives the web application (the data-directory lock, embedded servers,
    migrations, the bootstrap token, broker credentials) and builds the parts; the application's
    lifespan then owns the pool, the gateway and its log, the worker, the notifier and its clients, and the
    transports: it opens them before the first request and closes them, sources first, when the server
    stops."""

    settings: Settings
    database_url: str = ""
    mqtt_url: str = ""
    token: str = ""
    embedded: list[Any] = field(default_factory=list)
    pool: psycopg_pool.AsyncConnectionPool[Any] | None = None
    gateway: Gateway | None = None
    worker: Worker | None = None
    actions: ControlledActions | None = None
    sources: list[Any] = field(default_factory=list)
    parts: Parts | None = None  # what the lifespan opens (sealguard.roles.parts, shared with the split roles)
    _lock: DataDirLock | None = None
    token_id: int = 0
    broker_port: int | None = None  # the embedded broker's public port (its login front)
    role_topics: bool = False
    metrics: Metrics = field(default_factory=Metrics)  # this monitor's registry, served on /metrics
    hub: UpdateHub = field(default_factory=UpdateHub)  # live updates for the web API's streams
    serving: Serving | None = None
    _keeper: Any = None
    _app: Any = None  # (files, login, broker) when the embedded broker's credentials are kept current

    def device_mqtt_url(self) -> str:
        """How a device holding the admin token logs in (the embedded broker admits tokens only)."""
        if self.broker_port is None:
            return self.mqtt_url
        return f"mqtt://device:{quote(self.token, safe='')}@127.0.0.1:{self.broker_port}"

    async def start(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        # One monitor per data directory: the lock dies with its owner (even by kill -9), so a free lock
        # means embedded servers found running are orphans this start may stop or adopt.
        self._lock = DataDirLock(s.data_dir)
        if not self._lock.acquire():
            raise DataDirBusy(f"another sealguard is running on the data directory {s.data_dir.resolve()}")
        self.database_url = s.database_url or ""
        if not self.database_url:
            pg = EmbeddedPostgres(s.data_dir / "postgres")
            await asyncio.to_thread(pg.start)
            self.embedded.append(pg)
            self.database_url = pg.url
            write_private(embedded_url_file(s.data_dir), pg.url + "\n")
        applied = await migrate_url(self.database_url)
        if applied:
            log.info("migrations applied: %s", ", ".join(applied))
        async with await psycopg.AsyncConnection.connect(self.database_url, connect_timeout=10) as conn:
            self.token = await admin_token(conn, s.data_dir)
            admin = await tokens.lookup(conn, self.token)
        self.token_id = admin.token_id if admin else 0
        mqtt_protocol, client_id, role_topics = s.mqtt_protocol, s.mqtt_client_id, s.mqtt_acl == "sealguard"
        self.mqtt_url = s.mqtt_url or ""
        if not self.mqtt_url:
            login, broker = await self._embedded_broker()
            self.mqtt_url, mqtt_protocol = broker.url_for(login.username, login.password), broker.protocol
            client_id, role_topics = login.client_id, True
        self.role_topics = role_topics
        self._build(client_id, mqtt_protocol, role_topics)
        await self._serve()

    def _build(self, client_id: str, mqtt_protocol: str, role_topics: bool) -> None:
        """The parts, not yet running: the lifespan starts them."""
        s = self.settings
        self.pool = open_pool(self.database_url)
        policy = Policy.load(s.policy) if s.policy else Policy()
        alerting = alerting_of(s)
        verdicts, decoded = Verdicts(), Decoded()
        tail = Tail()  # what the log's writer committed, handed to its reader in this process
        log_ = PgLog(self.pool, s.log_partitions, tail=tail)
        whole = s.log_partitions == 1  # one engine over every conveyance: exactly `sealguard replay`'s decisions
        self.gateway = Gateway(self.pool, log_, verdicts=verdicts, decoded=decoded, edge=not whole,
                               max_future_skew=s.max_future_skew or None, queue_size=s.queue_size,
                               metrics=self.metrics, dead_letters=s.dead_letter_limits,
                               max_event_bytes=s.max_event_bytes)  # fmt: skip
        pool, url, partitions = self.pool, self.database_url, s.log_partitions
        self.worker = Worker(self.pool, None, policy, alerting=alerting, owner="up", metrics=self.metrics,
                             idle_advance_after=s.idle_advance_after, checkpoint_every_s=s.checkpoint_every_s,
                             checkpoint_every_records=s.checkpoint_every_records, dead_letters=s.dead_letter_limits,
                             consumer=lambda assigned, revoked: PgLogConsumer(pool, url, partitions, assigned,
                                                                              revoked, metrics=self.metrics.ingest,
                                                                              tail=tail),
                             topic=EMBEDDED_TOPIC, verdicts=verdicts, decoded=decoded,
                             whole=whole)  # fmt: skip
        self.actions = ControlledActions(self.pool, alerting, log_)
        options = MqttOptions(self.mqtt_url, client_id=client_id, protocol=mqtt_protocol,
                              shared_group=s.mqtt_shared_group, ca_file=s.mqtt_ca_file,
                              role_topics=role_topics)  # fmt: skip
        kafka = kafka_options(s)
        self.parts = Parts(pool=self.pool, database_url=self.database_url, gateway=self.gateway, actions=self.actions,
                           worker=self.worker, sources=self.sources, hub=self.hub,
                           retention=s.dead_letter_limits.retention)  # fmt: skip
        if s.notifier:
            self._build_notifier(alerting, options, kafka if s.kafka_bootstrap else None)
        mqtt = MqttSource(TranslatingSink(self.gateway, DeviceBook(self.pool)), options, metrics=self.metrics.ingest)
        self.sources.append(mqtt)
        brokers: dict[str, Any] = {"mqtt": mqtt, "log": self.worker}
        if (
            self._keeper is not None
        ):  # the embedded front door logs devices' publishes; this reads them (sealguard.embedded.mqtt_front)
            inbox = InboxSource(TranslatingSink(self.gateway, DeviceBook(self.pool)), self.pool, self.database_url,
                                options)  # fmt: skip
            self.sources.append(inbox)
            brokers["mqtt-log"] = inbox
        if s.kafka_bootstrap:
            kafka_source = KafkaSource(self.gateway, kafka, metrics=self.metrics.ingest)
            self.sources.append(kafka_source)
            brokers["kafka"] = kafka_source
        rt = Runtime(
            pool=self.pool,
            sink=self.gateway,
            actions=self.actions,
            hub=self.hub,
            limits=limits_of(s),
            brokers=brokers,
            rate_per_s=s.http_rate_per_s,
            rate_burst=s.http_rate_burst,
            metrics_token=s.metrics_token.get_secret_value() if s.metrics_token else None,
            registry=self.metrics.registry,
            signin=signin_of(s),
            map_tile_url=s.map_tile_url,
            map_attribution=s.map_attribution,
            roads=roads_of(s),
            signing_key=signing_key_path(s),
            site_name=s.site_name,
            photo_max_bytes=s.photo_max_bytes,
            photo_location=s.photo_location,
            two_person_rules=list(alerting_of(s).two_person_rules),
            policy_path=s.policy,
        )
        self.serving = Serving(self._open_parts)
        self._app = create_app(rt, lifespan=self.serving.lifespan)

    async def _serve(self) -> None:
        """Run the HTTP server (its lifespan starts every part) and return once it listens; raise why not."""
        assert self.serving is not None
        await self.serving.start(
            self._app, self.settings.http_host, self.settings.http_port, self.settings.trusted_proxies
        )

    async def _open_parts(self, stack: contextlib.AsyncExitStack) -> None:
        """The roles' parts in the one wiring (``sealguard.roles.parts``), after the embedded log's reader lock."""
        assert self.parts is not None
        lock = await lock_log(self.database_url)  # one reader of this database's log
        stack.push_async_callback(lock.close)
        keeper = self._keeper
        keeping = (("mqtt-auth", lambda: self._keep_credentials(*keeper)),) if keeper is not None else ()
        await open_parts(stack, self.parts, keeping)

    async def _embedded_broker(self) -> tuple[MonitorLogin, MqttBroker]:
        """The embedded broker, with no anonymous access: its credentials are written from the tokens
        before it starts (or before an orphan broker is adopted and told to reload), then kept current."""
        s = self.settings
        login = monitor_login(s.data_dir / "mqtt-monitor.secret")
        files = CredentialFiles(s.data_dir / "mqtt-auth")
        async with await psycopg.AsyncConnection.connect(self.database_url, connect_timeout=10) as conn:
            await tokens.ensure_mqtt_hash(conn, self.token)
            await mqtt_access.sync(conn, files, login)
        # The broker listens on a private port (kept from one start to the next, so that a broker left by a
        # killed monitor can be adopted); devices reach it through the login front on the public port.
        port_file = s.data_dir / "mqtt-broker.port"
        private = int(port_file.read_text()) if port_file.exists() else None
        broker = MqttBroker(s.data_dir / "mqtt", private, prefer=s.mqtt_embedded, credentials=files.folder,
                            movable=True)  # fmt: skip
        await asyncio.to_thread(broker.start)
        port_file.write_text(f"{broker.port}\n")
        broker.reload()
        self.embedded.append(broker)
        front = MqttFront(s.data_dir / "mqtt-front", s.mqtt_embedded_port, broker_port=broker.port,
                          credentials=files.folder, database_url=self.database_url)  # fmt: skip
        await asyncio.to_thread(front.start)
        self.embedded.append(front)
        self.broker_port = front.port
        self._keeper = (files, login, broker)
        return login, broker

    async def _keep_credentials(self, files: CredentialFiles, login: MonitorLogin, broker: MqttBroker) -> None:
        """Rewrite the broker's credentials within a second of a token being created or revoked."""
        assert self.pool is not None
        seen: tuple[Any, ...] = ()
        while True:
            await asyncio.sleep(CREDENTIALS_POLL_S)
            try:
                async with self.pool.connection() as conn:
                    now = await tokens.fingerprint(conn)
                    if now != seen and await mqtt_access.sync(conn, files, login):
                        broker.reload()
                    seen = now
            except (psycopg.Error, psycopg_pool.PoolTimeout, OSError) as exc:
                log.warning("could not refresh the MQTT credentials (%s); retrying", exc)

    def _build_notifier(self, alerting: AlertingConfig, mqtt: MqttOptions, kafka: KafkaOptions | None) -> None:
        assert self.pool is not None and self.parts is not None
        sinks: dict[str, TopicSink] = {"mqtt": MqttSink(mqtt)}
        if kafka is not None:
            sinks["kafka"] = KafkaSink(kafka)
        self.parts.notifier, self.parts.closers = configured_notifier(self.pool, alerting, self.settings, sinks,
                                                                      self.metrics)  # fmt: skip

    async def stop(self) -> None:
        """Stop the server (its lifespan stops consuming, flushes and snapshots, finishes deliveries in
        hand, closes the pool), then the embedded servers."""
        if self.serving is not None:
            await self.serving.stop()
        for server in reversed(self.embedded):
            await asyncio.to_thread(server.stop)
        if self._lock is not None:
            self._lock.release()

    def _device_broker(self) -> str:
        return f"mqtt://127.0.0.1:{self.broker_port}" if self.broker_port else _redact(self.mqtt_url)

    def banner(self) -> str:
        s = self.settings
        base = f"http://{s.http}"
        token_file = s.data_dir.resolve() / "admin-token"
        # The token itself is never printed: banners end up in logs that more people read than should.
        lines = [
            "sealguard is running",
            f"  dashboard    {base}/   console: {base}/console   fleet: {base}/fleet   dock: {base}/dock",
            "               people sign in as themselves: `sealguard person add`, or single sign-on (oidc_*)",
            f"  API          {base}/api/v1/  (OpenAPI: {base}/api/v1/openapi.json)",
            f'  alerts       curl -H "Authorization: Bearer $(cat {token_file})" {base}/api/v1/alerts',
            f"  metrics      {base}/metrics    health: {base}/healthz  {base}/readyz",
            f"  MQTT         {self._device_broker()}  topic sealguard/v1/{{tenant}}/events",
            "               devices log in with an API token as the password (any user name)",
            f"  database     {_redact(self.database_url)}",
            f"  data dir     {s.data_dir.resolve()}",
            f"  admin token  in {token_file} (mode 0600)",
        ]
        if s.kafka_bootstrap:
            lines.insert(5, f"  Kafka        {s.kafka_bootstrap}  topic {s.kafka_topic}")
        return "\n".join(lines)


def _redact(url: str) -> str:
    """A URL with its password replaced, for banners and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
