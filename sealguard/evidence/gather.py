"""Reading one alert's facts from the store for its package, in one repeatable-read transaction so
the history, the chain head and the notifications are of one moment."""

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.evidence import package, report
from sealguard.rules.guidance import rule_guide
from sealguard.store import alert_detail, incident
from sealguard.store import photos as store_photos
from sealguard.store.alert_rows import fetch_alerts, select_alerts
from sealguard.store.alerts import history

Conn = psycopg.AsyncConnection[Any]
TRACK_SPAN = timedelta(hours=6)


async def facts(conn: Conn, alert_id: str, tenant: str | None, *, by: str, site: str = "sealguard",
                now: datetime | None = None) -> package.Incident | None:  # fmt: skip
    """The alert's facts (None: no such alert in ``tenant``; None tenant: any)."""
    found = await fetch_alerts(
        conn, select_alerts("alert_id = %s AND (%s::text IS NULL OR tenant = %s)"), (alert_id, tenant, tenant)
    )
    if not found:
        return None
    alert = found[0]
    t = alert.tenant
    events = await incident.evidence_events(conn, t, alert.evidence)
    shas = sorted({e.partner_sha256 for e in events if e.partner_sha256})
    rows = await history(conn, t, alert.alert_id)
    links, head = await incident.chain_links(conn, t, rows[0].chain_seq if rows else 0,
                                             rows[-1].chain_seq if rows else 0)  # fmt: skip
    plan = await incident.trip_plan(conn, t, alert.trip_id) if alert.trip_id else None
    track = (await incident.track(conn, t, alert.conveyance_id, alert.occurred_at, TRACK_SPAN)
             if alert.conveyance_id else [])  # fmt: skip
    checks = await incident.trip_checks(conn, t, alert.trip_id, alert.conveyance_id) if alert.trip_id else []
    check_ids = [c["event_id"] for c in checks if isinstance(c.get("event_id"), str)]
    photos = await store_photos.packed(conn, t, alert.trip_id, sorted({*check_ids, *alert.evidence}))
    notes = [n.document() for n in await alert_detail.notifications(conn, alert.alert_id)]
    truncated = bool(links) and head is not None and links[-1].chain_seq < head.chain_seq
    return package.Incident(
        alert=alert, rule=rule_guide(alert.rule_id), events=events,
        partner_messages=await incident.partner_messages(conn, t, shas), history=rows, links=links, head=head,
        notifications=notes, plan=plan, track=track, checks=checks, photos=photos,
        generated_at=now or datetime.now(UTC), generated_by=by, site=site, links_truncated=truncated,
    )  # fmt: skip


async def export(conn: Conn, alert_id: str, tenant: str | None, key: Ed25519PrivateKey, *, by: str,
                 site: str = "sealguard") -> bytes | None:  # fmt: skip
    """The signed package of one alert (None: no such alert)."""
    async with conn.transaction():
        await incident.one_moment(conn)
        found = await facts(conn, alert_id, tenant, by=by, site=site)
    if found is None:
        return None
    return package.build(found, key, report.render)
