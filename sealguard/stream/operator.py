"""The one stateful operator: the rule engine, the alert book and the seal facts behind one interface,
``state + event -> state + emissions``. ``sealguard replay``, the worker (of ``up`` and of the split
roles), ``replay --partitions`` and a backtest all drive this, so a rule, a speed-up or a piece of
evidence is written once. Pure: no I/O, no clock."""

from collections.abc import Iterable
from dataclasses import dataclass, replace

from sealguard.alerts.book import AlertBook, AlertRecord, Change
from sealguard.rules.engine import Engine, Outcome
from sealguard.rules.findings import Finding
from sealguard.rules.seal_registry import SealFact
from sealguard.schemas.events import Event

Changes = list[tuple[Change, AlertRecord]]


@dataclass(slots=True)
class Operator:
    """One engine (whole, or one partition's) and its alert book."""

    engine: Engine
    book: AlertBook

    def process(self, event: Event, position: int = 0) -> tuple[Outcome, Changes, list[SealFact]]:
        """Apply one event: its outcome, the alert changes it made, and the seal facts it recorded for the
        seal stage (partitioned engines only), stamped with ``position`` (its place in the log)."""
        engine = self.engine
        outcome = engine.process(event)
        facts = [replace(f, position=position) for f in engine.take_seal_facts()] if engine.seal_facts else []
        if not outcome.findings and not engine.pruned_pending:
            return outcome, [], facts  # most events (a fix on course) change no alert: nothing to apply
        return outcome, self.apply(outcome.findings), facts

    def advance(self, until: float, tenant: str | None = None) -> Changes:
        """Move the clock (one tenant's, or every tenant's) to ``until``; the alert changes of the timers."""
        return self.apply(self.engine.advance(until, tenant))

    def release(self, dedup_key: str, alert_id: str) -> None:
        """People resolved the alert: the next finding of its key opens a new one."""
        self.book.release(dedup_key, alert_id)

    def apply(self, findings: Iterable[Finding]) -> Changes:
        changes: Changes = []
        for finding in findings:
            change, record = self.book.apply(finding)
            if record is not None and change in ("opened", "escalated", "resolved"):
                changes.append((change, record))
        self.book.forget_each(self.engine.take_pruned())
        return changes
