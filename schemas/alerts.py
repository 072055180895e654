"""The alert as it leaves sealguard: replay output, API and every notification channel."""

from datetime import datetime
from typing import Literal

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
