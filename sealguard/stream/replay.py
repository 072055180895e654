"""File replay: JSON Lines in file order through decode -> dedupe -> the operator (rules and alerts).

It drives the same ``stream.operator.Operator`` as the worker of ``up`` and of the split roles, with one
whole engine. The engine does not re-sort. Invalid lines are reported through ``on_invalid`` with their line
number and reason, counted, and never stop the replay.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sealguard.alerts.book import AlertBook
from sealguard.rules.engine import Engine
from sealguard.schemas.decode import InvalidEvent, decode_event
from sealguard.stream.operator import Operator

InvalidSink = Callable[[int, bytes, str], None]


@dataclass(slots=True)
class ReplayReport:
    lines: int = 0
    applied: int = 0
    duplicates: int = 0
    invalid: int = 0
    book: AlertBook = field(default_factory=AlertBook)


def replay(
    lines: Iterable[bytes],
    engine: Engine,
    *,
    until: float | None = None,
    on_invalid: InvalidSink | None = None,
    book: AlertBook | None = None,
) -> ReplayReport:
    report = ReplayReport(book=book or AlertBook())
    operator = Operator(engine, report.book)
    for number, raw in enumerate(lines, start=1):
        report.lines = number
        if not raw.strip():
            continue  # blank lines (a trailing newline) are not events
        try:
            event = decode_event(raw)
        except InvalidEvent as exc:
            report.invalid += 1
            if on_invalid is not None:
                on_invalid(number, raw, exc.reason)
            continue
        outcome, _, _ = operator.process(event, number)
        if outcome.status == "duplicate":
            report.duplicates += 1
        elif outcome.status == "rejected":
            report.invalid += 1
            if on_invalid is not None:
                on_invalid(number, raw, outcome.reason or "rejected")
        else:
            report.applied += 1
    end = until if until is not None else engine.clock
    if end is not None:
        operator.advance(end)
    return report
