"""``sealguard replay`` as users run it: invalid lines, dead letters, --until, exit statuses."""

import json
import subprocess
import sys
from pathlib import Path

import orjson

from tests.helpers import Stream, at


def _cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "sealguard.cli", *args], input=stdin, capture_output=True, check=False)


def _file(tmp_path: Path, lines: list[bytes]) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _stream() -> Stream:
    s = Stream().prepared()
    for i in range(11):
        s.fix(120 + i, 27.5 + 0.01349 * i)
    return s


def test_invalid_lines_reported_counted_and_dead_lettered(tmp_path: Path) -> None:
    s = _stream()
    lines = [orjson.dumps(e) for e in s.events]
    lines.insert(2, b'{"event_id": "bad-1", "kind": "gps.position"}')
    lines.insert(5, b"not json at all")
    path = _file(tmp_path, lines)
    dead = tmp_path / "dead.jsonl"
    proc = _cli("replay", str(path), "--dead-letter", str(dead))
    assert proc.returncode == 0
    err = proc.stderr.decode()
    assert "line 3: " in err and "occurred_at: field required" in err
    assert "line 6: not valid JSON" in err
    assert "2 invalid" in err
    rows = [json.loads(x) for x in dead.read_text().splitlines()]
    assert [r["line"] for r in rows] == [3, 6] and rows[1]["raw"] == "not json at all"
    # The valid events still ran: the tracker went silent after minute 130.
    alerts = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert alerts == []
    proc = _cli("replay", str(path), "--until", at(200))
    rules = [json.loads(x)["rule_id"] for x in proc.stdout.decode().splitlines()]
    assert rules == ["TRK-003"]


def test_until_earlier_than_last_event_changes_nothing(tmp_path: Path) -> None:
    path = _file(tmp_path, [orjson.dumps(e) for e in _stream().events])
    assert _cli("replay", str(path), "--until", at(0)).stdout == _cli("replay", str(path)).stdout


def test_stdin_and_duplicates(tmp_path: Path) -> None:
    lines = [orjson.dumps(e) for e in _stream().events]
    proc = _cli("replay", "-", stdin=b"\n".join(lines + lines[:3]) + b"\n")
    assert proc.returncode == 0 and b"3 duplicates" in proc.stderr


def test_replanning_a_closed_trip_is_rejected_like_an_invalid_event(tmp_path: Path) -> None:
    s = Stream()
    s.plan(0)
    s.add("trip.closed", 10, trip_id="T-1")
    s.plan(20)
    proc = _cli("replay", str(_file(tmp_path, [orjson.dumps(e) for e in s.events])))
    assert b"line 3: trip_id: trip T-1 is closed" in proc.stderr and b"1 invalid" in proc.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert _cli("replay", str(tmp_path / "missing.jsonl")).returncode == 2
    path = _file(tmp_path, [])
    assert _cli("replay", str(path), "--until", "not-a-time").returncode == 2
    assert _cli("replay", str(path), "--until", "2026-11-02T08:00:00").returncode == 2
    bad_policy = tmp_path / "p.yaml"
    bad_policy.write_text("rules:\n  XX-1: {}\n")
    proc = _cli("replay", str(path), "--policy", str(bad_policy))
    assert proc.returncode == 2 and b"p.yaml:2: rules: unknown rule id" in proc.stderr
    assert _cli("bogus").returncode == 2


def test_schema_export(tmp_path: Path) -> None:
    assert _cli("schema", "--out", str(tmp_path / "s")).returncode == 0
    files = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert len(files) == 11 and "gps.position.json" in files
    gps = json.loads((tmp_path / "s" / "gps.position.json").read_text())
    assert gps["properties"]["lat"]["maximum"] == 90 and "lat" in gps["required"]


def test_policy_show() -> None:
    proc = _cli("policy", "show")
    assert proc.returncode == 0 and b"TRK-001:" in proc.stdout and b"corridor_m: 1000" in proc.stdout
