"""Commands of the live monitor: up, db migrate, token create, audit verify, alerts route, receivers, simulate."""

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sealguard import collector
from sealguard.errors import SealguardError

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def add_commands(sub: Any) -> None:
    sub.add_parser("up", help="run the monitor: every role in one process (configure with SEALGUARD_* variables)")
    roles = {
        "gateway": "stateless MQTT and HTTP ingest: validate, decide the edge, publish to Kafka",
        "worker": "a member of the Kafka consumer group running the rule engine (one per partition set)",
        "notifier": "drain the notification outbox (several may run)",
        "api": "the web API, pages and live streams, stateless over PostgreSQL",
    }
    for name, text in roles.items():
        sub.add_parser(name, help=f"split role: {text} (needs SEALGUARD_DATABASE_URL and SEALGUARD_KAFKA_BOOTSTRAP)")

    db = sub.add_parser("db", help="database tools")
    dsub = db.add_subparsers(dest="db_command", required=True)
    dsub.add_parser("migrate", help="apply the SQL migrations that are missing")

    tk = sub.add_parser("token", help="API tokens")
    tsub = tk.add_subparsers(dest="token_command", required=True)
    tc = tsub.add_parser("create", help="create a token and print it (it is stored hashed; it cannot be shown again)")
    tc.add_argument("--tenant", required=True, help="tenant the token belongs to ('*' for every tenant)")
    tc.add_argument("--role", required=True, choices=["scanner", "operator", "admin"])
    tc.add_argument("--facility", help="for a scanner: the facility it scans at")
    tc.add_argument("--label", default="", help="who or what holds it")
    tl = tsub.add_parser("list", help="list tokens (id, tenant, role, facility, label, created); never the secret")
    tl.add_argument("--all", action="store_true", help="include revoked tokens")
    tr = tsub.add_parser("revoke", help="revoke tokens at once (new requests and open streams within a second)")
    which = tr.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, help="the token's id (from 'token list')")
    which.add_argument("--label", help="every live token with this label")

    dv = sub.add_parser("device", help="bind partner devices (Traccar, OwnTracks, e-locks, EPCs) to conveyances")
    dvsub = dv.add_subparsers(dest="device_command", required=True)
    db_ = dvsub.add_parser("bind", help="bind a device to a conveyance from a time on (its open binding ends there)")
    db_.add_argument("device", help="the device as sealguard names it: traccar:ID, owntracks:USER/DEVICE, epc:URI, ...")
    db_.add_argument("conveyance", help="the conveyance it reports for")
    db_.add_argument("--tenant", default="default")
    db_.add_argument("--from", dest="valid_from", help="ISO 8601 time with offset (default: now)")
    db_.add_argument("--seal", help="the seal number, when the device is the seal (an e-seal or e-lock)")
    du = dvsub.add_parser("unbind", help="end a device's open binding")
    du.add_argument("device")
    du.add_argument("--tenant", default="default")
    du.add_argument("--at", help="ISO 8601 time with offset (default: now)")
    dl = dvsub.add_parser("list", help="bindings valid now (all periods with --all, or one device's with --device)")
    dl.add_argument("--tenant", help="one tenant (default: all)")
    dl.add_argument("--device", help="every period of one device")
    dl.add_argument("--all", action="store_true", help="include ended bindings")

    mq = sub.add_parser("mqtt", help="MQTT broker tools")
    msub = mq.add_subparsers(dest="mqtt_command", required=True)
    ms = msub.add_parser("sync", help="write Mosquitto password_file and acl_file from the live tokens (and SIGHUP it)")
    ms.add_argument("--password-file", required=True, type=Path)
    ms.add_argument("--acl-file", required=True, type=Path)
    ms.add_argument("--pid-file", type=Path, help="Mosquitto's pid file: send it SIGHUP when a file changed")
    ms.add_argument("--watch", type=float, default=0, help="keep syncing every N seconds (0: once)")

    au = sub.add_parser("audit", help="audit tools")
    asub = au.add_subparsers(dest="audit_command", required=True)
    av = asub.add_parser("verify", help="check the hash chain of the alert history")
    av.add_argument("--tenant", help="only this tenant's chain")

    al = sub.add_parser("alerts", help="alerting tools")
    alsub = al.add_subparsers(dest="alerts_command", required=True)
    ar = alsub.add_parser("route", help="dry run: which receivers, tiers and timing an alert would get")
    ar.add_argument("--config", type=Path, help="alerting YAML (default: SEALGUARD_ALERTING)")
    ar.add_argument("--tenant", required=True)
    ar.add_argument("--rule", required=True, help="rule id, e.g. SEAL-003")
    ar.add_argument("--severity", required=True, choices=["critical", "high", "medium", "low"])
    ar.add_argument("--facility")
    ar.add_argument("--conveyance")
    ar.add_argument("--trip")

    rc = sub.add_parser("receivers", help="run a local webhook/PagerDuty/Slack receiver and SMTP server, printing"
                        " what arrives (to point a monitor's alerting at)")  # fmt: skip
    rc.add_argument("--http-port", type=int, default=9080)
    rc.add_argument("--smtp-port", type=int, default=9025)

    sm = sub.add_parser("simulate", help="publish a live simulated fleet (trucks, seals, docks, incidents)")
    sm.add_argument("--mqtt-url", help="broker to publish to (default: SEALGUARD_MQTT_URL or mqtt://127.0.0.1:1883)")
    sm.add_argument("--kafka-bootstrap", help="also publish to Kafka (default: SEALGUARD_KAFKA_BOOTSTRAP)")
    sm.add_argument("--http", help="post to this API base URL instead of a broker, e.g. http://127.0.0.1:8000")
    sm.add_argument("--token", help="API token for --http (default: the data dir's admin-token)")
    sm.add_argument("--trucks", type=int, default=12, help="trucks on the road at once")
    sm.add_argument("--speedup", type=float, default=60.0, help="simulated seconds per real second")
    sm.add_argument("--incident-rate", type=float, default=0.35, help="share of trips that get an incident")
    sm.add_argument("--duration", type=float, default=0.0, help="stop after this many real seconds (0: run on)")
    sm.add_argument("--tenant", default="default")
    sm.add_argument("--seed", type=int, default=17)


