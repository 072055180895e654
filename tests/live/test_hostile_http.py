"""The HTTP door against an attacker or a broken device: poison events, a rule or the database failing on
one input, kinds above the sender's role, oversized chunked bodies, revoked tokens, framing, rates."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from sealguard.embedded.servers import MqttBroker
from sealguard.rules import seals
from sealguard.rules.state import with_timer
from sealguard.sim.demo import BUNDLED_SCENARIOS
from tests.live.alerting import token_for
from tests.live.monitor import replay_alerts, running, settings, settled, stored_alerts
from tests.live.servers import query

FIX = {"kind": "gps.position", "occurred_at": "2026-11-02T08:00:00Z", "conveyance_id": "TRL-1", "lat": 27.5,
       "lon": -99.0}  # fmt: skip
FAR_FUTURE = "9999-12-31T23:59:59Z"


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sealguard.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def fix(event_id: str, **extra: Any) -> dict[str, Any]:
    return {**FIX, "event_id": event_id, **extra}


async def letters(url: str) -> dict[str, str]:
    rows = await query(url, "SELECT coalesce(event_id, ''), reason FROM dead_letters ORDER BY id")
    return {r[0]: r[1] for r in rows}


async def stored_ids(url: str) -> set[tuple[str, str]]:
    return {(r[0], r[1]) for r in await query(url, "SELECT tenant, event_id FROM event_ids")}


def api(base: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)


async def test_a_year_9999_event_hurts_no_neighbour_and_no_other_tenant(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        acme = await token_for(database_url, "acme", "scanner", "acme-dock")
        globex = await token_for(database_url, "globex", "scanner", "globex-dock")
        base = f"http://{s.http}"
        async with api(base, acme) as a, api(base, globex) as g:
            batch = [
                fix("a-1"),
                fix("a-poison", occurred_at=FAR_FUTURE),
                fix("a-2", occurred_at="2026-11-02T08:01:00Z"),
            ]
            others = [g.post("/api/v1/events", json=[fix(f"g-{i}", occurred_at=f"2026-11-02T08:0{i}:00Z")])
                      for i in range(5)]  # fmt: skip
            mine, *theirs = await asyncio.gather(a.post("/api/v1/events", json=batch), *others)
            single = await a.post("/api/v1/events", json=fix("a-poison-2", occurred_at=FAR_FUTURE))
        assert mine.status_code == 200, mine.text
        body = mine.json()
        assert [(r["index"], r["status"]) for r in body["results"]] == [(0, "accepted"), (1, "rejected"),
                                                                         (2, "accepted")]  # fmt: skip
        assert body["results"][1]["reason"].startswith("occurred_at: 9999-12-31T23:59:59+00:00 is ")
        assert "clock skew" in body["results"][1]["reason"]
        assert all(r.status_code == 200 and r.json()["accepted"] == 1 for r in theirs)
        assert single.status_code == 422 and single.json()["results"][0]["status"] == "rejected"
        assert ("acme", "a-1") in (ids := await stored_ids(database_url)) and ("acme", "a-2") in ids
        assert {("globex", f"g-{i}") for i in range(5)} <= ids
        dead = await letters(database_url)
        assert "clock skew" in dead["a-poison"] and "clock skew" in dead["a-poison-2"]


async def test_without_a_skew_limit_the_far_future_is_stored_not_a_crash(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    """The partition for 9999-12-31 (whose next day Python cannot name) is created, not an OverflowError."""
    s = settings(tmp_path, database_url, mqtt_broker, max_future_skew=0)
    async with running(s) as monitor, api(f"http://{s.http}", monitor.token) as a:
        resp = await a.post("/api/v1/events", json=[fix("b-1"), fix("b-far", occurred_at=FAR_FUTURE), fix("b-2")])
        assert [r["status"] for r in resp.json()["results"]] == ["accepted"] * 3
        rows = await query(database_url, "SELECT tableoid::regclass::text FROM events WHERE event_id = 'b-far'")
        assert rows == [("events_p99991231",)]


async def test_a_rule_raising_dead_letters_that_event_only(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = seals.on_alarm

    def on_alarm(ctx: Any, conv: Any, trip: Any, event: Any, t: float) -> None:
        if event.seal_number == "BOOM":
            conv.timers = with_timer(conv.timers, "half-way", t)  # a bug that corrupts state before it raises
            raise ZeroDivisionError("a rule bug")
        original(ctx, conv, trip, event, t)

    monkeypatch.setattr(seals, "on_alarm", on_alarm)
    raw = (BUNDLED_SCENARIOS / "seal-mismatch-at-dock" / "events.jsonl").read_bytes()
    good = [orjson.loads(x) for x in raw.splitlines() if x.strip()]
    poison = {"event_id": "boom-1", "kind": "seal.alarm", "occurred_at": good[5]["occurred_at"],
              "conveyance_id": good[0]["conveyance_id"], "seal_number": "BOOM", "alarm": "tamper"}  # fmt: skip
    events = [*good[:6], poison, *good[6:]]
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s) as monitor, api(f"http://{s.http}", monitor.token) as a:
        resp = await a.post("/api/v1/events", json=events)
        results = resp.json()["results"]
        assert results[6]["status"] == "rejected"
        assert results[6]["reason"] == "a rule failed on this event: ZeroDivisionError: a rule bug"
        assert results[6]["event_id"] == "boom-1"
        await settled(monitor, database_url, len(events))
        # The engine was rebuilt without the poison: the alerts are exactly those of the rest.
        rest = [orjson.dumps(e) for e in events if e is not poison]
        assert await stored_alerts(database_url) == replay_alerts(rest)


async def test_a_row_the_database_refuses_is_isolated_from_its_batch(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    async with await __import__("psycopg").AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.event_id = 'refuse-me' THEN RAISE EXCEPTION 'refused by a trigger'; END IF; RETURN NEW; END $$"
        )
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s) as monitor:
        async with await __import__("psycopg").AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON event_ids FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        batch = [fix(f"r-{i}", occurred_at=f"2026-11-02T08:{i:02d}:00Z") for i in range(40)]
        batch[23]["event_id"] = "refuse-me"
        async with api(f"http://{s.http}", monitor.token) as a:
            resp = await a.post("/api/v1/events", json=batch)
        statuses = [r["status"] for r in resp.json()["results"]]
        assert statuses == ["accepted"] * 23 + ["rejected"] + ["accepted"] * 16
        assert "refused by a trigger" in resp.json()["results"][23]["reason"]
        assert len(await stored_ids(database_url)) == 39
        assert "refused by a trigger" in (await letters(database_url))["refuse-me"]  # named by its event id


ROLE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("gps.position", {"lat": 27.5, "lon": -99.0}, "scanner"),
    (
        "seal.verified",
        {"seal_number": "SG1", "steps": dict.fromkeys(("view", "verify", "tug", "twist_turn"), True), "intact": True},
        "scanner",
    ),
    ("inspection.completed", {"inspection_type": "container_7pt", "points": {"floor": "pass"}}, "scanner"),
    (
        "trip.planned",
        {
            "trip_id": "T-9",
            "seal_numbers": ["SG1"],
            "origin": {"facility_id": "O", "center": [-99, 27.5], "radius_m": 500},
            "destination": {"facility_id": "D", "center": [-99, 28.5], "radius_m": 500},
        },
        "operator",
    ),
    ("trip.closed", {"trip_id": "T-9"}, "operator"),
    ("facility.registered", {"place": {"facility_id": "F", "center": [-99, 28], "radius_m": 300}}, "admin"),
]


async def test_each_kind_against_each_role(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    order = ["scanner", "operator", "admin"]
    async with running(s):
        for role in order:
            token = await token_for(database_url, "acme", role, f"{role}-kinds")
            async with api(f"http://{s.http}", token) as a:
                for n, (kind, fields, needs) in enumerate(ROLE_CASES):
                    event = {"event_id": f"{role}-{n}", "kind": kind, "occurred_at": "2026-11-02T08:00:00Z",
                             "conveyance_id": f"TRL-{role}", **fields}  # fmt: skip
                    if "trip_id" in fields:
                        event["trip_id"] = f"T-{role}"
                    if kind == "facility.registered":
                        del event["conveyance_id"]
                    resp = await a.post("/api/v1/events", json=event)
                    allowed = order.index(role) >= order.index(needs)
                    result = resp.json()["results"][0]
                    if allowed:
                        assert result["status"] == "accepted", (role, kind, result)
                    else:
                        assert resp.status_code == 422, (role, kind)
                        assert result["reason"] == f"kind: {kind} needs the {needs} role; this sender is a {role}"
        dead = await letters(database_url)
        assert "needs the operator role" in dead["scanner-3"] and "needs the admin role" in dead["operator-5"]


def _rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def test_chunked_oversized_bodies_are_cut_off_while_reading(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    chunk = b"[" + b" " * (1024 * 1024 - 1)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(200):  # 200 MiB, chunked (no Content-Length)
            yield chunk

    async with running(s) as monitor:
        before = _rss_mib()
        peak = before
        done = asyncio.Event()

        async def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _rss_mib())
                await asyncio.sleep(0.01)

        async def send() -> int:
            try:
                async with api(f"http://{s.http}", monitor.token) as a:
                    return (await a.post("/api/v1/events", content=body())).status_code
            except httpx.HTTPError:
                return -1  # the server closed the connection after its 413: the body was not read

        watcher = asyncio.create_task(watch())
        codes = await asyncio.gather(*(send() for _ in range(4)))
        done.set()
        await watcher
        assert all(code in (413, -1) for code in codes), codes
        assert 413 in codes
        # Four 200 MiB bodies at once: the monitor held at most about its 5 MiB limit of each.
        assert peak - before < 100, (before, peak)


async def test_revoked_token_stops_requests_and_its_open_stream(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        token = await token_for(database_url, "acme", "operator", "night-shift")
        base = f"http://{s.http}"
        async with api(base, token) as a:
            assert (await a.get("/api/v1/alerts")).status_code == 200
            async with a.stream("GET", "/api/v1/stream") as stream:
                lines = stream.aiter_lines()
                assert await anext(lines) == "retry: 2000"
                env = {
                    **os.environ,
                    "SEALGUARD_DATABASE_URL": database_url,
                    "SEALGUARD_DATA_DIR": str(tmp_path / "cli"),
                }
                listed = cli(env, "token", "list")
                assert "night-shift" in listed.stdout and token not in listed.stdout
                revoked = cli(env, "token", "revoke", "--label", "night-shift")
                assert revoked.returncode == 0 and revoked.stdout.startswith("revoked: "), revoked.stderr
                seen = []
                async with asyncio.timeout(10):  # the stream ends by itself
                    async for line in lines:
                        seen.append(line)
                assert "event: revoked" in seen
            assert (await a.get("/api/v1/alerts")).status_code == 401
        again = cli(env, "token", "revoke", "--label", "night-shift")
        assert again.returncode == 2 and "no live token" in again.stderr


async def test_rate_limit_counts_events_per_token(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    s = settings(tmp_path, database_url, mqtt_broker, http_rate_per_s=1, http_rate_burst=10)
    async with running(s):
        one = await token_for(database_url, "acme", "scanner", "")
        two = await token_for(database_url, "acme", "scanner", "")  # same (default) label, its own bucket
        base = f"http://{s.http}"
        async with api(base, one) as a, api(base, two) as b:
            first = await a.post("/api/v1/events", json=[fix(f"rl-{i}") for i in range(10)])
            assert first.status_code == 200
            refused = await a.post("/api/v1/events", json=[fix("rl-10"), fix("rl-11")])
            assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
            assert (await b.post("/api/v1/events", json=[fix(f"rl2-{i}") for i in range(10)])).status_code == 200


async def test_pages_cannot_be_framed_and_metrics_can_need_a_token(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    s = settings(tmp_path, database_url, mqtt_broker, metrics_token="scrape-secret")
    async with running(s), httpx.AsyncClient(base_url=f"http://{s.http}", timeout=30) as c:
        for path in ("/", "/dock", "/api/v1/openapi.json"):
            resp = await c.get(path)
            assert "frame-ancestors 'none'" in resp.headers["content-security-policy"], path
            assert resp.headers["x-frame-options"] == "DENY"
        assert (await c.get("/api/v1/docs")).status_code == 404  # the CDN-loaded docs UI is not served
        for path in ("/", "/dock", "/alerts/x"):
            page = (await c.get(path)).text
            assert '<script src="http' not in page and "cdn" not in page.lower(), path
        assert (await c.get("/metrics")).status_code == 401
        ok = await c.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert ok.status_code == 200 and "sealguard_" in ok.text
