"""Attacks and accidents on the host itself: the embedded PostgreSQL trusts no local user, a data
directory has one owner, a second demo deletes nothing, and every command fails in one clear line."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from sealguard.embedded.servers import DataDirLock, EmbeddedPostgres, MqttBroker, free_port
from sealguard.roles.monitor import DataDirBusy, Monitor
from tests.live.monitor import running, settings


def cli(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sealguard.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False, cwd=cwd)  # fmt: skip


def one_clear_line(out: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in out.stderr.splitlines() if line.strip() and not line.startswith("sealguard: using")]
    assert "Traceback" not in out.stderr and len(lines) == 1, out.stderr
    return lines[0]


def test_embedded_postgres_needs_its_password(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "pg").start()
    try:
        assert pg.password_file.stat().st_mode & 0o077 == 0
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{pg.port}/postgres", connect_timeout=5).close()
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(f"postgresql://postgres:guess@127.0.0.1:{pg.port}/postgres", connect_timeout=5).close()
        with psycopg.connect(pg.url, connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        hba = (pg.data_dir / "pg_hba.conf").read_text()
        assert not [line for line in hba.splitlines() if line.strip() and not line.startswith("#") and "trust" in line]
    finally:
        pg.stop()


def test_a_data_directory_made_by_an_older_version_is_secured(tmp_path: Path) -> None:
    old = EmbeddedPostgres(tmp_path / "pg")
    old._as_server_user()
    old._run(str(old.bin / "initdb"), "-D", str(old.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    pg = EmbeddedPostgres(tmp_path / "pg").start()
    try:
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{pg.port}/postgres", connect_timeout=5).close()
        with psycopg.connect(pg.url, connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        pg.stop()


async def test_one_monitor_per_data_directory(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        second = Monitor(settings(tmp_path, database_url, mqtt_broker))
        with pytest.raises(DataDirBusy, match="another sealguard is running"):
            await second.start()


def test_a_second_demo_deletes_nothing(tmp_path: Path) -> None:
    demo = tmp_path / "d" / "demo"
    demo.mkdir(parents=True)
    (demo / "precious").write_text("the running demo's data")
    lock = DataDirLock(tmp_path / "d", "demo.lock")
    assert lock.acquire()  # a demo is running
    try:
        env = {**os.environ, "SEALGUARD_DATA_DIR": str(tmp_path / "d"), "SEALGUARD_HTTP": f"127.0.0.1:{free_port()}"}
        out = cli(env, "demo", "--duration", "1")
        assert out.returncode == 2 and "another demo is running" in out.stderr
        assert (demo / "precious").read_text() == "the running demo's data"
    finally:
        lock.release()


def test_every_command_fails_in_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "SEALGUARD_DATA_DIR": str(tmp_path / "data")}
    binary = tmp_path / "policy.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00")
    events = tmp_path / "events.jsonl"
    events.write_text("")
    out = cli(env, "replay", str(events), "--policy", str(binary))
    assert out.returncode == 2 and "UTF-8" in one_clear_line(out)
    broken = tmp_path / "alerting.yaml"
    broken.write_text("receivers: [ {name: ops, webhook: {url: 7}\n")
    out = cli(env, "alerts", "route", "--config", str(broken), "--tenant", "t", "--rule", "SEAL-003",
              "--severity", "critical")  # fmt: skip
    assert out.returncode == 2 and str(broken) in one_clear_line(out)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("receivers: [{name: ops, webhook: {url: 7}}]\nroute: {receiver: nobody}\n")
    out = cli(env, "alerts", "route", "--config", str(wrong), "--tenant", "t", "--rule", "SEAL-003",
              "--severity", "critical")  # fmt: skip
    assert out.returncode == 2 and str(wrong) in one_clear_line(out)
    away = {**env, "SEALGUARD_DATABASE_URL": f"postgresql://postgres:x@127.0.0.1:{free_port()}/postgres"}
    for args in (("token", "list"), ("audit", "verify"), ("db", "migrate")):
        out = cli(away, *args)
        assert out.returncode == 1 and "the database cannot be reached" in one_clear_line(out), args


async def test_audit_verify_says_when_there_is_nothing_to_verify(tmp_path: Path, database_url: str) -> None:
    env = {**os.environ, "SEALGUARD_DATA_DIR": str(tmp_path / "data"), "SEALGUARD_DATABASE_URL": database_url}
    assert cli(env, "db", "migrate").returncode == 0
    out = cli(env, "audit", "verify")
    assert out.returncode == 0 and out.stdout.strip() == "audit: no alert history yet; nothing to verify"
    assert "using" in out.stderr and "SEALGUARD_DATABASE_URL" in out.stderr  # which database it used
