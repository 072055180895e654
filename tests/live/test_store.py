"""Storage: migrations, day partitions, the audit chain and its CLI, tokens."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from sealguard.alerts.audit import GENESIS, chain, verify
from sealguard.store.migrate import Migration, available, migrate, plan
from tests.live.monitor import lines_of, running, settings, settled
from tests.live.servers import query, wait_for
from tests.scenario_folders import scenario_dirs


def test_plan_picks_one_variant_per_version() -> None:
    def names(ms: list[Migration]) -> list[tuple[int, str | None]]:
        return [(m.version, m.variant) for m in ms]

    assert names(plan(available(), timescale=False, applied=set())) == [
        (1, None), (2, "plain"), (3, None), (4, None), (5, None), (6, None), (7, None), (8, None),
        (9, None), (10, None), (11, None), (12, None)]  # fmt: skip
    assert names(plan(available(), timescale=True, applied=set())) == [
        (1, None), (2, "timescale"), (3, None), (4, None), (5, None), (6, None), (7, None), (8, None),
        (9, None), (10, None), (11, None), (12, None)]  # fmt: skip
    assert names(plan(available(), timescale=False, applied={1, 2})) == [
        (3, None), (4, None), (5, None), (6, None), (7, None), (8, None), (9, None), (10, None),
        (11, None), (12, None)]  # fmt: skip
    assert plan(available(), timescale=False, applied=set(range(1, 13))) == []


def test_chain_detects_a_rewritten_row() -> None:
    rows = chain("acme", None, [("a1", "opened", "sealguard", None, "2026-11-02T08:00:00Z", {}),
                                ("a1", "acknowledged", "maria", "on it", "2026-11-02T08:05:00Z", {})])  # fmt: skip
    assert rows[0].prev_hash == GENESIS and rows[1].prev_hash == rows[0].hash
    assert verify(rows) is None
    forged = rows[1].__class__(**{**{f: getattr(rows[1], f) for f in rows[1].__slots__}, "actor": "someone else"})
    problem = verify([rows[0], forged])
    assert problem is not None and "row 2" in problem and "changed" in problem
    assert "missing" in (verify([rows[1]]) or "")


async def test_migrate_twice_and_events_in_day_partitions(
    tmp_path: Path, database_url: str, mqtt_broker: object
) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        assert await migrate(conn) == ["0001_core", "0002_events (plain)", "0003_alerting", "0004_tenant_clocks",
                                      "0005_partitions", "0006_partition_state", "0007_device_bindings",
                                      "0008_people", "0009_round_two", "0010_mqtt_inbox", "0011_event_log",
                       "0012_evidence"]  # fmt: skip
        assert await migrate(conn) == []
    lines = lines_of(scenario_dirs()[0] / "events.jsonl")
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s) as monitor:
        import httpx

        async with httpx.AsyncClient(base_url=f"http://{s.http}", timeout=30) as api:
            await api.post("/api/v1/events", content=b"[" + b",".join(lines) + b"]",
                           headers={"Authorization": f"Bearer {monitor.token}"})  # fmt: skip
        await settled(monitor, database_url, len(lines))
    parts = await query(database_url, "SELECT tableoid::regclass::text, count(*) FROM events GROUP BY 1")
    assert parts and all(name.startswith("events_p2026") for name, _ in parts), parts


def test_audit_verify_cli_passes_then_names_the_tampered_row(tmp_path: Path, database_url: str) -> None:
    import asyncio

    from sealguard.stream.alert_changes import append_history

    async def seed() -> None:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            await migrate(conn)
            await conn.set_autocommit(False)
            async with conn.transaction():
                await append_history(conn, "acme", [
                    ("00000000-0000-0000-0000-000000000001", "opened", "sealguard", None, "2026-11-02T08:00:00Z", {}),
                    ("00000000-0000-0000-0000-000000000001", "acknowledged", "maria", None, "2026-11-02T08:01:00Z", {}),
                ])  # fmt: skip

    asyncio.run(seed())
    env = {**os.environ, "SEALGUARD_DATABASE_URL": database_url, "SEALGUARD_DATA_DIR": str(tmp_path)}
    ok = subprocess.run([sys.executable, "-m", "sealguard.cli", "audit", "verify"], env=env, capture_output=True,
                        text=True, check=False)  # fmt: skip
    assert ok.returncode == 0 and "2 history rows verified" in ok.stdout, ok.stderr
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE alert_history SET actor = 'mallory' WHERE chain_seq = 2")
    bad = subprocess.run([sys.executable, "-m", "sealguard.cli", "audit", "verify"], env=env, capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert bad.returncode == 1 and "history row 2" in bad.stderr and "changed" in bad.stderr, bad.stderr
    tok = subprocess.run([sys.executable, "-m", "sealguard.cli", "token", "create", "--tenant", "acme", "--role",
                          "operator"], env=env, capture_output=True, text=True, check=False)  # fmt: skip
    assert tok.returncode == 0 and tok.stdout.startswith("sg_")
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT tenant, role FROM api_tokens WHERE token_hash <> %s", (tok.stdout.strip(),)
        ).fetchall()
    assert ("acme", "operator") in row


async def test_a_second_monitor_on_the_same_database_is_refused(
    tmp_path: Path, database_url: str, mqtt_broker: object
) -> None:
    import pytest

    from sealguard.roles.monitor import Monitor
    from sealguard.stream.log import EngineBusy

    async with running(settings(tmp_path / "a", database_url, mqtt_broker)):
        second = Monitor(settings(tmp_path / "b", database_url, mqtt_broker))
        with pytest.raises(EngineBusy, match="another sealguard monitor"):
            await second.start()
        await second.stop()


async def test_two_workers_creating_the_same_day_partition_at_once_both_go_on(database_url: str) -> None:
    """Two workers' batches reach a new day at the same time: the second waits for the first's partition
    and must then go on with it. Its CREATE failed with "already exists" (or a duplicate pg_type key),
    which failed its whole batch, sent it record by record, and could dead-letter an event that had done
    nothing wrong."""
    import asyncio
    from datetime import UTC, datetime

    from sealguard.store.events import PartitionCache

    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await migrate(conn)
    day = [datetime(2031, 3, 4, 12, tzinfo=UTC)]
    first = await psycopg.AsyncConnection.connect(database_url)
    second = await psycopg.AsyncConnection.connect(database_url)
    try:
        async with first.transaction():
            await PartitionCache(True).ensure(first, day)
            second_pid = second.info.backend_pid

            async def second_batch() -> None:
                async with second.transaction():
                    await PartitionCache(True).ensure(second, day)
                    await second.execute("SELECT 1")  # the batch's transaction is still usable

            racing = asyncio.create_task(second_batch())

            async def waiting() -> bool:
                rows = await query(database_url, "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                                   second_pid)  # fmt: skip
                return bool(rows) and rows[0][0] == "Lock"

            await wait_for(waiting, what="the second CREATE waiting on the first")
        await racing  # raised DuplicateTable before the fix
    finally:
        await first.close()
        await second.close()
    names = await query(database_url, "SELECT relname FROM pg_class WHERE relname = 'events_p20310304'")
    assert names == [("events_p20310304",)]


async def test_reference_events_stored_in_one_statement_match_the_copy_path_and_a_repeat_inserts_nothing(
    database_url: str,
) -> None:
    """The gateway stores reference data with one statement each, pipelined (its queue waits for them):
    the event-store row must be the row the workers' binary COPY writes for the same event, column for
    column (every parameter typed by hand), it must exist exactly when the broadcast row is new, and the
    facilities table must follow."""
    from datetime import UTC, datetime

    import orjson

    from sealguard.schemas.decode import decode_event
    from sealguard.store.event_log import Provenance
    from sealguard.store.events import PartitionCache, StoredEvent, write_events, write_reference_events

    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await migrate(conn)

    def stored(event_id: str, kind: str) -> StoredEvent:
        body = (
            {"place": {"facility_id": "DC-9", "center": [-97.1, 32.7], "radius_m": 250.0}}
            if kind == "facility.registered"
            else {"seal_number": "ZZ-1", "facility_id": "DC-9"}
        )
        payload = orjson.dumps({"event_id": event_id, "kind": kind, "occurred_at": "2031-05-06T07:08:09Z", **body})
        event = decode_event(payload)
        received = datetime(2031, 5, 6, 7, 8, 10, 123000, tzinfo=UTC)
        return StoredEvent(0, event, payload, "http", received, Provenance(b"sent as this", ("dcsa", "ab" * 32)))

    facility, seal = stored("ref-1", "facility.registered"), stored("ref-2", "seal.issued")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await PartitionCache(True).ensure(conn, [facility.event.occurred_at])
        await conn.commit()
        async with conn.pipeline(), conn.transaction():
            first = await write_reference_events(conn, [facility, seal, stored("ref-1", "facility.registered")])
        async with conn.pipeline(), conn.transaction():
            again = await write_reference_events(conn, [stored("ref-2", "seal.issued")])
        async with conn.transaction():  # the same facility under another id, the way a worker writes events
            await write_events(conn, [StoredEvent(-999, *[getattr(stored("copy-1", "facility.registered"), f)
                               for f in ("event", "payload", "source", "received_at", "provenance")])],
                               PartitionCache(True))  # fmt: skip
    assert first[2] is None and again == [None]
    assert first[0] is not None and first[1] is not None and first[1].seq == first[0].seq - 1 < 0
    columns = ("kind, conveyance_id, trip_id, occurred_at, received_at, source, payload - 'event_id', original,"
               " partner_format, partner_sha256, tableoid::regclass::text")  # fmt: skip
    rows = await query(database_url, f"SELECT event_id, seq, {columns} FROM events ORDER BY event_id")
    by_id = {r[0]: r for r in rows}
    assert set(by_id) == {"copy-1", "ref-1", "ref-2"}  # the repeats wrote no second row
    assert by_id["ref-1"][2:] == by_id["copy-1"][2:]
    assert by_id["ref-1"][1] == first[0].seq and by_id["ref-2"][1] == first[1].seq
    assert by_id["ref-1"][-1] == "events_p20310506"
    ids = await query(database_url, "SELECT event_id, seq FROM event_ids WHERE event_id LIKE 'ref-%' ORDER BY 1")
    assert ids == [("ref-1", first[0].seq), ("ref-2", first[1].seq)]
    broadcast = await query(database_url, "SELECT event_id, kind FROM reference_events ORDER BY id")
    assert broadcast == [("ref-1", "facility.registered"), ("ref-2", "seal.issued")]
    assert await query(database_url, "SELECT facility_id FROM facilities") == [("DC-9",)]
