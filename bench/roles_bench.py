"""``make bench`` (split roles): workers over Kafka, measured on this machine.

Starts PostgreSQL (embedded) and tansu, loads a generated fleet into a six-partition events topic through
an in-process gateway, then:

- throughput: 1, 2 and 4 ``sealguard worker`` processes, each run on a fresh consumer group and database,
  handle the whole topic; events/s in total and per worker (records handled / wall time from the first
  record handled to the last), CPU seconds of each worker process, and the checkpoint sizes and times.
  The curve and the one-worker goal use the steady window (every worker holding partitions, none
  drained yet), so that the group's joining and the uneven tail do not decide them;
- latency: one gateway and two workers, events published at a fixed rate (default 5,000/s) through the
  gateway; receipt-to-stored p50/p99 from the workers' own histogram, event-to-alert from the alerts'
  ``opened`` history rows against the publish time of their evidence.
Printed, never asserted.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import goals
from bench.fleet import fleet_lines
from bench.goals import pct
from sealguard import collector
from sealguard.embedded.servers import EmbeddedPostgres, KafkaBroker, free_port
from sealguard.ingest.inbound import Inbound
from sealguard.ingest.kafka import KafkaOptions, end_offsets, ensure_topic
from sealguard.roles.gateway import Gateway
from sealguard.roles.monitor import migrate_url, open_pool
from sealguard.stream.log import RECEIVED, KafkaLog

PARTITIONS = 6
PACE_S = 0.002  # the latency run's load sleeps only when it is this far ahead of its schedule


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _new_database(pg: EmbeddedPostgres) -> str:
    name = "b_" + uuid.uuid4().hex[:10]
    async with await psycopg.AsyncConnection.connect(pg.url, autocommit=True) as conn:
        await conn.execute(f"CREATE DATABASE {name}".encode())
    url = pg.url.rsplit("/", 1)[0] + "/" + name
    await migrate_url(url)
    return url


async def _load(url: str, options: KafkaOptions, lines: list[bytes]) -> float:
    pool = open_pool(url)
    await pool.open(wait=True)
    gateway = Gateway(pool, KafkaLog(options), max_future_skew=None)
    await gateway.start()
    started = time.perf_counter()
    try:
        pending: list[Any] = []
        for i, line in enumerate(lines):
            pending.append(await gateway.submit(Inbound(line, "http", {"line": i})))
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return time.perf_counter() - started
    finally:
        await gateway.stop()
        await pool.close()


def _env(url: str, options: KafkaOptions, name: str, port: int) -> dict[str, str]:
    env = {**os.environ, "SEALGUARD_DATABASE_URL": url, "SEALGUARD_KAFKA_BOOTSTRAP": options.bootstrap,
           "SEALGUARD_KAFKA_TOPIC": options.topic, "SEALGUARD_KAFKA_GROUP": options.group_id,
           "SEALGUARD_WORKER_ID": name, "SEALGUARD_HTTP": f"127.0.0.1:{port}", "SEALGUARD_LOG_LEVEL": "WARNING",
           "SEALGUARD_IDLE_ADVANCE_AFTER": "3600", "SEALGUARD_CHECKPOINT_EVERY_S": "10"}  # fmt: skip
    env.pop("SEALGUARD_CONFIG", None)
    return env


async def _offsets(url: str, topic: str) -> dict[int, tuple[int, str]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT partition, next_offset, owner FROM partition_offsets WHERE topic = %s",
                                 (topic,))  # fmt: skip
        return {int(p): (int(o), str(w)) for p, o, w in await cur.fetchall()}


Run = tuple[float, list[float]]  # events/s in total (the steady window's), CPU seconds of each worker process


async def throughput(pg: EmbeddedPostgres, kafka: KafkaBroker, lines: list[bytes], workers: int,
                     loaded: tuple[str, KafkaOptions, dict[int, int]], tmp: Path) -> Run | None:  # fmt: skip
    _, base, ends = loaded
    url = await _new_database(pg)
    # A fresh group and database over the same loaded topic: the workers start from offset 0.
    options = KafkaOptions(base.bootstrap, topic=base.topic, group_id="bench-" + uuid.uuid4().hex[:6])
    total = sum(ends.values())
    procs, ports = [], []
    first: float | None = None
    started = time.perf_counter()
    for i in range(workers):
        port = free_port()
        ports.append(port)
        log = (tmp / f"w{workers}-{i}.log").open("wb")
        procs.append(subprocess.Popen([sys.executable, "-m", "sealguard.cli", "worker"],
                                      env=_env(url, options, f"w{i}", port), stdout=log, stderr=log))  # fmt: skip
    # The steady window: from the first moment every worker has claimed a partition (the group has joined
    # and the last rebalance is over: under eager rebalancing the last worker is given partitions only then)
    # to the first moment a partition is drained (from there on, a worker may sit idle while another
    # finishes). On a topic of a few seconds' work, the whole run is mostly the group's joining.
    steady: tuple[float, int] | None = None
    steady_end: tuple[float, int] | None = None
    try:
        while True:
            got = await _offsets(url, options.topic)
            now = time.perf_counter()
            done = sum(o for o, _ in got.values())
            if done and first is None:
                first = now
            if steady is None and len({w for _, w in got.values()}) >= workers:
                steady = (now, done)
            if steady is not None and steady_end is None and any(got.get(p, (0, ""))[0] >= e
                                                                  for p, e in ends.items() if e):  # fmt: skip
                steady_end = (now, done)
            if done >= total:
                break
            if now - started > 900:
                print(f"  {workers} workers: gave up after 900 s at {done}/{total}")
                return None
            await asyncio.sleep(0.05)
        end = time.perf_counter()
        assert first is not None
        wall = end - first
        per_worker: dict[str, int] = {}
        for o, w in got.values():
            per_worker[w] = per_worker.get(w, 0) + o
        cpu = [_cpu(p.pid) for p in procs]
        print(f"  {workers} worker(s): {total} records in {wall:.1f} s = {total / wall:,.0f} events/s in total;"
              f" per worker {', '.join(f'{w}: {n / wall:,.0f}/s' for w, n in sorted(per_worker.items()))};"
              f" CPU s per worker process {', '.join(f'{c:.1f}' for c in cpu)}")  # fmt: skip
        rate = total / wall
        if steady is not None and steady_end is not None and steady_end[0] - steady[0] >= 1.0:
            span, handled = steady_end[0] - steady[0], steady_end[1] - steady[1]
            rate = handled / span
            print(f"    steady (every worker owning partitions, none drained): {handled} records in {span:.1f} s"
                  f" = {rate:,.0f} events/s; every worker held partitions {steady[0] - started:.1f} s after"
                  f" the start")  # fmt: skip
        else:
            print("    steady: no window of a second with every worker owning partitions and none drained;"
                  " the curve uses the whole run (a larger --conveyances gives one)")  # fmt: skip
        if workers == 1:
            print(f"    one worker: {rate:,.0f} events/s {goals.at_least(rate, 20_000, ' events/s')}")
        await asyncio.sleep(11)  # one checkpoint period
        async with httpx.AsyncClient() as c:
            for port in ports:
                text = (await c.get(f"http://127.0.0.1:{port}/metrics")).text
                sizes = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                         if line.startswith("sealguard_checkpoint_bytes{")]  # fmt: skip
                count = _sample(text, "sealguard_checkpoint_seconds_count")
                total_s = _sample(text, "sealguard_checkpoint_seconds_sum")
                if count:
                    print(f"    checkpoints: {int(count)} taken, mean {1000 * total_s / count:.1f} ms;"
                          f" latest per partition {', '.join(f'{s / 1024:,.0f} KiB' for s in sizes)}")  # fmt: skip
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
    return rate, cpu


def curve(results: dict[int, Run]) -> None:
    """The scaling curve in one line, with the CPU each run used: on this 2-core machine four workers share
    two cores, so the CPU seconds per record say what more cores would give."""
    if not results:
        return
    parts = []
    for n, (rate, cpu) in sorted(results.items()):
        parts.append(f"{n}: {rate:,.0f}/s ({sum(cpu):.1f} CPU s)")
    print(f"  scaling curve ({os.cpu_count()} cores): " + ", ".join(parts))
    if 1 in results and 2 in results:
        gain = results[2][0] / results[1][0]
        print(f"  two workers {gain:.2f}x one {goals.at_least(gain, 1.0001, 'x (two faster than one)')}")


async def latency(pg: EmbeddedPostgres, kafka: KafkaBroker, lines: list[bytes], rate: float, tmp: Path) -> None:
    """Two workers; events published through one gateway at ``rate`` a second; the workers' own
    receipt-to-stored histogram (the gateway's receipt time travels in a record header)."""
    url = await _new_database(pg)
    options = KafkaOptions(kafka.bootstrap, topic="lat-" + uuid.uuid4().hex[:6], group_id="lat-" + uuid.uuid4().hex[:6])
    await ensure_topic(options, PARTITIONS)
    ports = [free_port(), free_port()]
    procs = []
    for i, port in enumerate(ports):
        log = (tmp / f"lat-{i}.log").open("wb")
        procs.append(subprocess.Popen([sys.executable, "-m", "sealguard.cli", "worker"],
                                      env=_env(url, options, f"l{i}", port), stdout=log, stderr=log))  # fmt: skip
    pool = open_pool(url)
    await pool.open(wait=True)
    gateway = Gateway(pool, KafkaLog(options), max_future_skew=None)
    await gateway.start()
    try:
        await asyncio.sleep(8)  # both workers joined and were given their partitions
        started = time.perf_counter()
        pending: list[Any] = []
        for i, line in enumerate(lines):
            # Paced in steps of two milliseconds: a sleep per event (5,000 a second) cost this process, which
            # is also the gateway, 5.8 % of a core alone, the steps 3.3 %. The offered rate is the same.
            ahead = started + i / rate - time.perf_counter()
            if ahead > PACE_S:
                await asyncio.sleep(ahead)
            # Not awaited here: waiting for a thousand answers held the offered load back, then sent it
            # as a burst, which is not 5,000 events/s offered.
            pending.append(await gateway.submit(Inbound(line, "http", {"line": i})))
        sent_s = time.perf_counter() - started
        await asyncio.gather(*pending)

        records = sum((await end_offsets(options)).values())  # reference data went to the database instead
        while sum(o for o, _ in (await _offsets(url, options.topic)).values()) < records:
            await asyncio.sleep(0.2)
        buckets: dict[float, float] = {}
        async with httpx.AsyncClient() as c:
            for port in ports:
                for row in (await c.get(f"http://127.0.0.1:{port}/metrics")).text.splitlines():
                    if row.startswith("sealguard_processing_latency_seconds_bucket{"):
                        le = row.split('le="', 1)[1].split('"', 1)[0]
                        bound = float("inf") if le == "+Inf" else float(le)
                        buckets[bound] = buckets.get(bound, 0.0) + float(row.rsplit(" ", 1)[1])
        total = buckets.get(float("inf"), 0.0)

        def quantile(q: float) -> str:
            for bound in sorted(buckets):
                if buckets[bound] >= q * total:
                    return f"<= {bound * 1000:,.0f} ms" if bound != float("inf") else "> 30 s"
            return "n/a"

        held = await _gateway_hold(options)
        achieved = len(lines) / sent_s
        p99 = next((b for b in sorted(buckets) if buckets[b] >= 0.99 * total), float("inf"))
        print(f"  latency at {rate:,.0f} events/s offered ({achieved:,.0f}/s achieved by the gateway), two workers:"
              f" receipt to stored p50 {quantile(0.5)}, p99 {quantile(0.99)} ({int(total)} events)"
              f" {goals.at_most(p99 * 1000, 200, ' ms')}")  # fmt: skip
        print(f"    of which gateway receipt -> in Kafka (record timestamp): p50 {pct(held, 0.5):,.0f} ms,"
              f" p99 {pct(held, 0.99):,.0f} ms")  # fmt: skip
    finally:
        await gateway.stop()
        await pool.close()
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)


