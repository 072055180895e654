"""A backtest of a policy change: the stored events of a window through two operators, one under the
current policy and one under the proposed, in one pass, and the difference between the alerts they
raise. Pure: events in, a report out (``store/backtest.py`` reads them, ``sealguard backtest`` and
``POST /api/v1/backtest`` drive it). It never touches the live engine: it builds its own.

The window starts ``warmup`` before ``since`` so that trips planned before it are known and their timers
run; the reference data of all time (facilities, issued seals) comes first. Only alerts that open within
``[since, until)`` are compared. Alerts are matched by their dedup key and, when a key opened several
times, by the order of its openings. Nobody acknowledges or resolves in a backtest, on either side: an
alert that people would have closed and that would then open again shows as one alert on both sides."""

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sealguard.alerts.book import AlertBook, AlertRecord
from sealguard.rules.engine import Engine
from sealguard.rules.findings import iso
from sealguard.rules.policy import Policy
from sealguard.schemas.decode import InvalidEvent, decode_event
from sealguard.schemas.instants import epoch_seconds
from sealguard.stream.operator import Operator

EXAMPLES = 3
Key = tuple[str, int]  # dedup key, which opening of it


@dataclass(slots=True)
class Counts:
    reference: int = 0
    warmup: int = 0
    in_window: int = 0
    invalid: int = 0

    @property
    def replayed(self) -> int:
        return self.reference + self.warmup + self.in_window


@dataclass(slots=True)
class Backtest:
    """Feed events (``feed``) in stored order, then ``finish``."""

    current: Policy
    proposed: Policy
    since: float
    until: float
    counts: Counts = field(default_factory=Counts)
    started: float = field(default_factory=time.perf_counter)
    _sides: tuple[Operator, Operator] = field(init=False)
    _n: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._sides = (Operator(Engine(self.current), AlertBook()), Operator(Engine(self.proposed), AlertBook()))

    def feed(self, raw: bytes, *, reference: bool = False) -> None:
        try:
            event = decode_event(raw)
        except InvalidEvent:
            self.counts.invalid += 1  # stored events are valid; one of an older contract is skipped, counted
            return
        self._n += 1
        for side in self._sides:
            side.process(event, self._n)
        at = epoch_seconds(event.occurred_at)
        if reference:
            self.counts.reference += 1
        elif at < self.since:
            self.counts.warmup += 1
        else:
            self.counts.in_window += 1

    def finish(self) -> dict[str, Any]:
        for side in self._sides:
            side.advance(self.until)
        current, proposed = (self._opened(side.book) for side in self._sides)
        return report(current, proposed, self.counts, time.perf_counter() - self.started, self.since, self.until)

    def _opened(self, book: AlertBook) -> dict[Key, AlertRecord]:
        seen: dict[str, int] = defaultdict(int)
        out: dict[Key, AlertRecord] = {}
        for a in sorted(book.alerts, key=lambda a: (a.occurred_at, a.seq)):
            seen[a.dedup_key] += 1
            if self.since <= a.occurred_at < self.until:
                out[(a.dedup_key, seen[a.dedup_key])] = a
        return out


def _example(a: AlertRecord, b: AlertRecord | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "dedup_key": a.dedup_key, "conveyance_id": a.conveyance_id, "trip_id": a.trip_id,
        "occurred_at": iso(a.occurred_at), "severity": a.severity, "message": a.message,
    }  # fmt: skip
    if b is not None:
        out["proposed"] = {"occurred_at": iso(b.occurred_at), "severity": b.severity, "message": b.message}
    return out


def report(current: dict[Key, AlertRecord], proposed: dict[Key, AlertRecord], counts: Counts, seconds: float,
           since: float, until: float) -> dict[str, Any]:  # fmt: skip
    rules: dict[str, dict[str, Any]] = {}

    def rule(rule_id: str) -> dict[str, Any]:
        return rules.setdefault(rule_id, {
            "rule_id": rule_id, "current": 0, "proposed": 0, "appear": 0, "disappear": 0, "severity_changed": 0,
            "time_changed": 0, "examples": {"appear": [], "disappear": [], "severity_changed": [], "time_changed": []},
        })  # fmt: skip

    def note(r: dict[str, Any], what: str, example: dict[str, Any]) -> None:
        r[what] += 1
        if len(r["examples"][what]) < EXAMPLES:
            r["examples"][what].append(example)

    for key, a in current.items():
        r = rule(a.rule_id)
        r["current"] += 1
        b = proposed.get(key)
        if b is None:
            note(r, "disappear", _example(a))
            continue
        if b.severity != a.severity:
            note(r, "severity_changed", _example(a, b))
        if b.occurred_at != a.occurred_at:
            note(r, "time_changed", _example(a, b))
    for key, b in proposed.items():
        r = rule(b.rule_id)
        r["proposed"] += 1
        if key not in current:
            note(r, "appear", _example(b))
    return {
        "window": {"since": iso(since), "until": iso(until)},
        "events": {
            "replayed": counts.replayed,
            "reference": counts.reference,
            "warmup": counts.warmup,
            "in_window": counts.in_window,
            "invalid": counts.invalid,
        },
        "seconds": round(seconds, 3),
        "alerts": {"current": len(current), "proposed": len(proposed)},
        "rules": [rules[k] for k in sorted(rules)],
    }


def render(doc: dict[str, Any]) -> str:
    """The report for a terminal."""
    e, a = doc["events"], doc["alerts"]
    lines = [f"backtest {doc['window']['since']} to {doc['window']['until']}: replayed {e['replayed']:,} events"
             f" ({e['in_window']:,} in the window, {e['warmup']:,} of warm-up, {e['reference']:,} reference,"
             f" {e['invalid']:,} skipped) in {doc['seconds']:.1f} s",
             f"alerts in the window: {a['current']:,} under the current policy,"
             f" {a['proposed']:,} under the proposed"]  # fmt: skip
    changed = [r for r in doc["rules"] if r["appear"] or r["disappear"] or r["severity_changed"] or r["time_changed"]]
    if not changed:
        lines.append("no difference")
        return "\n".join(lines)
    lines.append(
        f"{'rule':10} {'current':>8} {'proposed':>8} {'appear':>7} {'disappear':>9} {'severity':>8} {'time':>6}"
    )
    for r in changed:
        lines.append(f"{r['rule_id']:10} {r['current']:8} {r['proposed']:8} {r['appear']:7} {r['disappear']:9}"
                     f" {r['severity_changed']:8} {r['time_changed']:6}")  # fmt: skip
    for r in changed:
        for what, examples in r["examples"].items():
            for x in examples:
                after = x.get("proposed")
                tail = f" -> {after['severity']} at {after['occurred_at']}" if after else ""
                lines.append(f"  {r['rule_id']} {what}: {x['conveyance_id'] or '-'} trip {x['trip_id'] or '-'}"
                             f" {x['severity']} at {x['occurred_at']}{tail}: {x['message']}")  # fmt: skip
    return "\n".join(lines)
