"""The CTPAT compliance figures of a tenant over a period, in SQL over the stored trips, checks, alerts
and history (docs/evidence.md, "Compliance figures"). Two queries: one over the period's trips and the
checks that belong to each, one over the alerts of those trips.

Which checks belong to a trip. Docks often report an inspection or a seal without the trip id, so a
check belongs to the trip of its conveyance whose window holds it: from the previous trip's close (or a
day before this trip was planned, whichever is later) to the next trip's window. The windows of one
conveyance never overlap, so no check counts for two trips; a check that names another trip is not
counted for this one, and none counts more than a day after its trip closed. Each trip's checks are one
range of the partial index ``events_checks``. Neighbouring trips are looked for within 45 days of the
period (a trip whose neighbour is further away takes its window from itself alone).

- inspected before sealing: an inspection at or before the trip's first seal.affixed; passed: the last
  such inspection had every required point present and passing and no agricultural finding;
- VVTT at arrival: a seal.verified after sealing with the four steps passed and the seal intact, at the
  destination facility when the check names a facility;
- seal discrepancies: alerts of SEAL-* rules on the trip, per 100 trips;
- time to acknowledge / resolve: from the alert's opening (its first history row) to the person's act;
- two-person closures: resolved alerts of the two-person rules whose history has a resolution asked by
  one person and confirmed by another.

Figures are grouped by origin facility, carrier (the plan's ``carrier``, else the conveyance's prefix:
an ISO 6346 owner code and category, or what comes before the first dash) or lane (origin to
destination), with the tenant's total beside them."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import sql

Conn = psycopg.AsyncConnection[Any]
Dimension = Literal["facility", "carrier", "lane", "tenant"]

_GROUP = {
    "facility": "coalesce(t.plan->'origin'->>'facility_id', '(none)')",
    "carrier": "coalesce(t.plan->>'carrier', CASE WHEN t.conveyance_id ~ '^[A-Z]{3}[UJZ][0-9]{7}$'"
    " THEN left(t.conveyance_id, 4) ELSE split_part(t.conveyance_id, '-', 1) END)",
    "lane": "coalesce(t.plan->'origin'->>'facility_id', '(none)') || ' > '"
    " || coalesce(t.plan->'destination'->>'facility_id', '(none)')",
    "tenant": "'all'",
}

_INSPECTION_PASSED = """
    NOT jsonb_path_exists(e.payload->'points', '$.* ? (@ == "fail")')
    AND (SELECT count(*) FROM jsonb_object_keys(e.payload->'points')) >=
        CASE e.payload->>'inspection_type' WHEN 'container_7pt' THEN 7 WHEN 'reefer_8pt' THEN 8 ELSE 17 END
    AND NOT coalesce((e.payload->'agricultural'->>'pest_contamination')::boolean, false)
    AND NOT coalesce((e.payload->'agricultural'->>'wood_packaging_unmarked')::boolean, false)"""

_VVTT_PASSED = """
    coalesce((e.payload->>'intact')::boolean, false) AND coalesce((e.payload->'steps'->>'view')::boolean, false)
    AND coalesce((e.payload->'steps'->>'verify')::boolean, false)
    AND coalesce((e.payload->'steps'->>'tug')::boolean, false)
    AND coalesce((e.payload->'steps'->>'twist_turn')::boolean, false)"""

_TRIPS = """
WITH span AS (
    SELECT t.trip_id, t.conveyance_id, t.planned_at, t.closed_at, t.plan,
           greatest(coalesce(lag(t.closed_at) OVER w, t.planned_at - interval '1 day'),
                    t.planned_at - interval '1 day', lag(t.planned_at) OVER w) AS w_start
    FROM trips t
    WHERE t.tenant = %(tenant)s AND t.planned_at >= %(since)s::timestamptz - interval '45 days'
      AND t.planned_at < %(until)s::timestamptz + interval '45 days'
    WINDOW w AS (PARTITION BY t.conveyance_id ORDER BY t.planned_at, t.trip_id)
), windowed AS (
    SELECT s.*, least(coalesce(lead(s.w_start) OVER (PARTITION BY s.conveyance_id ORDER BY s.planned_at, s.trip_id),
                               'infinity'), s.closed_at + interval '1 day') AS w_end
    FROM span s
), trip AS (
    SELECT t.*, {group} AS grp FROM windowed t WHERE t.planned_at >= %(since)s AND t.planned_at < %(until)s
), fact AS (
    SELECT t.grp, t.trip_id, c.inspected, c.inspection_passed, c.vvtt
    FROM trip t LEFT JOIN LATERAL (
        SELECT coalesce(bool_or(x.kind = 'inspection.completed' AND x.occurred_at <= x.sealed_at), false) AS inspected,
               coalesce((array_agg(x.passed ORDER BY x.occurred_at DESC)
                   FILTER (WHERE x.kind = 'inspection.completed' AND x.occurred_at <= x.sealed_at))[1], false)
                   AS inspection_passed,
               coalesce(bool_or(x.kind = 'seal.verified' AND x.occurred_at > x.sealed_at AND x.passed
                   AND (x.facility IS NULL OR x.facility = t.plan->'destination'->>'facility_id')), false) AS vvtt
        FROM (
            SELECT e.kind, e.occurred_at, e.payload->'source'->>'facility_id' AS facility,
                   min(e.occurred_at) FILTER (WHERE e.kind = 'seal.affixed') OVER () AS sealed_at,
                   CASE e.kind WHEN 'inspection.completed' THEN {inspection_passed}
                               WHEN 'seal.verified' THEN {vvtt_passed} ELSE false END AS passed
            FROM events e
            WHERE e.tenant = %(tenant)s AND e.conveyance_id = t.conveyance_id
              AND e.kind IN ('inspection.completed', 'seal.affixed', 'seal.verified')
              AND e.occurred_at >= t.w_start AND e.occurred_at < t.w_end
              AND (e.trip_id IS NULL OR e.trip_id = t.trip_id)
        ) x
    ) c ON true
)
SELECT grp, count(*) AS trips, count(*) FILTER (WHERE inspected) AS inspected,
       count(*) FILTER (WHERE inspection_passed) AS inspection_passed, count(*) FILTER (WHERE vvtt) AS vvtt
