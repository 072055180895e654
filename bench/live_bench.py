"""``make bench`` (live part): MQTT -> rules -> PostgreSQL and Kafka -> rules -> PostgreSQL.

Starts PostgreSQL (embedded), Mosquitto (or amqtt) and tansu on this machine, runs ``sealguard up`` as
a separate process, and publishes the simulated fleet from this one:

- sustained: publish as fast as the broker takes it; events/s = events / (first publish -> last stored);
- paced: publish at a fixed rate and report event-to-alert latency (publish of the alert's last
  evidence event -> the commit of the batch that opened it, heard as its live notification, both wall
  clock on this machine), twice: the same fleet going on after the backlog (steady: the goal's figure),
  then a fresh fleet ten days on (a cold start: every truck starting a trip at once, and the first
  fleet's timers firing at the clock's jump); and the monitor's own receipt-to-stored histogram.
Printed, never asserted.
"""

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from bench import goals
from bench.goals import pct
from bench.readiness import until_ready
from sealguard.embedded.servers import EmbeddedPostgres, KafkaBroker, MqttBroker, free_port
from sealguard.sim.simfleet import Fleet
from sealguard.store import live


def fleet(n: int, trucks: int, start: float) -> list[tuple[str, bytes]]:
    out = []
    for _at, event in Fleet(start, trucks=trucks, incident_rate=0.5, seed=int(start) % 997).events():
        out.append((str(event["event_id"]), orjson.dumps(event)))
        if len(out) >= n:
            break
    return out


class Publisher:
    def __init__(self, kind: str, mqtt: MqttBroker, kafka: KafkaBroker | None, topic: str) -> None:
        self.kind, self.mqtt, self.kafka, self.topic = kind, mqtt, kafka, topic
        self.client: Any = None

    async def __aenter__(self) -> "Publisher":
        if self.kind == "mqtt":
            import aiomqtt

            self.client = aiomqtt.Client("127.0.0.1", self.mqtt.port, identifier="bench-" + uuid.uuid4().hex[:6],
                                         max_inflight_messages=1000)  # fmt: skip
            await self.client.__aenter__()
        else:
            from sealguard.ingest.kafka import EventProducer, KafkaOptions

            assert self.kafka is not None
            self.client = EventProducer(KafkaOptions(self.kafka.bootstrap, self.topic))
            await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.__aexit__(None, None, None)

    async def send_many(self, payloads: list[bytes]) -> None:
        if self.kind == "mqtt":
            await asyncio.gather(*(self.client.publish("sealguard/v1/default/events", p, qos=1) for p in payloads))
        else:
            for p in payloads:
                await self.client.producer.send(self.topic, p, key=b"default:" + p[-12:])
            await self.client.flush()


