"""``make bench`` (embedded part): devices -> the embedded broker's front door -> its log -> rules ->
PostgreSQL, as ``sealguard up`` runs with nothing configured.

For each embedded broker (Mosquitto when installed, and amqtt), runs ``sealguard up`` as its own process,
publishes N simulated fixes as QoS 1 with 100 in flight, and reports how long until every one was
acknowledged, how long until every one was stored, events/s over the whole, how many were lost, and the
monitor's peak resident memory. Printed, never asserted.
"""

import argparse
import asyncio
import logging
import shutil
import time
from pathlib import Path

import aiomqtt
import orjson
import psycopg

from bench import goals
from bench.readiness import running_up
from sealguard.sim.simfleet import Fleet

IN_FLIGHT = 100


def fixes(n: int) -> list[bytes]:
    out = []
    for _at, event in Fleet(1793000000, trucks=200, incident_rate=0.5, seed=7).events():
        if event["kind"] in ("gps.position", "seal.heartbeat", "seal.verified", "seal.alarm"):
            out.append(orjson.dumps(event))
        if len(out) >= n:
            break
    return out


def peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def stored(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT (SELECT count(*) FROM event_ids) + (SELECT count(*) FROM dead_letters)")
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def one(broker: str, events: list[bytes], wait_s: float) -> str:
    async with running_up(broker, SEALGUARD_MQTT_EMBEDDED=broker, SEALGUARD_MAX_FUTURE_SKEW="0") as up:
        started = time.perf_counter()
        async with aiomqtt.Client("127.0.0.1", up.mqtt, username="bench", password=up.token, identifier="bench",
                                  max_inflight_messages=IN_FLIGHT) as client:  # fmt: skip
            for i in range(0, len(events), IN_FLIGHT):
                chunk = events[i : i + IN_FLIGHT]
                await asyncio.gather(*(client.publish("sealguard/v1/default/events", e, qos=1) for e in chunk))
        acked = time.perf_counter() - started
        got = await stored(up.url)
        while got < len(events) and time.perf_counter() - started < wait_s:
            await asyncio.sleep(0.05)
            got = await stored(up.url)
        took = time.perf_counter() - started
        return (f"embedded {broker:9}: {len(events)} QoS 1 published, all acknowledged in {acked:.1f} s;"
                f" {got} stored in {took:.1f} s = {got / took:,.0f} events/s"
                f" {goals.at_least(got / took, 15_000, ' QoS 1 messages/s')}; lost {len(events) - got};"
                f" monitor peak {peak_mib(up.proc.pid):.0f} MiB")  # fmt: skip


async def main() -> None:
    # aiomqtt warns "There are N pending publish calls" on its logger "mqtt": 100 in flight is the point here
    logging.getLogger("mqtt").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the last to be stored")
    args = parser.parse_args()
    events = fixes(args.events)
    brokers = (["mosquitto"] if shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists() else []) + ["amqtt"]
    for broker in brokers:
        print(await one(broker, events, args.wait), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
