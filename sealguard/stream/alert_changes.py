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
from sealguard.schemas.outbox import OutboxEntry
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
    """Persist what the alert book decided, and (with ``alerting``) the notifications it causes.

    In waves (``waves``): each wave holds an alert at most once, and its alert rows, its cancelled pages,
    the receivers its resolutions tell, and then all its new pages go in one statement each. An alert's
    own changes keep their order (a later wave), and changes of different alerts touch different rows,
    so this writes what writing each change in turn wrote, in a handful of statements: a batch whose
    clock move fired a thousand timers was thousands of round trips before, and held the partition.

    One difference, on purpose: an alert pages once per batch. Its record is written as it stands at the
    batch's end (an alert opened and made worse in one batch is opened at the worse severity), so the
    pages of its open already go where the worse repeat's would; writing both paged every receiver twice."""
    changes = [(change, r) for change, r in changes if change in ("opened", "escalated", "resolved")]
    if not changes:
        return
    paged: set[str] = set()  # alerts whose triggers this batch has written
    for wave in waves(changes):
        await _apply_wave(conn, wave, now, alerting, paged)
    # The history, in the order the book decided: the chain is per tenant and hashes the order.
    entries: dict[str, list[Entry]] = {}
    stamp = utc_iso(now)
    for change, r in changes:
        detail: dict[str, Any]
        if change == "opened":
            detail = {"severity": r.severity, "rule_id": r.rule_id}
        elif change == "escalated":
            detail = {"severity": r.severity}
        else:
            detail = {"resolved_at": utc_iso(now if r.resolved_at is None else _at(r.resolved_at))}
        action = "auto_resolved" if change == "resolved" else change
        entries.setdefault(r.tenant, []).append((r.alert_id, action, "sealguard", None, stamp, detail))
    for tenant in sorted(entries):
        await append_history(conn, tenant, entries[tenant])


def waves(changes: list[tuple[Change, AlertRecord]]) -> list[list[tuple[Change, AlertRecord]]]:
    """The changes in waves: an alert's n-th change in the n-th wave, each wave in the changes' order."""
    out: list[list[tuple[Change, AlertRecord]]] = []
    seen: dict[str, int] = {}
    for change, r in changes:
        n = seen[r.alert_id] = seen.get(r.alert_id, -1) + 1
        if n == len(out):
            out.append([])
        out[n].append((change, r))
    return out


async def _apply_wave(conn: Conn, wave: list[tuple[Change, AlertRecord]], now: datetime,
                      alerting: AlertingConfig | None, paged: set[str]) -> None:  # fmt: skip
    opened = [r for change, r in wave if change == "opened"]
    escalated = [r for change, r in wave if change == "escalated"]
    resolved = [r for change, r in wave if change == "resolved"]
    stored = await alert_rows.insert_alerts(conn, [(r.to_alert(), r.facility_id) for r in opened], now)
    statuses = await alert_rows.escalate_alerts(
        conn, [(r.alert_id, r.severity, r.message, list(r.evidence)) for r in escalated], now
    )
    await alert_rows.auto_resolve_alerts(conn, [(r.alert_id, r.resolved_at) for r in resolved], now)
    if alerting is None:
        return
    resolved_ids = [r.alert_id for r in resolved]
    await outbox.cancel_pending(conn, resolved_ids, "auto-resolved", ("trigger", "acknowledge"))
    told = await outbox.paged_receivers_of(conn, resolved_ids)
    pages: list[OutboxEntry] = []
    for change, r in wave:  # in the wave's order, as the changes were decided
        doc = {**r.to_json(), "facility_id": r.facility_id}
        if change == "opened" and r.alert_id in stored and r.alert_id not in paged:
            paged.add(r.alert_id)  # an open found stored (written before) pages nothing: its first write did
            pages += paging.pages(alerting, doc, now)
        elif change == "escalated" and r.alert_id not in paged and (status := statuses.get(r.alert_id)) is not None:
            # A worse repeat pages again; an acknowledged alert only its first tier.
            paged.add(r.alert_id)
            doc["status"] = status
            pages += paging.pages(alerting, doc, now, first_tier_only=status != "open")
        elif change == "resolved":
            pages += paging.followups(alerting, doc, "resolve", told.get(r.alert_id, []), now)
    await outbox.insert(conn, pages)


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
        await outbox.cancel_pending(conn, [alert_id], f"{new.status} by {actor}", kinds)
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
