"""The alert as it leaves sealguard: replay output, API and every notification channel."""

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["critical", "high", "medium", "low"]
AlertStatus = Literal["open", "acknowledged", "resolved"]

#: Higher number, more severe: used to raise an open alert's severity on a worse repeat.
SEVERITY_RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class Alert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_id: str
    rule_id: str
    severity: Severity
    tenant: str
    conveyance_id: str | None
    trip_id: str | None
    occurred_at: datetime
    message: str
    criterion: str
    evidence: list[str]
    dedup_key: str
    status: AlertStatus
    resolved_at: datetime | None = None

    def document(self) -> dict[str, Any]:
        """The alert as JSON: the API's answers and every channel's payload (times RFC 3339 UTC, ``Z``)."""
        doc = self.model_dump()
        for name, value in doc.items():
            if isinstance(value, datetime):
                doc[name] = rfc3339(value)
        return doc


class StoredAlert(Alert):
    """The contract's alert as the database keeps it: with what people did to it and where it came from.
    One shape from the store to the API; the engine's ``AlertRecord`` becomes an ``Alert`` on the way in."""

    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    facility_id: str | None = None  # where the event that raised it came from, for routing
    assignee: str | None = None
    resolve_requested_by: str | None = None
    updated_at: datetime | None = None


def rfc3339(at: datetime) -> str:
    """Seconds precision unless the time has a fraction, as every output of sealguard writes time."""
    return at.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"
