"""The MQTT door against an attacker: the embedded broker (Mosquitto and amqtt) admits API tokens only,
confines each to its tenant and role, lets nobody else read events or take over the monitor's session,
and keeps what devices publish while the monitor is killed."""

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import aiomqtt
import orjson
import psycopg
import pytest

from sealguard.config import Settings
from sealguard.embedded.servers import free_port
from sealguard.ingest.admit import KIND_ROLES
from sealguard.ingest.mqtt_acl import topic_for
from sealguard.store import tokens
from tests.live.embedded import BROKERS, HAS_MOSQUITTO, embedded
from tests.live.monitor import lines_of, ready, replay_alerts, running, settled, start_up, stored_alerts
from tests.live.servers import query, wait_for
from tests.live.simulated import fleet_lines
from tests.scenario_folders import scenario_dirs


def fix(event_id: str, tenant: str = "acme") -> bytes:
    return orjson.dumps({"event_id": event_id, "kind": "gps.position", "occurred_at": "2026-11-02T08:00:00Z",
                         "conveyance_id": "TRL-1", "lat": 27.5, "lon": -99.0, "tenant": tenant})  # fmt: skip


def plan(event_id: str) -> bytes:
    place = {"facility_id": "O", "center": [-99.0, 27.5], "radius_m": 500}
    return orjson.dumps({"event_id": event_id, "kind": "trip.planned", "occurred_at": "2026-11-02T08:00:00Z",
                         "conveyance_id": f"TRL-{event_id}", "trip_id": f"T-{event_id}", "seal_numbers": ["SG1"],
                         "origin": place, "destination": {**place, "facility_id": "D"}})  # fmt: skip