def run(args: argparse.Namespace) -> int | None:
    """Run a live command, or return None when ``args`` is not one of ours."""
    handlers = {"up": _up, "gateway": _role, "worker": _role, "notifier": _role, "api": _role, "db": _db,
                "token": _token, "mqtt": _mqtt, "audit": _audit, "simulate": _simulate, "alerts": _alerts,
                "receivers": _receivers, "device": _device}  # fmt: skip
    handler = handlers.get(args.command)
    return handler(args) if handler else None


def _settings() -> Any:
    from sealguard.config import Settings

    return Settings()


def _up(_args: argparse.Namespace) -> int:
    from sealguard.roles.monitor import Monitor
    from sealguard.roles.serving import run_until_signalled

    settings = _settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    collector.collect_less_often()
    from sealguard.roles.monitor import DataDirBusy
    from sealguard.stream.log import EngineBusy

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_until_signalled(Monitor(settings)))
    except (EngineBusy, DataDirBusy) as exc:
        print(f"sealguard up: {exc}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def _role(args: argparse.Namespace) -> int:
    from sealguard.roles.serving import run_until_signalled
    from sealguard.roles.split import RoleConfigError, RoleProcess

    settings = _settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    collector.collect_less_often()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_until_signalled(RoleProcess(args.command, settings)))
    except RoleConfigError as exc:
        print(f"sealguard {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


@contextlib.asynccontextmanager
async def _database() -> AsyncIterator[str]:
    """The configured database; else the running monitor's embedded one; else the embedded one of the
    data directory, started for this command under the data directory's lock (so a monitor starting
    meanwhile waits its turn rather than taking it for an orphan). Says on standard error which."""
    from sealguard.embedded.servers import DataDirLock, EmbeddedPostgres
    from sealguard.roles.monitor import _redact, embedded_url_file

    settings = _settings()
    if settings.database_url:
        _using(f"{_redact(settings.database_url)} (SEALGUARD_DATABASE_URL)")
        yield settings.database_url
        return
    data_dir = settings.data_dir.resolve()
    running = embedded_url_file(settings.data_dir)
    if running.exists() and await _answers(url := running.read_text().strip()):
        _using(f"the running monitor's embedded database in {data_dir}")
        yield url  # outside any suppress: the command's own errors must reach the user
        return
    from sealguard.sim.demo import DEMO_DIR

    demo = embedded_url_file(settings.data_dir / DEMO_DIR)
    if demo.exists() and await _answers(url := demo.read_text().strip()):
        _using(f"the running demo's embedded database in {data_dir / DEMO_DIR}")
        yield url
        return
    lock = DataDirLock(settings.data_dir)
    if not lock.acquire():
        raise CommandError(f"a monitor holds {data_dir} but its database does not answer; try again shortly")
    try:
        pg = EmbeddedPostgres(settings.data_dir / "postgres")
        await asyncio.to_thread(pg.start)
        _using(f"the embedded database in {data_dir} (started for this command)")
        try:
            yield pg.url
        finally:
            await asyncio.to_thread(pg.stop)
    finally:
        lock.release()


def _using(which: str) -> None:
    print(f"sealguard: using {which}", file=sys.stderr)


class CommandError(SealguardError):
    """A command that cannot go on, with the one line that says why."""


async def _answers(url: str) -> bool:
    import psycopg

    try:
        async with await psycopg.AsyncConnection.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _db(_args: argparse.Namespace) -> int:
    from sealguard.roles.monitor import migrate_url

    async def go() -> list[str]:
        async with _database() as url:
            return await migrate_url(url)

    applied = asyncio.run(go())
    print("applied: " + ", ".join(applied) if applied else "the database is up to date")
    return EXIT_OK


def _token(args: argparse.Namespace) -> int:
    import psycopg

    from sealguard.roles.monitor import migrate_url
    from sealguard.store import tokens

    async def go() -> tuple[int, str]:
        async with _database() as url:
            await migrate_url(url)
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                if args.token_command == "create":
                    token, token_id = await tokens.create_with_id(
                        conn, args.tenant, args.role, facility=args.facility, label=args.label
                    )
                    print(f"token id {token_id} (MQTT: the token is the password; a Mosquitto you run with"
                          f" 'sealguard mqtt sync' wants the user name sg-{token_id})", file=sys.stderr)  # fmt: skip
                    return EXIT_OK, token
                if args.token_command == "list":
                    rows = await tokens.list_tokens(conn, include_revoked=args.all)
                    return EXIT_OK, _token_table(rows)
                revoked = await tokens.revoke(conn, token_id=args.id, label=args.label)
                if not revoked:
                    which = f"id {args.id}" if args.id is not None else f"label {args.label!r}"
                    return EXIT_USAGE, f"no live token with {which}"
                return EXIT_OK, "revoked: " + ", ".join(str(i) for i in revoked)

    code, text = asyncio.run(go())
    print(text, file=sys.stdout if code == EXIT_OK else sys.stderr)
    return code


def _device(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    import psycopg

    from sealguard.roles.monitor import migrate_url
    from sealguard.store import device_bindings

    def when(value: str | None, name: str) -> datetime:
        if value is None:
            return datetime.now(UTC)
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise CommandError(f"--{name}: give the time with an offset (e.g. 2026-11-30T08:00:00Z)")
        return parsed

    async def go() -> tuple[int, str]:
        async with _database() as url:
            await migrate_url(url)
            async with await psycopg.AsyncConnection.connect(url) as conn, conn.transaction():
                if args.device_command == "bind":
                    try:
                        made = await device_bindings.bind(conn, args.tenant, args.device, args.conveyance,
                                                          when(args.valid_from, "from"), seal_number=args.seal,
                                                          created_by="cli")  # fmt: skip
                    except device_bindings.BindingConflict as exc:
                        return EXIT_USAGE, str(exc)
                    return EXIT_OK, _binding_table([made])
                if args.device_command == "unbind":
                    ended = await device_bindings.unbind(conn, args.tenant, args.device, when(args.at, "at"))
                    if ended is None:
                        return EXIT_USAGE, f"device {args.device} has no open binding then"
                    return EXIT_OK, _binding_table([ended])
                if args.device:
                    rows = await device_bindings.of_device(conn, args.tenant or "default", args.device)
                else:
                    now = None if args.all else datetime.now(UTC)
                    rows = await device_bindings.listing(conn, args.tenant, limit=100_000, offset=0, current_at=now)
                return EXIT_OK, _binding_table(rows)

    code, text = asyncio.run(go())
    print(text, file=sys.stdout if code == EXIT_OK else sys.stderr)
    return code


def _binding_table(rows: list[Any]) -> str:
    lines = ["tenant\tdevice\tconveyance\tseal\tfrom\tuntil\tby"]
    for b in rows:
        until = b.valid_until.isoformat(timespec="seconds") if b.valid_until else "-"
        lines.append(f"{b.tenant}\t{b.device_id}\t{b.conveyance_id}\t{b.seal_number or '-'}"
                     f"\t{b.valid_from.isoformat(timespec='seconds')}\t{until}\t{b.created_by}")  # fmt: skip
    return "\n".join(lines)


def _token_table(rows: list[Any]) -> str:
    lines = ["id\ttenant\trole\tfacility\tlabel\tcreated\trevoked"]
    for r in rows:
        revoked = r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else "-"
        lines.append(f"{r.id}\t{r.tenant}\t{r.role}\t{r.facility or '-'}\t{r.label}"
                     f"\t{r.created_at.isoformat(timespec='seconds')}\t{revoked}")  # fmt: skip
    return "\n".join(lines)


def _audit(args: argparse.Namespace) -> int:
    import psycopg

    from sealguard.alerts.audit import verify
    from sealguard.store.alerts import history

    async def go() -> tuple[int, str | None]:
        async with _database() as url, await psycopg.AsyncConnection.connect(url, options="-c timezone=UTC") as conn:
            rows = await history(conn, args.tenant)
            return len(rows), verify(rows)

    count, problem = asyncio.run(go())
    if problem is not None:
        print(f"audit: BROKEN: {problem}", file=sys.stderr)
        return EXIT_FAIL
    if count == 0:
        print("audit: no alert history yet" + (f" for tenant {args.tenant}" if args.tenant else "")
              + "; nothing to verify")  # fmt: skip
        return EXIT_OK
    print(f"audit: {count} history rows verified, every chain intact")
    return EXIT_OK


def _simulate(args: argparse.Namespace) -> int:
    from sealguard.sim.simulate import SimulatorOptions, run_simulator

    settings = _settings()
    token = args.token
    if not token:
        path = Path(settings.data_dir) / "admin-token"
        token = path.read_text().strip() if path.exists() else None
    mqtt_url = args.mqtt_url or settings.mqtt_url
    embedded = not mqtt_url
    if embedded and not args.http:
        # The embedded broker admits tokens only: any user name, the token as password.
        if not token:
            print("simulate: the embedded broker needs a token (--token, or the data dir's admin-token)",
                  file=sys.stderr)  # fmt: skip
            return EXIT_USAGE
        mqtt_url = f"mqtt://simulator:{token}@127.0.0.1:{settings.mqtt_embedded_port}"
    options = SimulatorOptions(
        mqtt_url=None if args.http else mqtt_url,
        role_topics=embedded or settings.mqtt_acl == "sealguard",
        kafka_bootstrap=args.kafka_bootstrap or settings.kafka_bootstrap,
        kafka_topic=settings.kafka_topic,
        http=args.http,
        token=token,
        trucks=args.trucks,
        speedup=args.speedup,
        incident_rate=args.incident_rate,
        duration=args.duration,
        tenant=args.tenant,
        seed=args.seed,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_simulator(options))
    return EXIT_OK


def _mqtt(args: argparse.Namespace) -> int:
    """Keep a Mosquitto the operator runs in step with the tokens. The monitor's own entry comes from
    SEALGUARD_MQTT_URL (its user name and password), which the monitor uses to log in."""
    import os
    import signal
    from urllib.parse import unquote, urlsplit

    import psycopg

    from sealguard.embedded.mqtt_access import MonitorLogin, users_of, write_mosquitto_files
    from sealguard.store import tokens

    parts = urlsplit(_settings().mqtt_url or "")
    if not parts.username or not parts.password:
        print("mqtt sync: set SEALGUARD_MQTT_URL to the monitor's login (mqtt://user:password@host:port)",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    monitor = MonitorLogin(unquote(parts.username), unquote(parts.password))

    async def once() -> bool:
        async with _database() as url, await psycopg.AsyncConnection.connect(url) as conn:
            users = users_of(await tokens.live_tokens(conn))
        changed = write_mosquitto_files(args.password_file, args.acl_file, monitor, users)
        skipped = sum(1 for u in users if not u.mosquitto_hash)
        note = f" ({skipped} tokens made before MQTT credentials are left out: re-create them)" if skipped else ""
        print(f"mqtt sync: {len(users) - skipped} tokens{note}; {'written' if changed else 'unchanged'}",
              flush=True)  # fmt: skip
        if changed and args.pid_file is not None and args.pid_file.exists():
            os.kill(int(args.pid_file.read_text().split()[0]), signal.SIGHUP)
        return changed

    async def loop() -> None:
        while True:
            await once()
            if not args.watch:
                return
            await asyncio.sleep(args.watch)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(loop())
    return EXIT_OK


def _alerts(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from sealguard.alerts import config, routing
    from sealguard.embedded.servers import DataDirLock
    from sealguard.sim.demo import DEMO_DIR

    path = args.config or _settings().alerting
    demo = _settings().data_dir / DEMO_DIR / "alerting.yaml"
    running = DataDirLock(_settings().data_dir, "demo.lock").held()
    if path is None and running and demo.exists():  # `make demo` is paging with it: say what it would do
        path = demo
        print(f"sealguard: using the running demo's alerting ({demo}); set SEALGUARD_ALERTING for yours",
              file=sys.stderr)  # fmt: skip
    try:
        cfg = config.load(path)
    except (OSError, ValidationError, ValueError) as exc:
        print(f"sealguard alerts: {exc}", file=sys.stderr)
        return EXIT_USAGE
    labels = {"tenant": args.tenant, "rule_id": args.rule, "severity": args.severity, "facility": args.facility,
              "conveyance_id": args.conveyance, "trip_id": args.trip, "alert_id": None}  # fmt: skip
    print(f"config: {path or '(none: no receivers)'}")
    print(routing.describe(cfg, labels), end="")
    return EXIT_OK


def _receivers(args: argparse.Namespace) -> int:
    from sealguard.embedded.receivers import serve_forever

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(args.http_port, args.smtp_port))
    return EXIT_OK
