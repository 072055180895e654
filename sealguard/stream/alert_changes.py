"""Alert changes made durable: what the alert book decided (opened, escalated, resolved) or a person
did, written with one history entry per transition and the notifications it causes, in the caller's
transaction. The decisions are ``alerts``' (lifecycle, paging, the chain); ``store`` moves the rows."""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg

from sealguard.alerts import paging
from sealguard.alerts.audit import GENESIS, chain
from sealguard.alerts.book import AlertRecord, Change
from sealguard.alerts.config import AlertingConfig
from sealguard.alerts.lifecycle import AlertState, Decision, Verb, decide
from sealguard.schemas.alerts import StoredAlert
from sealguard.store import alerts as alert_rows
from sealguard.store import outbox
from sealguard.store.alert_rows import utc_iso

Conn = psycopg.AsyncConnection[Any]

# One history entry before chaining: (alert_id, action, actor, note, at, detail).
Entry = tuple[str, str, str, str | None, str, dict[str, Any]]


async def append_history(conn: Conn, tenant: str, entries: list[Entry]) -> None:
    """Chain ``entries`` after the tenant's head (locked, so writers take turns) and store them."""
    if not entries:
        return
    head = await alert_rows.lock_chain_head(conn, tenant, GENESIS)
    # Hash the time exactly as it reads back from the database, or verification would fail.
    canonical = [(a, act, who, note, utc_iso(datetime.fromisoformat(at.replace("Z", "+00:00"))), d)
                 for a, act, who, note, at, d in entries]  # fmt: skip
    await alert_rows.append_history(conn, chain(tenant, head, canonical))


async def apply_changes(conn: Conn, changes: Iterable[tuple[Change, AlertRecord]], now: datetime,
                        alerting: AlertingConfig | None = None) -> None:  # fmt: skip
    """Persist what the alert book decided, and (with ``alerting``) the notifications it causes."""
    entries: dict[str, list[Entry]] = {}
    stamp = utc_iso(now)
    for change, r in changes:
        doc = {**r.to_json(), "facility_id": r.facility_id}
        if change == "opened":
            stored = await alert_rows.insert_alert(conn, r.to_alert(), r.facility_id, now)
            detail: dict[str, Any] = {"severity": r.severity, "rule_id": r.rule_id}
            if alerting is not None and stored:
                await outbox.insert(conn, paging.pages(alerting, doc, now))
        elif change == "escalated":
            status = await alert_rows.escalate_alert(conn, r.alert_id, r.severity, r.message, list(r.evidence), now)
            detail = {"severity": r.severity}
            if alerting is not None and status is not None:
                # A worse repeat pages again; an acknowledged alert only its first tier.
                doc["status"] = status
                await outbox.insert(conn, paging.pages(alerting, doc, now, first_tier_only=status != "open"))
        elif change == "resolved":
            await alert_rows.auto_resolve_alert(conn, r.alert_id, r.resolved_at, now)
            detail = {"resolved_at": utc_iso(now if r.resolved_at is None else _at(r.resolved_at))}
            if alerting is not None:
                await outbox.cancel_pending(conn, r.alert_id, "auto-resolved", ("trigger", "acknowledge"))
                paged = await outbox.paged_receivers(conn, r.alert_id)
                await outbox.insert(conn, paging.followups(alerting, doc, "resolve", paged, now))
        else:
            continue
        action = "auto_resolved" if change == "resolved" else change
        entries.setdefault(r.tenant, []).append((r.alert_id, action, "sealguard", None, stamp, detail))
    for tenant in sorted(entries):
        await append_history(conn, tenant, entries[tenant])


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


async def act(conn: Conn, alerting: AlertingConfig, alert_id: str, tenant: str | None, verb: Verb, actor: str,
              now: datetime, *, identity: str | None, note: str | None = None, assignee: str | None = None,
              ) -> tuple[Decision, StoredAlert | None]:  # fmt: skip
    """A person's action on one alert (``tenant`` None: any tenant), decided and stored with its history
    and notifications. The caller releases the engine's open alert when ``Decision.released``."""
    doc = await alert_rows.lock_alert(conn, alert_id, tenant)
    if doc is None:
        return Decision(AlertState("", ""), error=f"no alert {alert_id}", code=404), None
    state = AlertState(doc.status, doc.rule_id, doc.acknowledged_by, doc.resolve_requested_by,
                       doc.assignee, await alert_rows.resolve_requested_id(conn, alert_id))  # fmt: skip
    decision = decide(state, verb, actor, two_person=doc.rule_id in alerting.two_person_rules,
                      identity=identity, assignee=assignee, note=note)  # fmt: skip
    if decision.error is not None:
        return decision, doc
    new = decision.state
    resolved = new.status == "resolved"
    await alert_rows.record_action(conn, alert_id, alert_rows.PersonAction(
        new.status, new.acknowledged_by, new.resolve_requested_by, new.assignee, new.resolve_requested_id,
        acknowledged=new.status != "open" and state.status == "open", resolved=resolved, actor=actor,
    ), now)  # fmt: skip
    stamp = utc_iso(now)
    await append_history(conn, doc.tenant, [(alert_id, action, actor, note, stamp, detail)
                                               for action, detail in decision.history])  # fmt: skip
    if decision.stop_paging:
        kinds = ("trigger", "acknowledge") if resolved else ("trigger",)
        await outbox.cancel_pending(conn, alert_id, f"{new.status} by {actor}", kinds)
    # the answer says what was stamped, as a read of the alert afterwards would
    changed: dict[str, Any] = {"status": new.status, "acknowledged_by": new.acknowledged_by, "assignee": new.assignee,
                               "resolve_requested_by": new.resolve_requested_by, "updated_at": now}  # fmt: skip
    if new.status != "open" and state.status == "open":
        changed["acknowledged_at"] = now
    if resolved:
        changed.update(resolved_at=now, resolved_by=actor)
    doc = doc.model_copy(update=changed)
    if decision.notify is not None:
        paged = await outbox.paged_receivers(conn, alert_id)
        await outbox.insert(conn, paging.followups(alerting, doc.document(), decision.notify, paged, now))
    return decision, doc
