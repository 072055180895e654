"""Findings become alerts: one alert per dedup key while open, auto-resolution, stable alert ids.

Each ``apply`` returns what happened and why (Alertmanager-style named dedupe decisions), so callers
that persist or notify know exactly which alerts changed.
"""

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sealguard.rules.findings import Finding, iso
from sealguard.schemas.alerts import SEVERITY_RANK, Alert

_NAMESPACE = uuid.UUID("6f1d9a3e-3a55-4a8e-9a43-5e6a1c0b7d21")

Change = Literal["opened", "escalated", "duplicate", "resolved", "not_open"]


def alert_id(dedup_key: str, occurred_at: float) -> str:
    """Stable: the same condition starting at the same instant always gets the same id."""
    return str(uuid.uuid5(_NAMESPACE, f"{dedup_key}@{iso(occurred_at)}"))


@dataclass(slots=True)
class AlertRecord:
    alert_id: str
    rule_id: str
    severity: str
    tenant: str
    conveyance_id: str | None
    trip_id: str | None
    occurred_at: float
    message: str
    criterion: str
    evidence: list[str]
    dedup_key: str
    status: str = "open"
    resolved_at: float | None = None
    seq: int = 0
    facility_id: str | None = None  # where the event that raised it came from, for routing

    def to_alert(self) -> Alert:
        return Alert.model_validate(self.to_json())

    def to_json(self) -> dict[str, object]:
        return {
            "alert_id": self.alert_id,
            "rule_id": self.rule_id,
            "severity": self.severity,
            "tenant": self.tenant,
            "conveyance_id": self.conveyance_id,
            "trip_id": self.trip_id,
            "occurred_at": iso(self.occurred_at),
            "message": self.message,
            "criterion": self.criterion,
            "evidence": list(self.evidence),
            "dedup_key": self.dedup_key,
            "status": self.status,
            "resolved_at": iso(self.resolved_at) if self.resolved_at is not None else None,
        }


@dataclass(slots=True)
class AlertBook:
    """All alerts of a run, with an index of the open ones by dedup key.

    A live monitor keeps only the open ones (``retain=False``): resolved alerts live in the database."""

    alerts: list[AlertRecord] = field(default_factory=list)
    open_by_key: dict[str, AlertRecord] = field(default_factory=dict)
    retain: bool = True
    raised: int = 0

    def apply(self, finding: Finding) -> tuple[Change, AlertRecord | None]:
        current = self.open_by_key.get(finding.dedup_key)
        if finding.action == "resolve":
            if current is None:
                return "not_open", None
            current.status = "resolved"
            current.resolved_at = finding.at
            del self.open_by_key[finding.dedup_key]
            return "resolved", current
        if current is not None:
            if SEVERITY_RANK[finding.severity] > SEVERITY_RANK[current.severity]:
                current.severity = finding.severity
                current.message = finding.message
                current.evidence.extend(e for e in finding.evidence if e not in current.evidence)
                return "escalated", current
            return "duplicate", current
        record = AlertRecord(
            alert_id(finding.dedup_key, finding.at),
            finding.rule_id,
            finding.severity,
            finding.tenant,
            finding.conveyance_id,
            finding.trip_id,
            finding.at,
            finding.message,
            finding.criterion,
            list(finding.evidence),
            finding.dedup_key,
            seq=self.raised,
        )
        self.raised += 1
        if self.retain:
            self.alerts.append(record)
        self.open_by_key[finding.dedup_key] = record
        return "opened", record

    def release(self, dedup_key: str, alert_id: str | None = None) -> bool:
        """A person resolved the open alert of ``dedup_key``: the next finding opens a new alert."""
        current = self.open_by_key.get(dedup_key)
        if current is None or (alert_id is not None and current.alert_id != alert_id):
            return False
        current.status = "resolved"
        del self.open_by_key[dedup_key]
        return True

    def forget_each(self, pruned: list[tuple[str, float]]) -> None:
        """``forget`` for each (tenant, cut-off) the engine pruned (``Engine.take_pruned``)."""
        for tenant, cutoff in pruned:
            self.forget(tenant, cutoff)

    def forget(self, tenant: str, cutoff: float) -> int:
        """Stop tracking a tenant's open alerts raised before ``cutoff`` (the engine's state horizon): a
        repeat after that opens a new alert. The stored alert stays open for people to resolve."""
        old = [k for k, r in self.open_by_key.items() if r.tenant == tenant and r.occurred_at < cutoff]
        for key in old:
            del self.open_by_key[key]
        return len(old)

    def snapshot(self) -> dict[str, Any]:
        """The open alerts as plain data (with float times), for the engine snapshot."""
        return {"raised": self.raised, "open": [asdict(r) for r in self.open_by_key.values()]}

    @classmethod
    def restore(cls, data: dict[str, Any], *, retain: bool = False) -> "AlertBook":
        book = cls(retain=retain, raised=int(data["raised"]))
        for plain in data["open"]:
            record = AlertRecord(**plain)
            book.open_by_key[record.dedup_key] = record
            if retain:
                book.alerts.append(record)
        return book

    def in_order(self) -> list[AlertRecord]:
        """Every alert in order of ``occurred_at`` (ties in the order they were raised)."""
        return sorted(self.alerts, key=lambda a: (a.occurred_at, a.seq))
