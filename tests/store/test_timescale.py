"""Migration 0002's TimescaleDB variant and the storage paths that need no COPY, on a real TimescaleDB:
PGlite (PostgreSQL 17 in WebAssembly) with TimescaleDB 2.23, served on the wire protocol under Node
(``tests/fixtures/pglite``; npm installs it into the virtualenv on first use).

What stays untested on TimescaleDB, and why: the event store's bulk write (``store.events.write_events``
uses COPY, which this socket does not serve), and the monitor or workers end to end on TimescaleDB (they
write events with COPY and open several connections; this server takes one at a time). The policies'
background jobs are only registered here; compression is run by hand with ``compress_chunk``.
"""

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from sealguard.alerts.audit import verify
from sealguard.alerts.book import AlertBook
from sealguard.alerts.config import AlertingConfig
from sealguard.embedded.servers import free_port
from sealguard.rules.findings import Finding
from sealguard.store import alerts as alert_rows
from sealguard.store import partition_log, projection
from sealguard.store.events import PartitionCache, native_partitions, seen, stored_seqs
from sealguard.store.migrate import migrate
from sealguard.stream.alert_changes import act, apply_changes
from tests.live.servers import wait_for

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pglite"
NODE, NPM = shutil.which("node"), shutil.which("npm")
pytestmark = pytest.mark.skipif(NODE is None or NPM is None, reason="Node.js and npm are not installed")


def _installed() -> Path:
    """The fixture's node_modules, installed once into the virtualenv (not the repository)."""
    target = Path(os.environ.get("VIRTUAL_ENV", FIXTURE.parents[2] / ".venv")) / "pglite"
    if not (target / "node_modules" / "@unni-craftsman" / "pglite").exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURE / "package.json", target / "package.json")
        assert NPM is not None
        subprocess.run([NPM, "install", "--legacy-peer-deps", "--no-audit", "--no-fund", "--silent"], cwd=target,
                       check=True, timeout=600)  # fmt: skip
    shutil.copy(FIXTURE / "server.mjs", target / "server.mjs")
    return target


@pytest.fixture
async def timescale(tmp_path: Path) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    assert NODE is not None
    folder = await asyncio.to_thread(_installed)
    port = free_port()
    log_path = tmp_path / "pglite.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([NODE, "server.mjs", str(port)], cwd=folder, stdout=log, stderr=log)
    try:
        # Wait for its own word, not a probe connection: it serves one connection at a time.
        await wait_for(lambda: "listening on" in log_path.read_text() or proc.poll() is not None, timeout=90,
                       what="PGlite to listen")  # fmt: skip
        assert proc.poll() is None, log_path.read_text()
        url = f"postgresql://postgres:unused@127.0.0.1:{port}/postgres?sslmode=disable&gssencmode=disable"
        async with await psycopg.AsyncConnection.connect(url, options="-c timezone=UTC") as conn:
            yield conn
    finally:
        proc.terminate()
        proc.wait(10)


async def _rows(conn: psycopg.AsyncConnection[Any], sql: str, *params: Any) -> list[tuple[Any, ...]]:
    cur = await conn.execute(sql.encode(), params or None)
    return list(await cur.fetchall())


async def test_the_timescale_migrations_make_events_a_compressed_hypertable_with_retention(
    timescale: psycopg.AsyncConnection[Any],
) -> None:
    conn = timescale
    applied = await migrate(conn)
    assert applied == ["0001_core", "0002_events (timescale)", "0003_alerting", "0004_tenant_clocks",
                       "0005_partitions", "0006_partition_state", "0007_device_bindings",
                       "0008_people", "0009_round_two", "0010_mqtt_inbox", "0011_event_log",
                       "0012_evidence"]  # fmt: skip
    assert await migrate(conn) == []
    assert await _rows(conn, "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables")\
        == [("events", True)]  # fmt: skip
    jobs = {r[0] for r in await _rows(conn, "SELECT proc_name FROM timescaledb_information.jobs"
                                            " WHERE hypertable_name = 'events'")}  # fmt: skip
    assert jobs == {"policy_compression", "policy_retention"}
    # TimescaleDB partitions by itself: the plain variant's daily-partition DDL is not used
    assert await native_partitions(conn) is False
    assert PartitionCache(False).native is False