async def stored(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT count(*) FROM event_ids")
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def wait_stored(url: str, n: int, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await stored(url) >= n:
            return time.time()
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{n} events not stored in {timeout} s")


async def _paced(pub: Publisher, url: str, paced: list[tuple[str, bytes]],
                 rate: float) -> tuple[float, list[float], list[float]]:  # fmt: skip
    """Publish ``paced`` at ``rate`` in 100 ms slices; the rate achieved, publish -> receipt of every event,
    and publish -> committed alert of every alert an event of it raised itself (timer alerts fire later
    by design and are left out). An alert counts as there when its batch's live notification arrives:
    PostgreSQL delivers it at the commit, as the dashboards and the notifier see the alert (the history
    row's time is taken when the batch began, before its evaluation and commit)."""
    base = await stored(url)
    occurred = {eid: orjson.loads(p)["occurred_at"] for eid, p in paced}
    sent_at: dict[str, float] = {}
    committed: dict[str, float] = {}  # alert id -> when its opening was heard
    listener = await psycopg.AsyncConnection.connect(url, autocommit=True)
    await live.listen(listener)

    async def hear() -> None:
        async for note in listener.notifies():
            heard = time.time()
            for update in live.parse(note.payload):
                if update.get("type") == "alert" and update.get("change") == "opened":
                    committed.setdefault(str(update["alert_id"]), heard)

    hearing = asyncio.create_task(hear())
    try:
        t0 = time.monotonic()
        per_slice = max(1, int(rate / 10))
        for k, i in enumerate(range(0, len(paced), per_slice)):
            wait = t0 + k * 0.1 - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            chunk = paced[i : i + per_slice]
            now = time.time()
            for eid, _ in chunk:
                sent_at[eid] = now
            await pub.send_many([p for _, p in chunk])
        achieved = len(paced) / (time.monotonic() - t0)
        await wait_stored(url, base + len(paced))
        await asyncio.sleep(1.0)
    finally:
        hearing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hearing
        await listener.close()
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT a.alert_id::text, a.evidence,"
            " to_char(a.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM alerts a"
        )
        rows = await cur.fetchall()
        cur = await conn.execute("SELECT event_id, extract(epoch FROM received_at) FROM events"
                                 " WHERE event_id = ANY(%s)", (list(sent_at),))  # fmt: skip
        receipt = [float(r) - sent_at[e] for e, r in await cur.fetchall()]
    lat = []
    for alert_id, ev, occurred_at in rows:
        trigger = [e for e in ev if e in sent_at and occurred.get(e) == occurred_at]
        if trigger and alert_id in committed:
            lat.append(committed[alert_id] - max(sent_at[e] for e in trigger))
    return achieved, receipt, lat


async def run_case(kind: str, args: argparse.Namespace, root: Path) -> None:
    pg = EmbeddedPostgres(root / f"pg-{kind}").start()
    mqtt = MqttBroker(root / f"mqtt-{kind}").start()
    kafka = KafkaBroker(root / f"kafka-{kind}").start() if kind == "kafka" else None
    topic = "bench.events"
    http = free_port()
    env = {**os.environ, "SEALGUARD_DATABASE_URL": pg.url, "SEALGUARD_MQTT_URL": mqtt.url,
           "SEALGUARD_MQTT_PROTOCOL": mqtt.protocol, "SEALGUARD_HTTP": f"127.0.0.1:{http}",
           "SEALGUARD_DATA_DIR": str(root / f"data-{kind}"), "SEALGUARD_LOG_LEVEL": "WARNING",
           # The fleet's event time runs ahead of the wall clock (fresh days for every run): no skew limit.
           "SEALGUARD_MAX_FUTURE_SKEW": "0"}  # fmt: skip
    if kafka is not None:
        env |= {"SEALGUARD_KAFKA_BOOTSTRAP": kafka.bootstrap, "SEALGUARD_KAFKA_TOPIC": topic}
    log = (root / f"monitor-{kind}.log").open("ab")

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "sealguard.cli", "up"], env=env, stdout=log, stderr=log)

    async def ready() -> None:
        await until_ready(http, tries=1200, pause_s=0.05)

    # Sustained: the backlog is published while the monitor is down (its persistent MQTT session and its
    # Kafka group keep it), then the monitor starts and drains it, so the publisher's speed does not count.
    monitor = start()
    await ready()
    monitor.terminate()
    monitor.wait(30)
    try:
        async with Publisher(kind, mqtt, kafka, topic) as pub:
            everything = fleet(args.events + int(args.rate * args.seconds), args.trucks, time.time())
            events, going_on = everything[: args.events], everything[args.events :]
            for i in range(0, len(events), 500):
                await pub.send_many([p for _, p in events[i : i + 500]])
            monitor = start()
            await ready()
            t0 = time.time()
            done = await wait_stored(pg.url, len(events))
            rate = len(events) / (done - t0)
            drained = goals.at_least(rate, 15_000 if kind == "mqtt" else 20_000, " events/s")
            print(f"{kind:<5} sustained: a backlog of {len(events):,} events drained in {done - t0:.1f} s "
                  f"= {rate:,.0f} events/s (one worker) {drained}")  # fmt: skip
            # Paced, twice, at a fixed rate in 100 ms slices. First the same fleet going on where the backlog
            # ended: a monitor in its steady state (the goal's figure). Then a fresh fleet ten days on: every
            # truck starts a trip in its first minutes, and the jump of the clock fires the first fleet's
            # timers at once (a storm of alert changes), so that figure is a cold start, printed beside it.
            for label, paced in (("steady", going_on), ("cold start", fleet(len(going_on), args.trucks,
                                                                              time.time() + 10 * 86400))):  # fmt: skip
                achieved, receipt, lat = await _paced(pub, pg.url, paced, args.rate)
                print(f"{kind:<5} {label}: publish -> monitor receipt: p50 {pct(receipt, 0.5) * 1000:.0f} ms, "
                      f"p99 {pct(receipt, 0.99) * 1000:.0f} ms")  # fmt: skip
                goal = label == "steady" and kind == "kafka"
                print(f"{kind:<5} {label}: paced at {achieved:,.0f} events/s for {args.seconds:g} s: {len(lat)} alerts,"
                      f" event-to-alert p50 {pct(lat, 0.5) * 1000:.0f} ms, p99 {pct(lat, 0.99) * 1000:.0f} ms,"
                      f" max {max(lat, default=0) * 1000:.0f} ms"
                      + (f" {goals.at_most(pct(lat, 0.99) * 1000, 200, ' ms at 5,000/s')}" if goal else "")
                      )  # fmt: skip
            async with httpx.AsyncClient() as c:
                metrics = (await c.get(f"http://127.0.0.1:{http}/metrics")).text
            print(f"{kind:<5} monitor histogram (receipt -> stored, all events): {_hist_summary(metrics)}")
    finally:
        monitor.terminate()
        try:
            monitor.wait(30)
        except subprocess.TimeoutExpired:
            monitor.kill()
        log.close()
        if kafka is not None:
            kafka.stop()
        mqtt.stop()
        pg.stop("immediate")


def _hist_summary(text: str) -> str:
    buckets: list[tuple[float, float]] = []
    for line in text.splitlines():
        if line.startswith("sealguard_processing_latency_seconds_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    total = buckets[-1][1] if buckets else 0
    if not total:
        return "no data"
    out = []
    for q in (0.5, 0.99):
        bound = next(b for b, c in buckets if c >= q * total)
        out.append(f"p{int(q * 100)} <= {bound * 1000:g} ms")
    return ", ".join(out) + f" ({int(total):,} events)"


def main(argv: list[str] | None = None) -> int:
    import logging

    # aiomqtt warns "There are N pending publish calls" on its logger "mqtt": many in flight is the point here
    logging.getLogger("mqtt").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--trucks", type=int, default=400)
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--only", choices=["mqtt", "kafka"])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sealguard-bench-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        for kind in ["mqtt", "kafka"] if args.only is None else [args.only]:
            asyncio.run(run_case(kind, args, root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
