"""How an alert row reads back: the column list and the JSON document the API and channels share."""

from datetime import datetime
from typing import Any

from sealguard.rules.findings import iso

ALERT_COLUMNS = (
    "alert_id::text, rule_id, severity, tenant, conveyance_id, trip_id, occurred_at, message, criterion, evidence,"
    " dedup_key, status, resolved_at, acknowledged_at, acknowledged_by, resolved_by, facility_id, assignee,"
    " resolve_requested_by, updated_at"
)


def _iso(t: datetime | None) -> str | None:
    return iso(t.timestamp()) if t is not None else None


def alert_json(r: Any) -> dict[str, Any]:
    return {
        "alert_id": r[0], "rule_id": r[1], "severity": r[2], "tenant": r[3], "conveyance_id": r[4], "trip_id": r[5],
        "occurred_at": _iso(r[6]), "message": r[7], "criterion": r[8], "evidence": r[9], "dedup_key": r[10],
        "status": r[11], "resolved_at": _iso(r[12]), "acknowledged_at": _iso(r[13]), "acknowledged_by": r[14],
        "resolved_by": r[15], "facility_id": r[16], "assignee": r[17], "resolve_requested_by": r[18],
        "updated_at": _iso(r[19]),
    }  # fmt: skip
