"""The alert history (audit trail) row, as stored and as hash-chained by ``alerts.audit``."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class HistoryRow:
    tenant: str
    chain_seq: int
    alert_id: str
    action: str
    actor: str
    note: str | None
    at: str  # RFC 3339, UTC, as stored
    detail: dict[str, Any]
    prev_hash: str
    hash: str = ""
