"""Every example scenario replays to exactly its expected alerts (rule, conveyance, severity, time,
status), through the same ``sealguard replay`` command users run. Scenarios in ../shared/scenarios are
picked up too, so new examples added to the spec are tested without copying them here."""

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.scenario_folders import scenario_dirs


def _time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _matches(expected: dict[str, Any], alert: dict[str, Any]) -> bool:
    same = all(alert[k] == expected[k] for k in ("rule_id", "conveyance_id", "severity"))
    close = abs(_time(alert["occurred_at"]) - _time(expected["occurred_at"])) <= 5
    status = "status" not in expected or alert["status"] == expected["status"]
    return same and close and status


@pytest.mark.parametrize("folder", scenario_dirs(), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_scenario_replays_to_expected_alerts(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "sealguard.cli", "replay", str(folder / "events.jsonl"), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    expected = json.loads((folder / "expected.json").read_text())["alerts"]
    unmatched = list(alerts)
    for want in expected:
        hit = next((a for a in unmatched if _matches(want, a)), None)
        assert hit is not None, f"expected {want}, got {alerts}"
        unmatched.remove(hit)
    assert unmatched == [], f"unexpected alerts: {unmatched}"
    times = [a["occurred_at"] for a in alerts]
    assert times == sorted(times, key=_time)


def test_public_scenarios_are_present() -> None:
    assert len(scenario_dirs()) >= 6