FROM fact GROUP BY GROUPING SETS ((grp), ()) ORDER BY grp NULLS LAST
"""

_ALERTS = """
WITH trip AS (
    SELECT t.trip_id, {group} AS grp FROM trips t
    WHERE t.tenant = %(tenant)s AND t.planned_at >= %(since)s AND t.planned_at < %(until)s
), alert AS (
    SELECT tr.grp, a.alert_id, a.rule_id, a.severity, a.status, a.acknowledged_at, a.resolved_at,
           (SELECT min(h.at) FROM alert_history h WHERE h.alert_id = a.alert_id AND h.tenant = a.tenant) AS opened_at,
           EXISTS (SELECT 1 FROM alert_history h1 JOIN alert_history h2
                   ON h2.alert_id = h1.alert_id AND h2.tenant = h1.tenant AND h2.action = 'resolved'
                   AND h2.chain_seq > h1.chain_seq AND h2.actor <> h1.actor
                   WHERE h1.alert_id = a.alert_id AND h1.tenant = a.tenant AND h1.action = 'resolve_requested'
                  ) AS by_two
    FROM alerts a JOIN trip tr ON tr.trip_id = a.trip_id
    WHERE a.tenant = %(tenant)s
)
SELECT grp, rule_id, severity, count(*) AS alerts,
       count(*) FILTER (WHERE rule_id LIKE 'SEAL-%%') AS seal_discrepancies,
       count(*) FILTER (WHERE status = 'resolved' AND rule_id = ANY(%(two_person)s)) AS two_person_resolved,
       count(*) FILTER (WHERE status = 'resolved' AND rule_id = ANY(%(two_person)s) AND by_two) AS two_person_by_two,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM acknowledged_at - opened_at))
           FILTER (WHERE acknowledged_at IS NOT NULL) AS ack_p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM acknowledged_at - opened_at))
           FILTER (WHERE acknowledged_at IS NOT NULL) AS ack_p90,
       count(*) FILTER (WHERE acknowledged_at IS NOT NULL) AS acknowledged,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - opened_at))
           FILTER (WHERE resolved_at IS NOT NULL) AS resolve_p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - opened_at))
           FILTER (WHERE resolved_at IS NOT NULL) AS resolve_p90,
       count(*) FILTER (WHERE resolved_at IS NOT NULL) AS resolved
FROM alert GROUP BY GROUPING SETS ((grp, rule_id, severity), (grp), (rule_id, severity), ())
ORDER BY grp NULLS LAST, rule_id, severity
"""


@dataclass(frozen=True, slots=True)
class TripCounts:
    group: str | None  # None: the tenant's total
    trips: int
    inspected: int
    inspection_passed: int
    vvtt: int


@dataclass(frozen=True, slots=True)
class AlertCounts:
    group: str | None  # None: the tenant's total
    rule_id: str | None  # None with severity None: every rule of the group
    severity: str | None
    alerts: int
    seal_discrepancies: int
    two_person_resolved: int
    two_person_by_two: int
    ack_p50: float | None
    ack_p90: float | None
    acknowledged: int
    resolve_p50: float | None
    resolve_p90: float | None
    resolved: int


def _params(tenant: str, since: datetime, until: datetime, two_person: list[str]) -> dict[str, Any]:
    return {"tenant": tenant, "since": since, "until": until, "two_person": two_person}


async def trip_counts(conn: Conn, tenant: str, since: datetime, until: datetime, by: Dimension) -> list[TripCounts]:
    query = sql.SQL(_TRIPS.format(group=_GROUP[by], inspection_passed=_INSPECTION_PASSED, vvtt_passed=_VVTT_PASSED))
    cur = await conn.execute(query, _params(tenant, since, until, []))
    return [TripCounts(r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in await cur.fetchall()]


async def alert_counts(conn: Conn, tenant: str, since: datetime, until: datetime, by: Dimension,
                       two_person: list[str]) -> list[AlertCounts]:  # fmt: skip
    cur = await conn.execute(sql.SQL(_ALERTS.format(group=_GROUP[by])), _params(tenant, since, until, two_person))
    return [AlertCounts(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), int(r[6]), r[7], r[8], int(r[9]), r[10],
                        r[11], int(r[12])) for r in await cur.fetchall()]  # fmt: skip


async def bounded(conn: Conn) -> None:
    """A figures query may not hold the database for long (a period of years over a large fleet)."""
    await conn.execute("SET LOCAL statement_timeout = '30s'")