async def new_token(url: str, tenant: str, role: str) -> tuple[str, str]:
    """A token and its MQTT user name."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        token, token_id = await tokens.create_with_id(conn, tenant, role)  # type: ignore[arg-type]
    return token, f"sg-{token_id}"


def client(port: int, username: str | None, password: str | None, client_id: str | None = None,
           clean: bool = True) -> aiomqtt.Client:  # fmt: skip
    return aiomqtt.Client("127.0.0.1", port, username=username, password=password,
                          identifier=client_id or f"dev-{uuid.uuid4().hex[:8]}", clean_session=clean)  # fmt: skip


async def refused(port: int, username: str | None, password: str | None) -> bool:
    try:
        async with client(port, username, password):
            return False
    except aiomqtt.MqttError:
        return True


async def ids(url: str) -> set[str]:
    return {r[0] for r in await query(url, "SELECT event_id FROM event_ids")}


async def letters(url: str) -> dict[str, str]:
    return {r[0]: r[1] for r in await query(url, "SELECT coalesce(event_id, ''), reason FROM dead_letters")}


async def stored(url: str, event_id: str) -> None:
    async def there() -> bool:
        return event_id in await ids(url)

    await wait_for(there, what=f"{event_id} stored")


@pytest.mark.parametrize("broker", BROKERS)
async def test_embedded_broker_admits_tokens_only_and_confines_them(
    tmp_path: Path, database_url: str, broker: str
) -> None:
    s = embedded(tmp_path, database_url, broker)
    async with running(s) as monitor:
        port = s.mqtt_embedded_port
        scanner, scanner_user = await new_token(database_url, "acme", "scanner")
        operator, operator_user = await new_token(database_url, "acme", "operator")
        # Both new tokens: the broker's files may be synced between the two (seen under load on Mosquitto).
        await wait_for(lambda: _login_works(port, scanner_user, scanner), what="new token admitted")
        await wait_for(lambda: _login_works(port, operator_user, operator), what="second new token admitted")
        assert await refused(port, None, None), "anonymous client admitted"
        assert await refused(port, scanner_user, "sg_not-the-token"), "wrong token admitted"
        assert await refused(port, "sealguard-monitor", "guess"), "monitor user with a guessed password"

        received: list[str] = []

        async def eavesdrop() -> None:
            async with client(port, operator_user, operator) as spy:
                for topic_filter in ("#", "sealguard/v1/+/events", "sealguard/v1/acme/events/+"):
                    with _suppress_refusal():
                        await spy.subscribe(topic_filter, qos=1)
                async for message in spy.messages:
                    received.append(message.topic.value)

        spy = asyncio.create_task(eavesdrop())
        async with client(port, scanner_user, scanner) as dev:
            await dev.publish("sealguard/v1/acme/events", fix("own-tenant"), qos=1)
            await dev.publish("sealguard/v1/globex/events", fix("other-tenant", "globex"), qos=1)
            await dev.publish("sealguard/v1/acme/events/operator", plan("scanner-on-operator-topic"), qos=1)
            await dev.publish("sealguard/v1/acme/events", plan("scanner-plans"), qos=1)
        facility = orjson.dumps({"event_id": "operator-registers", "kind": "facility.registered",
                                 "occurred_at": "2026-11-02T08:00:00Z",
                                 "place": {"facility_id": "F", "center": [-99.0, 28.0], "radius_m": 300}})  # fmt: skip
        async with client(port, "any-name", operator) as op:  # the front carries its role to the monitor
            await op.publish("sealguard/v1/acme/events", plan("operator-plans"), qos=1)
            await op.publish("sealguard/v1/acme/events", facility, qos=1)
            await op.publish("sealguard/v1/acme/events/admin", plan("operator-on-admin-topic"), qos=1)
            await op.publish("sealguard/v1/acme/events", fix("sentinel"), qos=1)
        await stored(database_url, "sentinel")
        await asyncio.sleep(0.5)  # let anything the spy might have been sent arrive
        spy.cancel()
        with _suppress_refusal():
            await spy
        got = await ids(database_url)
        assert {"own-tenant", "operator-plans", "sentinel"} <= got
        assert not {"other-tenant", "scanner-on-operator-topic", "operator-on-admin-topic", "scanner-plans"} & got
        dead = await letters(database_url)
        assert dead["scanner-plans"] == "kind: trip.planned needs the operator role; this sender is a scanner"
        assert dead["operator-registers"] == "kind: facility.registered needs the admin role; this sender is a operator"
        assert received == [], f"a token read events: {received}"

        # Any user name with the token as password, or the token as user name (as ThingsBoard devices do).
        for user, password in (("truck-7", scanner), (scanner, "")):
            async with client(port, user, password or None) as dev:
                await dev.publish("sealguard/v1/acme/events", fix(f"login-{len(user)}"), qos=1)
        await stored(database_url, f"login-{len(scanner)}")
        await stored(database_url, "login-7")

        async with client(port, scanner_user, scanner) as still_open:
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                await tokens.revoke(conn, token_id=int(scanner_user.removeprefix("sg-")))
            await wait_for(lambda: refused(port, scanner_user, scanner), what="revoked token refused")
            # A connection opened before the revocation may keep its socket, but publishes nothing more.
            with _suppress_refusal():
                await still_open.publish("sealguard/v1/acme/events", fix("after-revoke"), qos=1)
        async with client(port, operator_user, operator) as op:
            await op.publish("sealguard/v1/acme/events", fix("sentinel-2"), qos=1)
        await stored(database_url, "sentinel-2")
        assert "after-revoke" not in await ids(database_url)
        assert monitor.sources[0].connected


async def _login_works(port: int, username: str, password: str) -> bool:
    return not await refused(port, username, password)


class _suppress_refusal:  # noqa: N801 - used like contextlib.suppress
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        return isinstance(exc, aiomqtt.MqttError | asyncio.CancelledError)


@pytest.mark.parametrize("broker", BROKERS)
async def test_nobody_takes_over_the_monitors_session(tmp_path: Path, database_url: str, broker: str) -> None:
    """Three clients with valid tokens keep connecting as 'sealguard-monitor' (the old fixed id), clean
    session, while a device publishes: every event arrives."""
    s = embedded(tmp_path, database_url, broker)
    async with running(s):
        port = s.mqtt_embedded_port
        token, user = await new_token(database_url, "acme", "scanner")
        await wait_for(lambda: _login_works(port, user, token), what="token admitted")
        stop = asyncio.Event()

        async def hijack() -> None:
            while not stop.is_set():
                with _suppress_refusal():
                    async with client(port, user, token, client_id="sealguard-monitor", clean=True):
                        await asyncio.sleep(0.05)

        hijackers = [asyncio.create_task(hijack()) for _ in range(3)]
        async with client(port, user, token, client_id="device-1") as dev:
            for i in range(1500):
                await dev.publish("sealguard/v1/acme/events", fix(f"h-{i}"), qos=1)
        await stored(database_url, "h-1499")

        async def all_there() -> bool:
            return len(await ids(database_url)) == 1500

        await wait_for(all_there, what="1500 events stored")
        stop.set()
        await asyncio.gather(*hijackers)


def db_url(data: Path) -> str:
    """The embedded database of ``sealguard up`` in ``data`` (its port changes at every start)."""
    return (data / "postgres.url").read_text().strip()


@pytest.mark.parametrize("broker", BROKERS)
async def test_kill_9_then_restart_keeps_what_devices_published(tmp_path: Path, broker: str) -> None:
    """``sealguard up`` on the embedded default (PostgreSQL and broker) is killed with SIGKILL in the
    middle of a device's stream; the device goes on publishing while it is down; the next ``up`` (same
    data dir, same port) finds the orphaned servers and reads what was published meanwhile.

    Nothing is lost on either broker: the front door logs each publish in the database before it
    acknowledges it, so amqtt's habit of dropping the QoS 1 messages in flight to a subscriber that died
    (amqtt issue #401) no longer costs anything. Without the log, amqtt lost some in every run (12 of 4,861
    in one)."""
    lines = fleet_lines(hours=8)
    http, mqtt = free_port(), free_port()
    data = tmp_path / "data"
    env = {**os.environ, "SEALGUARD_MQTT_EMBEDDED": broker,
           "SEALGUARD_MQTT_EMBEDDED_PORT": str(mqtt), "SEALGUARD_HTTP": f"127.0.0.1:{http}",
           "SEALGUARD_DATA_DIR": str(data), "SEALGUARD_CHECKPOINT_EVERY_S": "0.5",
           "SEALGUARD_LOG_LEVEL": "WARNING"}  # fmt: skip
    proc = start_up(env, tmp_path / "monitor.log")
    try:
        await wait_for(ready(http), what="monitor ready")
        token = (data / "admin-token").read_text().strip()
        async with await psycopg.AsyncConnection.connect(db_url(data)) as conn:
            found = await tokens.lookup(conn, token)
        assert found is not None
        user = f"sg-{found.token_id}"
        sent = 0

        async def publish() -> None:
            nonlocal sent
            async with client(mqtt, user, token, client_id="fleet-gateway", clean=False) as dev:
                for line in lines:
                    kind = orjson.loads(line)["kind"]
                    await dev.publish(topic_for("default", kind, KIND_ROLES), line, qos=1)
                    sent += 1

        publisher = asyncio.create_task(publish())

        async def flowing() -> bool:
            return len(await ids(db_url(data))) >= 100

        await wait_for(flowing, what="the stream flowing")
        servers = [data / "mqtt" / "server.pid", data / "mqtt-front" / "server.pid"]
        pids = [p.read_text().split()[0] for p in servers]
        proc.send_signal(signal.SIGKILL)  # mid-stream, with deliveries in flight
        proc.wait(10)
        sent_at_kill = sent
        assert len(await ids(db_url(data))) < len(lines) // 2, "killed too late to prove anything"
        await publisher  # the rest is published while the monitor is down: the orphaned broker queues it
        proc = start_up(env, tmp_path / "monitor.log")
        await wait_for(ready(http), timeout=60, what="monitor ready after the kill")
        assert [p.read_text().split()[0] for p in servers] == pids, "the orphaned broker and front were not adopted"

        async def all_stored() -> bool:
            return len(await ids(db_url(data))) == len(lines)

        try:
            await wait_for(all_stored, timeout=90, what="every event stored after the restart")
        finally:
            lost = len(lines) - len(await ids(db_url(data)))
            print(f"kill -9 with the embedded {broker}: {len(lines)} published ({len(lines) - sent_at_kill}"
                  f" while the monitor was down), {lost} lost")  # fmt: skip
        expected = replay_alerts(lines)

        async def alerts_match() -> bool:
            return await stored_alerts(db_url(data)) == expected

        await wait_for(alerts_match, timeout=30, what="stored alerts equal to the replay's")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sealguard.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


@pytest.mark.skipif(not HAS_MOSQUITTO, reason="Debian mosquitto not installed")
async def test_a_mosquitto_the_operator_runs_enforces_the_synced_files(tmp_path: Path, database_url: str) -> None:
    """`sealguard mqtt sync` writes password_file and acl_file for the operator's Mosquitto and SIGHUPs it:
    tokens get in, confined to their tenant; a revoked token is out after the next sync."""
    port, monitor_password = free_port(), uuid.uuid4().hex
    mqtt_url = f"mqtt://sealguard-monitor:{monitor_password}@127.0.0.1:{port}"
    env = {**os.environ, "SEALGUARD_DATABASE_URL": database_url, "SEALGUARD_MQTT_URL": mqtt_url,
           "SEALGUARD_DATA_DIR": str(tmp_path / "cli")}  # fmt: skip
    created = cli(env, "token", "create", "--tenant", "acme", "--role", "scanner", "--label", "dock-7")
    assert created.returncode == 0, created.stderr
    token, user = created.stdout.strip(), created.stderr.split("wants the user name ")[1].split(")")[0]
    files = ("--password-file", str(tmp_path / "passwd"), "--acl-file", str(tmp_path / "acl"),
             "--pid-file", str(tmp_path / "mosquitto.pid"))  # fmt: skip
    assert cli(env, "mqtt", "sync", *files).returncode == 0
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {tmp_path}/passwd\n"
                    f"acl_file {tmp_path}/acl\npid_file {tmp_path}/mosquitto.pid\nuser root\n")  # fmt: skip
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with (tmp_path / "mosquitto.log").open("ab") as log:
        broker = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=log, stderr=log)
    try:
        await wait_for((tmp_path / "mosquitto.pid").exists, what="mosquitto running")
        s = Settings(data_dir=tmp_path / "data", database_url=database_url, mqtt_url=mqtt_url, mqtt_acl="sealguard",
                     mqtt_client_id=f"sg-ext-{uuid.uuid4().hex[:8]}", http=f"127.0.0.1:{free_port()}")  # fmt: skip
        async with running(s) as monitor:
            await wait_for(lambda: monitor.sources[0].connected, what="monitor logged in to the broker")
            assert await refused(port, None, None)
            async with client(port, user, token) as dev:
                await dev.publish("sealguard/v1/globex/events", fix("ext-other", "globex"), qos=1)
                await dev.publish("sealguard/v1/acme/events", plan("ext-plan"), qos=1)
                await dev.publish("sealguard/v1/acme/events", fix("ext-own"), qos=1)
            await stored(database_url, "ext-own")
            assert not {"ext-other", "ext-plan"} & await ids(database_url)
            assert "needs the operator role" in (await letters(database_url))["ext-plan"]
            assert cli(env, "token", "revoke", "--label", "dock-7").returncode == 0
            synced = cli(env, "mqtt", "sync", *files)
            assert synced.returncode == 0 and "written" in synced.stdout, synced.stdout + synced.stderr
            await wait_for(lambda: refused(port, user, token), what="revoked token refused after the sync")
    finally:
        broker.terminate()
        broker.wait(10)


@pytest.mark.parametrize("broker", BROKERS)
async def test_a_burst_on_the_embedded_broker_loses_nothing(tmp_path: Path, database_url: str, broker: str) -> None:
    """Every example scenario published as fast as the embedded broker takes it, a hundred QoS 1
    messages in flight at a time: every acknowledged message is stored once, and the alerts are the
    replay's. Before the front door's log, amqtt lost about 2,400 of 6,137 here and 14-17 alerts."""
    s = embedded(tmp_path, database_url, broker)
    lines = [line for folder in scenario_dirs() for line in lines_of(folder / "events.jsonl")]
    async with running(s) as monitor:
        port = s.mqtt_embedded_port
        async with client(port, "fleet", monitor.token, client_id="burst") as dev:
            for start in range(0, len(lines), 100):
                chunk = lines[start : start + 100]
                await asyncio.gather(*(dev.publish(_topic_of(line), line, qos=1) for line in chunk))
        await settled(monitor, database_url, len(lines))
        assert await stored_alerts(database_url) == replay_alerts(lines)
        assert replay_alerts(lines), "the scenarios must raise alerts, or this comparison proves nothing"
        assert not await query(database_url, "SELECT 1 FROM mqtt_inbox LIMIT 1"), "the log was not drained"


def _topic_of(line: bytes) -> str:
    try:
        kind = orjson.loads(line).get("kind", "")
    except (orjson.JSONDecodeError, AttributeError):
        kind = ""
    return topic_for("default", str(kind), KIND_ROLES)