async def test_events_stored_without_copy_are_deduplicated_compressed_and_still_read(
    timescale: psycopg.AsyncConnection[Any],
) -> None:
    conn = timescale
    await migrate(conn)
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    rows = [(i, "acme", f"e{i}", "gps.position", f"TRL-{i % 3}", None, t0 + timedelta(hours=6 * i), t0, "kafka",
             Jsonb({"event_id": f"e{i}"})) for i in range(12)]  # fmt: skip
    async with conn.transaction(), conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO events (seq, tenant, event_id, kind, conveyance_id, trip_id, occurred_at, received_at, source,"
            " payload) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)  # fmt: skip
        await cur.executemany("INSERT INTO event_ids (tenant, event_id, seq, occurred_at) VALUES (%s, %s, %s, %s)",
                              [(r[1], r[2], r[0], r[6]) for r in rows])  # fmt: skip
    assert await seen(conn, [("acme", "e3"), ("acme", "nope")]) == {("acme", "e3")}
    assert await stored_seqs(conn, [("acme", "e4")]) == {("acme", "e4"): 4}
    chunks = await _rows(conn, "SELECT show_chunks('events')")
    assert len(chunks) == 3  # three days of events, one chunk a day
    await conn.execute(f"SELECT compress_chunk('{chunks[0][0]}')".encode())
    assert await _rows(conn, "SELECT count(*) FROM timescaledb_information.chunks WHERE is_compressed") == [(1,)]
    assert await _rows(conn, "SELECT count(*) FROM events WHERE tenant = 'acme'") == [(12,)]
    assert await _rows(conn, "SELECT event_id FROM events WHERE tenant = 'acme' AND conveyance_id = 'TRL-1'"
                             " ORDER BY occurred_at LIMIT 2") == [("e1",), ("e4",)]  # fmt: skip
    await conn.execute("SELECT drop_chunks('events', older_than => TIMESTAMPTZ '2026-10-02')")
    assert await _rows(conn, "SELECT count(*) FROM events") == [(8,)]


async def test_alerts_history_outbox_and_the_workers_tables_on_timescale(
    timescale: psycopg.AsyncConnection[Any],
) -> None:
    conn = timescale
    await migrate(conn)
    alerting = AlertingConfig.model_validate({
        "receivers": [{"name": "ops", "webhook": {"url": "http://127.0.0.1:9/hook"}}],
        "route": {"receiver": "ops"},
    })  # fmt: skip
    book = AlertBook(retain=False)
    finding = Finding("raise", "SEAL-003", "critical", "acme", "TRL-1", "T-1", 1_790_000_000.0, "removed", "MSC 6.1",
                      ("e1",), "acme:SEAL-003:TRL-1:T-1:S1")  # fmt: skip
    change, record = book.apply(finding)
    assert record is not None
    now = datetime(2026, 11, 2, 8, tzinfo=UTC)
    async with conn.transaction():
        await apply_changes(conn, [(change, record)], now, alerting)
    async with conn.transaction():
        decision, doc = await act(
            conn, alerting, record.alert_id, "acme", "acknowledge", "olga", now, identity="person:1"
        )
    assert decision.error is None and doc is not None and doc.status == "acknowledged"
    assert await _rows(conn, "SELECT kind, status FROM outbox ORDER BY id") == [("trigger", "cancelled")]
    assert verify(await alert_rows.history(conn)) is None
    async with conn.transaction():
        assert await partition_log.claim(conn, "events", 0, "w1") == 0
        assert (await partition_log.advance(conn, "events", 0, 0, 10, "w1")).rowcount == 1
        assert (await partition_log.advance(conn, "events", 0, 0, 20, "w2")).rowcount == 0  # fenced
        await projection.upsert(conn, [("acme", "TRL-1", {"tenant": "acme", "conveyance_id": "TRL-1", "trip": None})],
                                now)  # fmt: skip
    assert [v["conveyance_id"] for v in await projection.views(conn, "acme")] == ["TRL-1"]
