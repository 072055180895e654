"""``sealguard demo``: replay the example scenarios and show, for each, the alerts it raises.

Until the live monitor lands this is the embedded default: no servers, just the engine on the
bundled stories (a clean trip, a defect, a deviation, a mismatched seal, a gap, an unscheduled stop).
"""

import json
from pathlib import Path

from alerts.book import AlertBook
from ingest.replay import replay
from rules.engine import Engine

_ROOT = Path(__file__).resolve().parents[1]
_CANDIDATES = (_ROOT / "tests" / "scenarios", _ROOT.parent / "shared" / "scenarios")


def find_scenarios(folder: str | None) -> Path | None:
    for candidate in [Path(folder)] if folder else _CANDIDATES:
        if candidate.is_dir() and any(candidate.glob("*/events.jsonl")):
            return candidate
    return None


def run_demo(folder: str | None) -> int:
    root = find_scenarios(folder)
    if root is None:
        print("sealguard demo: no scenarios found (pass --scenarios DIR)")
        return 2
    print(f"sealguard demo: replaying the scenarios in {root}\n")
    for events in sorted(root.glob("*/events.jsonl")):
        expected = events.parent / "expected.json"
        description = json.loads(expected.read_text())["description"] if expected.exists() else ""
        with events.open("rb") as lines:
            report = replay(lines, Engine(), book=AlertBook())
        print(f"== {events.parent.name}: {description}")
        print(f"   {report.applied} events, {report.invalid} invalid, {report.duplicates} duplicates")
        alerts = report.book.in_order()
        if not alerts:
            print("   no alerts")
        for a in alerts:
            resolved = f" (resolved {a.to_json()['resolved_at']})" if a.status == "resolved" else ""
            print(f"   {a.to_json()['occurred_at']} {a.severity:<8} {a.rule_id:<8} {a.status}{resolved}")
            print(f"      {a.message}")
        print()
    print("Replay any file yourself: sealguard replay EVENTS.jsonl [--until TIME] [--policy POLICY.yaml]")
    return 0
