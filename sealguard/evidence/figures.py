"""The compliance figures as a document and as CSV: the store's counts (``store/compliance.py``) turned
into shares, rates and times per group. Pure."""

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sealguard.schemas.alerts import rfc3339
from sealguard.store.compliance import AlertCounts, TripCounts

TOTAL = "(all)"
CSV_COLUMNS = (
    "group", "trips", "inspected_before_sealing", "inspected_before_sealing_pct", "inspection_passed",
    "inspection_passed_pct", "vvtt_at_arrival", "vvtt_at_arrival_pct", "seal_discrepancies",
    "seal_discrepancies_per_100_trips", "alerts", "acknowledge_median_s", "acknowledge_p90_s", "resolve_median_s",
    "resolve_p90_s", "two_person_closures", "two_person_by_two", "two_person_by_two_pct",
)  # fmt: skip


def _share(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def _times(median: float | None, p90: float | None, count: int) -> dict[str, Any]:
    return {"median": _seconds(median), "p90": _seconds(p90), "count": count}


@dataclass(frozen=True, slots=True)
class Period:
    tenant: str
    since: datetime
    until: datetime
    by: str


def document(period: Period, trips: list[TripCounts], alerts: list[AlertCounts]) -> dict[str, Any]:
    """One entry per group (the tenant's total last), each with its shares and its alerts by rule and
    severity."""
    by_group: dict[str | None, dict[str, Any]] = {}
    for t in trips:
        by_group[t.group] = {
            "group": t.group if t.group is not None else TOTAL,
            "trips": t.trips,
            "inspected_before_sealing": {"count": t.inspected, "pct": _share(t.inspected, t.trips)},
            "inspection_passed": {"count": t.inspection_passed, "pct": _share(t.inspection_passed, t.trips)},
            "vvtt_at_arrival": {"count": t.vvtt, "pct": _share(t.vvtt, t.trips)},
            "seal_discrepancies": {"count": 0, "per_100_trips": 0.0 if t.trips else None},
            "alerts": {"total": 0, "by_rule": {}, "by_severity": {}},
            "time_to_acknowledge_s": {"median": None, "p90": None, "count": 0},
            "time_to_resolve_s": {"median": None, "p90": None, "count": 0},
            "two_person_closures": {"count": 0, "by_two": 0, "pct": None},
        }
    for a in alerts:
        g = by_group.get(a.group)
        if g is None:
            continue
        if a.rule_id is not None and a.severity is not None:
            rules = g["alerts"]["by_rule"]
            rules[a.rule_id] = rules.get(a.rule_id, 0) + a.alerts
            sev = g["alerts"]["by_severity"]
            sev[a.severity] = sev.get(a.severity, 0) + a.alerts
            continue
        g["alerts"]["total"] = a.alerts
        g["seal_discrepancies"] = {"count": a.seal_discrepancies,
                                   "per_100_trips": round(100.0 * a.seal_discrepancies / g["trips"], 2)
                                   if g["trips"] else None}  # fmt: skip
        g["time_to_acknowledge_s"] = {
            "median": _seconds(a.ack_p50),
            "p90": _seconds(a.ack_p90),
            "count": a.acknowledged,
        }
        g["time_to_resolve_s"] = {
            "median": _seconds(a.resolve_p50),
            "p90": _seconds(a.resolve_p90),
            "count": a.resolved,
        }
        g["two_person_closures"] = {"count": a.two_person_resolved, "by_two": a.two_person_by_two,
                                    "pct": _share(a.two_person_by_two, a.two_person_resolved)}  # fmt: skip
    groups = [v for k, v in by_group.items() if k is not None]
    total = by_group.get(None)
    return {
        "tenant": period.tenant,
        "since": rfc3339(period.since),
        "until": rfc3339(period.until),
        "by": period.by,
        "groups": groups,
        "total": total,
    }


def to_csv(doc: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    rows = [*doc["groups"], *([doc["total"]] if doc["total"] else [])]
    for g in rows:
        w.writerow([
            _safe(g["group"]), g["trips"], g["inspected_before_sealing"]["count"], g["inspected_before_sealing"]["pct"],
            g["inspection_passed"]["count"], g["inspection_passed"]["pct"], g["vvtt_at_arrival"]["count"],
            g["vvtt_at_arrival"]["pct"], g["seal_discrepancies"]["count"], g["seal_discrepancies"]["per_100_trips"],
            g["alerts"]["total"], g["time_to_acknowledge_s"]["median"], g["time_to_acknowledge_s"]["p90"],
            g["time_to_resolve_s"]["median"], g["time_to_resolve_s"]["p90"], g["two_person_closures"]["count"],
            g["two_person_closures"]["by_two"], g["two_person_closures"]["pct"],
        ])  # fmt: skip
    return out.getvalue()


def _safe(cell: str) -> str:
    """A group name is data from the plans: one that starts like a formula is quoted, so a spreadsheet
    opening the export shows it rather than running it (CSV injection)."""
    return "'" + cell if cell[:1] in {"=", "+", "-", "@", "\t", "\r"} else cell
