"""``sealguard simulate``: publish the simulated fleet in real time (scaled by ``speedup``) over MQTT,
Kafka or the HTTP API. Event time starts at the wall clock (``lead_s`` before it: that much history is
sent at once) and runs ``speedup`` times faster; at ``speedup`` 1 it stays the wall clock's."""

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import orjson

from sealguard.sim.simfleet import Fleet


@dataclass(frozen=True)
class SimulatorOptions:
    mqtt_url: str | None
    kafka_bootstrap: str | None = None
    kafka_topic: str = "sealguard.events"
    http: str | None = None
    token: str | None = None
    trucks: int = 12
    speedup: float = 60.0
    incident_rate: float = 0.35
    duration: float = 0.0
    tenant: str = "default"
    seed: int = 17
    showcase: bool = False
    role_topics: bool = False  # publish each kind on the topic of the role that may send it (ingest.mqtt_acl)
    lead_s: float = 0.0  # the fleet set out this long ago: its history up to now is sent at once, then live


DISCONNECT_S = 5.0  # how long a stopping simulator waits for the broker to see it go


async def run_simulator(o: SimulatorOptions, *, quiet: bool = False) -> int:
    """Publish until ``duration`` real seconds have passed (0: forever). Returns events published."""
    from urllib.parse import urlsplit

    import aiomqtt
    import httpx

    from sealguard.ingest.kafka import EventProducer, KafkaOptions

    now_wall = time.time()
    start_wall = now_wall - o.lead_s  # with a lead, event time is the wall clock's once the history is out
    fleet = Fleet(start_wall, o.trucks, o.incident_rate, o.tenant, o.seed, o.showcase)
    sent = 0
    mqtt: aiomqtt.Client | None = None
    producer: EventProducer | None = None
    http: httpx.AsyncClient | None = None
    if o.mqtt_url:
        parts = urlsplit(o.mqtt_url)
        mqtt = aiomqtt.Client(parts.hostname or "127.0.0.1", parts.port or 1883, username=parts.username,
                              password=parts.password, identifier=f"sealguard-sim-{o.seed}")  # fmt: skip
        await mqtt.__aenter__()
    if o.kafka_bootstrap:
        producer = EventProducer(KafkaOptions(o.kafka_bootstrap, o.kafka_topic))
        await producer.__aenter__()
    if o.http:
        http = httpx.AsyncClient(base_url=o.http, headers={"Authorization": f"Bearer {o.token}"}, timeout=60)
    from sealguard.ingest.admit import KIND_ROLES
    from sealguard.ingest.mqtt_acl import topic_for

    plain = f"sealguard/v1/{o.tenant}/events"
    t0 = time.monotonic()
    pending: list[dict[str, Any]] = []
    try:
        for at, event in fleet.events():
            due = t0 + max(0.0, at - now_wall) / o.speedup  # what happened before now goes at once
            if o.duration and due - t0 > o.duration:
                break
            wait = due - time.monotonic()
            if wait > 0:
                if http is not None and pending:
                    await _post(http, pending)
                    pending = []
                await asyncio.sleep(wait)
            payload = orjson.dumps(event)
            if mqtt is not None:
                topic = topic_for(o.tenant, event["kind"], KIND_ROLES) if o.role_topics else plain
                await mqtt.publish(topic, payload, qos=1)
            if producer is not None:
                await producer.send(event)
            if http is not None:
                pending.append(event)
            sent += 1
            if not quiet and sent % 1000 == 0:
                print(f"simulate: {sent} events published (event time {event['occurred_at']})", flush=True)
        if http is not None and pending:
            await _post(http, pending)
    finally:
        if mqtt is not None:
            # The broker may have gone first; and aiomqtt waits with no limit for the connection to close
            # after its DISCONNECT: a simulated fleet loses nothing by leaving after a few seconds.
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await asyncio.wait_for(mqtt.__aexit__(None, None, None), DISCONNECT_S)
        if producer is not None:
            await producer.__aexit__(None, None, None)
        if http is not None:
            await http.aclose()
    return sent


async def _post(http: Any, events: list[dict[str, Any]]) -> None:
    resp = await http.post("/api/v1/events", content=orjson.dumps(events))
    resp.raise_for_status()