async def _gateway_hold(options: KafkaOptions) -> list[float]:
    """Each record's time from the gateway's receipt (its header) to the producer's timestamp: what the
    gateway held it for before Kafka had it, in ms."""
    from aiokafka import AIOKafkaConsumer

    ends = await end_offsets(options)
    consumer = AIOKafkaConsumer(options.topic, auto_offset_reset="earliest", enable_auto_commit=False,
                                **options.client_args())  # fmt: skip
    await consumer.start()
    out: list[float] = []
    try:
        seen = 0
        while seen < sum(ends.values()):
            for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                for r in records:
                    seen += 1
                    received = dict(r.headers or ()).get(RECEIVED)
                    if received is not None:
                        out.append(r.timestamp - int(received))
    finally:
        await consumer.stop()
    return out


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--conveyances", type=int, default=1500)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--rate", type=float, default=5000.0, help="events/s offered in the latency run (0: skip it)")
    args = ap.parse_args()
    lines = fleet_lines(args.conveyances, facility_count=50, seed=3)
    # The gateway runs in this process: with the collector settings of ``sealguard gateway`` (the defaults
    # made it pause for up to 245 ms at a time, 28 full collections in a run).
    collector.collect_less_often()
    collector.settle()
    with tempfile.TemporaryDirectory(prefix="sealguard-bench-") as tmp_name:
        tmp = Path(tmp_name)
        pg = EmbeddedPostgres(tmp / "pg").start()
        kafka = KafkaBroker(tmp / "kafka").start()
        try:
            options = KafkaOptions(kafka.bootstrap, topic="bench-events", group_id="unused")
            await ensure_topic(options, PARTITIONS)
            url = await _new_database(pg)
            seconds = await _load(url, options, lines)

            ends = await end_offsets(options)
            print(f"sealguard roles bench: {len(lines)} events ({args.conveyances} conveyances) loaded through a"
                  f" gateway in {seconds:.1f} s ({len(lines) / seconds:,.0f}/s); {sum(ends.values())} records on"
                  f" {PARTITIONS} partitions; {os.cpu_count()} cores")  # fmt: skip
            results: dict[int, Run] = {}
            for n in [int(x) for x in args.workers.split(",") if x]:
                got = await throughput(pg, kafka, lines, n, (url, options, ends), tmp)
                if got is not None:
                    results[n] = got
            curve(results)
            if args.rate > 0:
                await latency(pg, kafka, lines[: int(args.rate * 10)], args.rate, tmp)
        finally:
            kafka.stop()
            pg.stop()


if __name__ == "__main__":
    asyncio.run(main())
