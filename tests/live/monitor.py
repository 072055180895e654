"""Run the monitor in the test's event loop, and compare what it stored with ``sealguard replay``."""

import contextlib
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from sealguard.alerts.book import AlertBook
from sealguard.config import Settings
from sealguard.embedded.servers import free_port
from sealguard.roles.monitor import Monitor
from sealguard.rules.engine import Engine
from sealguard.stream.replay import replay
from tests.live.servers import query, wait_for


def settings(tmp: Path, database_url: str, mqtt: Any, **extra: Any) -> Settings:
    return Settings(
        data_dir=tmp / "data",
        database_url=database_url,
        mqtt_url=mqtt.url,
        mqtt_protocol=mqtt.protocol,
        mqtt_client_id="sg-test-" + uuid.uuid4().hex[:8],
        http=f"127.0.0.1:{free_port()}",
        **extra,
    )


@contextlib.asynccontextmanager
async def running(s: Settings) -> AsyncIterator[Monitor]:
    monitor = Monitor(s)
    await monitor.start()
    try:
        yield monitor
    finally:
        await monitor.stop()


def replay_alerts(lines: list[bytes]) -> set[tuple[str, ...]]:
    report = replay(lines, Engine(), book=AlertBook())
    return {_key(a.to_json()) for a in report.book.alerts}


def _key(a: dict[str, Any]) -> tuple[str, ...]:
    return (str(a["alert_id"]), a["rule_id"], a["severity"], str(a["conveyance_id"]), a["occurred_at"], a["status"])


async def stored_alerts(url: str) -> set[tuple[str, ...]]:
    from sealguard.rules.findings import iso

    rows = await query(url, "SELECT alert_id::text, rule_id, severity, conveyance_id, occurred_at, status FROM alerts")
    return {(r[0], r[1], r[2], str(r[3]), iso(r[4].timestamp()), r[5]) for r in rows}


async def settled(monitor: Monitor, url: str, expected_inputs: int) -> None:
    """Every input stored (as an event or a dead letter; duplicates excluded) and no timer due."""

    async def done() -> bool:
        rows = await query(url, "SELECT (SELECT count(*) FROM event_ids) + (SELECT count(*) FROM dead_letters)")
        worker = monitor.worker
        assert worker is not None
        return int(rows[0][0]) >= expected_inputs and worker.quiet()

    await wait_for(done, what=f"{expected_inputs} inputs stored")


def lines_of(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def start_up(env: dict[str, str], log_path: Path) -> "subprocess.Popen[bytes]":
    """``sealguard up`` as its own process (to be killed), logging to ``log_path``."""
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "sealguard.cli", "up"], env=env, stdout=log, stderr=log)


def ready(port: int) -> Any:
    """A predicate for ``wait_for``: the monitor on ``port`` answers /readyz with 200."""

    async def check() -> bool:
        try:
            async with httpx.AsyncClient() as c:
                return (await c.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    return check
