"""Partitioning does not change what is raised: the split roles' decisions (sealguard.stream.partitioned), with
1 to 6 partitions, give exactly the alerts of one engine on every scenario and on a generated fleet
whose incidents include every rule that looks across conveyances. And where the two can differ
(docs/partitioning.md), each such case is pinned here, so a change to it is a decision, not an accident.
"""

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.fleet import fleet_lines
from sealguard.alerts.book import AlertBook
from sealguard.ingest.kafka import record_key
from sealguard.rules.engine import Engine
from sealguard.rules.policy import Policy
from sealguard.stream.partitioned import partition_for, replay_partitioned
from sealguard.stream.replay import replay
from tests.scenario_folders import scenario_dirs

Key = tuple[str, ...]


def _single(lines: list[bytes]) -> list[Key]:
    report = replay(lines, Engine(), book=AlertBook())
    return sorted(_key(a.to_json()) for a in report.book.alerts)


def _split(lines: list[bytes], partitions: int) -> list[Key]:
    report = replay_partitioned(lines, Policy(), partitions)
    return sorted(_key(a.to_json()) for a in report.alerts)


def _key(a: dict[str, Any]) -> Key:
    return (a["alert_id"], a["rule_id"], a["severity"], str(a["conveyance_id"]), a["occurred_at"], a["status"],
            a["message"], ",".join(a["evidence"]))  # fmt: skip


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


