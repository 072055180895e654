"""What the notifier does with the rows that are due: a pure decision over rows, alerts, silences,
the open alerts that may inhibit, and when each group last sent (Alertmanager's pipeline stages:
inhibit, silence, group, wait, send)."""

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sealguard.alerts.config import InhibitRule
from sealguard.alerts.matchers import labels_of, silenced_by
from sealguard.alerts.routing import inhibitor
from sealguard.retry import jittered
from sealguard.schemas.outbox import OutboxRow


@dataclass(slots=True)
class Dispatch:
    skip: list[tuple[int, str, str]] = field(default_factory=list)  # (row id, status, reason)
    defer: list[tuple[int, datetime]] = field(default_factory=list)  # group_interval not yet over
    batches: list[list[OutboxRow]] = field(default_factory=list)


def plan(
    rows: list[OutboxRow],
    docs: Mapping[str, Mapping[str, Any]],
    silences: Mapping[str, list[tuple[str, list[str]]]],
    open_alerts: Sequence[Mapping[str, Any]],
    last_sent: Mapping[tuple[str, str], datetime],
    inhibit_rules: list[InhibitRule],
    known_receivers: set[str],
    now: datetime,
) -> Dispatch:
    out = Dispatch()
    groups: dict[tuple[str, ...], list[OutboxRow]] = {}
    near = [labels_of(a) for a in open_alerts]
    for row in rows:
        doc = docs.get(row.alert_id)
        if doc is None or row.receiver not in known_receivers:
            out.skip.append((row.id, "cancelled", "receiver no longer configured" if doc else "alert not found"))
            continue
        if row.batch_id is not None:  # a retry or a lease taken over: the same delivery, unchanged
            groups.setdefault(("batch", row.batch_id), []).append(row)
            continue
        if row.kind == "trigger":
            labels = labels_of(doc)
            if doc["status"] == "resolved":
                out.skip.append((row.id, "cancelled", "alert resolved before it was sent"))
                continue
            if silence := silenced_by(silences.get(row.tenant, []), labels):
                out.skip.append((row.id, "silenced", f"silence {silence}"))
                continue
            if source := inhibitor(inhibit_rules, labels, near):
                out.skip.append((row.id, "inhibited", f"alert {source} is open for the same trip"))
                continue
            last = last_sent.get((row.receiver, row.group_key))
            if last is not None and row.group_interval > 0 and now < last + timedelta(seconds=row.group_interval):
                out.defer.append((row.id, last + timedelta(seconds=row.group_interval)))
                continue
        groups.setdefault(("new", row.receiver, row.group_key, row.kind), []).append(row)
    out.batches = list(groups.values())
    return out


def retry_at(attempts: int, now: datetime, base: float, cap: float, rng: random.Random) -> datetime:
    """When a delivery that failed ``attempts`` times before goes again (the connectors' backoff)."""
    return now + timedelta(seconds=jittered(attempts, base, cap, rng))
