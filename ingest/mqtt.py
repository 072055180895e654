"""MQTT source (aiomqtt on paho-mqtt 2): QoS 1, persistent session, acknowledged after storage.

paho acknowledges a QoS 1 message as soon as its callback returns, before we have stored it; with
manual acknowledgement switched on *before connecting* (aiomqtt does not expose it, so we reach its
paho client), PUBACK is sent only once the event is committed. Unacknowledged messages come back on
reconnect, and the broker's in-flight limit is our backpressure.
"""

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sealguard.ingest.inbound import EventSink, Inbound, ItemResult
from sealguard.ingest.metrics import IngestMetrics
from sealguard.ingest.mqtt_acl import REFUSED_FILTER, owntracks_topic, refused_of, topic_facility, topic_role
from sealguard.ingest.mqtt_properties import share_property_tables
from sealguard.retry import Backoff

log = logging.getLogger("sealguard.mqtt")
share_property_tables()  # paho rebuilt its property tables for every MQTT 5 PUBLISH it read

TOPIC_FILTER = "sealguard/v1/+/events"
ROLE_TOPIC_FILTER = "sealguard/v1/+/events/+"
FACILITY_TOPIC_FILTER = "sealguard/v1/+/facility/+/events"  # facility-bound scanners (ingest.mqtt_acl)
OWNTRACKS_FILTERS = ("sealguard/v1/+/owntracks/+/+", "owntracks/+/+")


@dataclass(frozen=True, slots=True)
class MqttOptions:
    url: str  # mqtt://user:pass@host:port or mqtts://...
    client_id: str = "sealguard-monitor"
    protocol: str = "5"  # "5" or "3.1.1"
    shared_group: str | None = None  # MQTT 5 shared subscription group, for several monitors
    ca_file: str | None = None
    session_expiry_s: int = 7 * 24 * 3600
    role_topics: bool = False  # the broker confines the role topics (ingest.mqtt_acl): honour their role
    owntracks: bool = True  # also read OwnTracks apps (sealguard/v1/{tenant}/owntracks/{user}/{device})

    def connect_args(self) -> dict[str, Any]:
        parts = urlsplit(self.url)
        tls = parts.scheme in ("mqtts", "ssl")
        args: dict[str, Any] = {
            "hostname": parts.hostname or "127.0.0.1",
            "port": parts.port or (8883 if tls else 1883),
            "identifier": self.client_id,
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
        }
        if tls:
            args["tls_context"] = ssl.create_default_context(cafile=self.ca_file)
        if self.protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.session_expiry_s
            args.update(protocol=aiomqtt.ProtocolVersion.V5, clean_start=False, properties=props)
        else:
            args.update(protocol=aiomqtt.ProtocolVersion.V311, clean_session=False)
        return args

    def subscriptions(self) -> list[str]:
        filters = [TOPIC_FILTER, ROLE_TOPIC_FILTER] if self.role_topics else [TOPIC_FILTER]
        if self.owntracks:
            filters += OWNTRACKS_FILTERS
        filters += [FACILITY_TOPIC_FILTER, REFUSED_FILTER]
        if self.shared_group:
            return [f"$share/{self.shared_group}/{f}" for f in filters]
        return filters

    def inbound(self, topic: str, payload: bytes, origin: dict[str, Any]) -> Inbound:
        """What a message on ``topic`` is, for the pipeline: whose it is (tenant, role, facility) and in
        which format, as the topic says; the same whether it came from the broker or the front door's log."""
        phone = owntracks_topic(topic) if self.owntracks else None
        refused = refused_of(topic)
        bound = topic_facility(topic)
        if refused is not None:  # the front door passed on what the sender may not publish
            return Inbound(payload, "mqtt", {**origin, "user": refused[0]}, format="refused", device=refused)
        if bound is not None:  # a facility-bound scanner's topic: held to that facility
            role = "scanner" if self.role_topics else None
            return Inbound(payload, "mqtt", origin, tenant=bound[0], role=role, facility=bound[1])
        if phone is not None:  # translated by the application's sink; OwnTracks says positions only
            return Inbound(payload, "mqtt", origin, tenant=phone[0], role="scanner", format="owntracks",
                           device=(phone[1], phone[2]))  # fmt: skip
        tenant, role = self.sender(topic)
        item = Inbound(payload, "mqtt", origin, tenant=tenant, role=role)
        if tenant is None:  # e.g. an empty tenant level: still a dead letter, never a silent drop
            item.refused = f"topic {topic!r} is not sealguard/v1/{{tenant}}/events"
        return item

    def sender(self, topic: str) -> tuple[str | None, str | None]:
        """The tenant a topic names and, where the broker confines the role topics, the role it carries;
        a broker that does not is trusted with every kind (role None)."""
        if not self.role_topics:
            return tenant_of(topic), None
        found = topic_role(topic)
        return (found[0], found[1]) if found else (None, None)


def tenant_of(topic: str) -> str | None:
    parts = topic.split("/")
    if len(parts) == 4 and parts[0] == "sealguard" and parts[1] == "v1" and parts[3] == "events" and parts[2]:
        return parts[2]
    return None


class MqttSource:
    def __init__(self, sink: EventSink, options: MqttOptions, *, metrics: IngestMetrics | None = None) -> None:
        self.sink = sink
        self.metrics = metrics or IngestMetrics()
        self.options = options
        self.connected = False

    async def run(self) -> None:
        backoff = Backoff()
        while True:
            try:
                await self._session(backoff)
            except aiomqtt.MqttError as exc:
                self._set_connected(False)
                delay = backoff.next()
                log.warning("MQTT connection lost (%s); reconnecting in %.1f s", exc, delay)
                await asyncio.sleep(delay)

    async def _session(self, backoff: Backoff) -> None:
        client = aiomqtt.Client(**self.options.connect_args())
        paho = client._client  # manual acks must be on before CONNECT: queued messages arrive at once
        paho.manual_ack_set(True)
        async with client:
            for topic_filter in self.options.subscriptions():
                await client.subscribe(topic_filter, qos=1)
            self._set_connected(True)
            backoff.reset()
            log.info("MQTT subscribed to %s", ", ".join(self.options.subscriptions()))
            async for message in client.messages:
                topic = message.topic.value
                payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
                origin = {"topic": topic, "mid": message.mid}
                item = self.options.inbound(topic, payload, origin)
                future = await self.sink.submit(item)
                if message.qos > 0:
                    future.add_done_callback(_acker(paho, message.mid, message.qos))

    def _set_connected(self, up: bool) -> None:
        self.connected = up
        self.metrics.broker_up.labels("mqtt").set(1 if up else 0)


def _acker(paho: Any, mid: int, qos: int) -> Any:
    def ack(future: "asyncio.Future[ItemResult]") -> None:
        if future.cancelled() or future.exception() is not None:
            return  # not stored: leave it unacknowledged so the broker redelivers it
        paho.ack(mid, qos)

    return ack