@pytest.mark.parametrize("folder", scenario_dirs(), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
@pytest.mark.parametrize("partitions", [1, 2, 6])
def test_every_scenario_partitioned_gives_the_single_engines_alerts(folder: Path, partitions: int) -> None:
    lines = _lines(folder / "events.jsonl")
    assert _split(lines, partitions) == _single(lines)


@pytest.fixture(scope="module")
def fleet() -> list[bytes]:
    return fleet_lines(400, facility_count=50, seed=5)


def test_the_generated_fleet_exercises_every_cross_conveyance_rule(fleet: list[bytes]) -> None:
    """The comparison below means something only if the fleet raises what partitioning could change."""
    rules = Counter(k[1] for k in _single(fleet))
    assert {"SEAL-005", "SEAL-006", "TRK-006"} <= set(rules), rules
    refused = []
    replay(fleet, Engine(), on_invalid=lambda n, raw, reason: refused.append(reason))
    assert any("belongs to conveyance" in r for r in refused), refused
    # and the conveyances are spread over the partitions
    keys = {record_key(e.get("tenant", "default"), e.get("conveyance_id"))
            for e in map(orjson.loads, fleet) if e.get("conveyance_id")}  # fmt: skip
    assert len({partition_for(k, 6) for k in keys}) == 6


@pytest.mark.parametrize("partitions", [1, 3, 6])
def test_a_fleet_partitioned_gives_the_single_engines_alerts(fleet: list[bytes], partitions: int) -> None:
    assert _split(fleet, partitions) == _single(fleet)


# --- where partitioning can differ (docs/partitioning.md), pinned ----------------------------------------


def _ev(eid: str, kind: str, minute: int, conveyance: str | None = None, **fields: Any) -> bytes:
    event: dict[str, Any] = {"event_id": eid, "kind": kind, "occurred_at": f"2026-11-02T08:{minute:02d}:00Z",
                             **fields}  # fmt: skip
    if conveyance is not None:
        event["conveyance_id"] = conveyance
    return orjson.dumps(event)


def _two_keys_on_two_partitions() -> tuple[str, str]:
    names = [f"TRL-{n}" for n in range(100)]
    first = names[0]
    other = next(n for n in names if partition_for(record_key("default", n), 6) != partition_for(
        record_key("default", first), 6))  # fmt: skip
    return first, other


def _rules(keys: list[Key], prefix: str = "SEAL-00") -> list[tuple[str, str]]:
    """(rule, conveyance) of the alerts of the rules in question (an affix with no inspection before it
    also raises INSP-001, beside the point here)."""
    return sorted((k[1], k[3]) for k in keys if k[1].startswith(prefix))


def test_a_seal_reused_is_judged_by_event_time_when_the_input_is_out_of_order() -> None:
    """Input order is not time order: the later affix (08:20) is listed first. One engine judges in input
    order and blames the 08:10 affix; the seal stage judges by event time and blames the 08:20 one."""
    a, b = _two_keys_on_two_partitions()
    lines = [
        _ev("x2", "seal.affixed", 20, b, seal_number="S1", seal_class="H", seal_type="bolt"),
        _ev("x1", "seal.affixed", 10, a, seal_number="S1", seal_class="H", seal_type="bolt"),
    ]
    assert _rules(_single(lines)) == [("SEAL-006", a)]
    assert _rules(_split(lines, 6)) == [("SEAL-006", b)]


def test_two_affixes_of_one_seal_in_the_same_second_are_ordered_by_conveyance_id() -> None:
    """In the same second, input order says which affix came first to one engine; the seal stage orders
    by conveyance id, so the one listed first but named later is the reuse."""
    a, b = sorted(_two_keys_on_two_partitions())
    lines = [
        _ev("x1", "seal.affixed", 10, b, seal_number="S1", seal_class="H", seal_type="bolt"),
        _ev("x2", "seal.affixed", 10, a, seal_number="S1", seal_class="H", seal_type="bolt"),
    ]
    assert _rules(_single(lines)) == [("SEAL-006", a)]
    assert _rules(_split(lines, 6)) == [("SEAL-006", b)]


def test_a_seal_issued_later_in_event_time_is_not_seen_by_an_earlier_affix() -> None:
    """The inventory is read as of the affix's time. Listed first but dated after the affix, the issue
    counts for one engine (no SEAL-005) and not for a partition (SEAL-005: never issued by then)."""
    a, _ = _two_keys_on_two_partitions()
    lines = [
        _ev("i0", "seal.issued", 0, seal_number="S0", facility_id="F1"),
        _ev("i1", "seal.issued", 30, seal_number="S1", facility_id="F1"),
        _ev("x1", "seal.affixed", 10, a, seal_number="S1", seal_class="H", seal_type="bolt"),
    ]
    assert _rules(_single(lines)) == []
    assert _rules(_split(lines, 6)) == [("SEAL-005", a)]


def test_backfill_is_measured_on_the_partitions_clock() -> None:
    """A fix older than its tenant's clock by more than the TRK-003 window is backfill and not judged.
    One engine's tenant clock was moved to 08:50 by another conveyance, so the 08:05 stop (listed late)
    is backfill; on its own partition the clock is still 08:01, so the stop is judged: TRK-002 and TRK-005
    are raised there and not by one engine. Input in time order has no such case."""
    a, b = _two_keys_on_two_partitions()
    place = {"facility_id": "F", "center": [-99.0, 27.5], "radius_m": 300}
    far = {"facility_id": "G", "center": [-99.0, 29.5], "radius_m": 300}
    lines = [
        _ev("p", "trip.planned", 0, a, trip_id="T1", seal_numbers=["S1"], origin=place, destination=far),
        _ev("m", "gps.position", 1, a, lat=27.6, lon=-99.0, speed_kph=80.0),
        _ev("o", "gps.position", 50, b, lat=28.0, lon=-99.0, speed_kph=80.0),  # another conveyance, later
        _ev("s", "gps.position", 5, a, lat=27.7, lon=-99.0, speed_kph=0.0),  # a's stop, listed late
        _ev("s2", "gps.position", 55, a, lat=27.7, lon=-99.0, speed_kph=0.0),
    ]
    assert _rules(_single(lines), "") == [("SEAL-011", a), ("TRK-003", a)]
    assert _rules(_split(lines, 6), "") == [("SEAL-011", a), ("TRK-002", a), ("TRK-003", a), ("TRK-005", a)]
