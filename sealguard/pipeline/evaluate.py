"""The pure middle of a batch: admitted inputs and ticks through the rule engine and the alert book,
collecting what to write. No I/O and no clock reads: the caller passes the monotonic reading."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sealguard.alerts.book import AlertBook, AlertRecord, Change
from sealguard.alerts.lifecycle import Decision
from sealguard.pipeline.admission import Admission
from sealguard.pipeline.items import Act, Item, ItemFailed, ItemResult, Tick
from sealguard.rules.engine import Engine
from sealguard.schemas.decode import InvalidEvent
from sealguard.store import engine_log
from sealguard.store.events import DeadLetter, StoredEvent

log = logging.getLogger("sealguard.pipeline")


@dataclass(slots=True)
class Batch:
    """What one batch produced: an answer per input, and the rows its transaction writes."""

    results: list[ItemResult | None]
    rows: list[StoredEvent] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    ticks: list[tuple[int, engine_log.ClockTick]] = field(default_factory=list)
    changes: list[tuple[Change, AlertRecord]] = field(default_factory=list)
    applied_kinds: list[tuple[str, str]] = field(default_factory=list)
    acted: dict[int, tuple[Decision, dict[str, Any] | None]] = field(default_factory=dict)
    seq: int = 0  # the last sequence number the batch uses


@dataclass(slots=True)
class Evaluator:
    """The engine and the alert book, and each tenant's idle watermark: (event time of its latest
    applied event, monotonic time it was applied)."""

    engine: Engine
    book: AlertBook
    idle: dict[str, tuple[float, float]] = field(default_factory=dict)

    def evaluate(self, items: Sequence[Item], admitted: Sequence[Admission], stored: set[tuple[str, str]],
                 seq: int, applied_at: float) -> Batch:  # fmt: skip
        """Mutates the engine and the book. Sequence numbers continue from ``seq``; the caller makes the
        batch's last one current only once its transaction commits. Raises ``ItemFailed`` when a rule
        raises on an input (the engine may be half-way through it: rebuild before going on)."""
        batch = Batch(results=[None] * len(items))
        in_batch: set[tuple[str, str]] = set()
        for i, (it, a) in enumerate(zip(items, admitted, strict=True)):
            if isinstance(it, Act):
                continue
            if isinstance(it, Tick):
                due = self.engine.next_deadline(it.tenant)
                if due is not None and due <= it.until:
                    seq += 1
                    batch.ticks.append((seq, engine_log.ClockTick(it.until, it.tenant)))
                    self._apply(self.engine.advance(it.until, it.tenant), batch)
                continue
            received = datetime.fromtimestamp(it.received_at, UTC)
            if isinstance(a, InvalidEvent):
                batch.results[i] = ItemResult("rejected", a.event_id, a.reason)
                batch.dead.append(DeadLetter(received, it.source, it.origin, it.tenant, a.event_id, a.reason, it.raw))
                continue
            assert a is not None  # an Inbound is always admitted or refused
            event = a.event
            key = (event.tenant, event.event_id)
            if key in stored or key in in_batch:
                batch.results[i] = ItemResult("duplicate", event.event_id)
                continue
            try:
                outcome = self.engine.process(event)
            except Exception as exc:
                log.exception("a rule raised on event %s of tenant %s", event.event_id, event.tenant)
                reason = f"a rule failed on this event: {type(exc).__name__}: {exc}"[:1000]
                raise ItemFailed(i, reason, event.event_id) from exc
            if outcome.status != "applied":
                reason = outcome.reason or outcome.status
                batch.results[i] = ItemResult("rejected", event.event_id, reason)
                batch.dead.append(
                    DeadLetter(received, it.source, it.origin, event.tenant, event.event_id, reason, it.raw)
                )
                continue
            seq += 1
            in_batch.add(key)
            batch.rows.append(StoredEvent(seq, event, a.payload, it.source, received))
            raised = tuple({"rule_id": f.rule_id, "severity": f.severity, "message": f.message}
                           for f in outcome.findings if f.action == "raise")  # fmt: skip
            batch.results[i] = ItemResult("accepted", event.event_id, findings=raised)
            batch.applied_kinds.append((it.source, event.kind))
            t = event.occurred_at.timestamp()
            last = self.idle.get(event.tenant)
            self.idle[event.tenant] = (t if last is None else max(last[0], t), applied_at)
            self._apply(outcome.findings, batch, event.source.facility_id if event.source else None)
        batch.seq = seq
        for tenant, cid, timer, due, error in self.engine.timer_failures:
            log.error("timer %s of %s/%s due at %s raised %s; the timer was dropped", timer, tenant, cid, due, error)
        self.engine.timer_failures.clear()
        return batch

    def _apply(self, findings: list[Any], batch: Batch, facility: str | None = None) -> None:
        for finding in findings:
            change, record = self.book.apply(finding)
            if record is not None and change in ("opened", "escalated", "resolved"):
                if change == "opened":
                    record.facility_id = facility
                batch.changes.append((change, record))
        self.book.forget_each(self.engine.take_pruned())
