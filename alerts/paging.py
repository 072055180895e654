"""Which notifications an alert change causes: pages by route and escalation tier, follow-ups to those
already paged, and the repeat of an unacknowledged critical page. Pure: rows out, ``store`` writes them."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sealguard.alerts.config import AlertingConfig
from sealguard.alerts.matchers import labels_of
from sealguard.alerts.routing import plans
from sealguard.schemas.outbox import OutboxEntry, OutboxRow, PagedReceiver


def _entry(config: AlertingConfig, alert: Mapping[str, Any], receiver: str, kind: str, tier: int, route: str,
           group_key: str, group_interval: float, repeat: float | None, due: datetime,
           now: datetime) -> OutboxEntry:  # fmt: skip
    return OutboxEntry(
        tenant=alert["tenant"], alert_id=alert["alert_id"], receiver=receiver,
        channel=config.receiver(receiver).channel, kind=kind, tier=tier, route=route, group_key=group_key,
        group_interval=group_interval, repeat_interval=repeat, due_at=due,
        deadline_at=due + timedelta(seconds=config.delivery_deadline), created_at=now,
    )  # fmt: skip


def pages(config: AlertingConfig, alert: Mapping[str, Any], now: datetime, *,
          first_tier_only: bool = False) -> list[OutboxEntry]:  # fmt: skip
    """Trigger rows for every route and escalation tier the alert reaches. Tier ``n`` is due ``after``
    its delay (plus the route's group_wait); acknowledging the alert cancels the tiers not yet sent. A
    worse repeat of an acknowledged alert pages its first tier only (``first_tier_only``)."""
    rows = []
    labels = labels_of(alert)
    for plan in plans(config, labels):
        repeat = plan.repeat_interval if alert["severity"] == "critical" and plan.repeat_interval > 0 else None
        for n, tier in enumerate(plan.tiers[:1] if first_tier_only else plan.tiers):
            due = now + timedelta(seconds=plan.group_wait + tier.after)
            key = plan.group_key(n, labels)
            rows += [_entry(config, alert, r, "trigger", n, plan.route, key, plan.group_interval, repeat, due, now)
                     for r in tier.receivers]  # fmt: skip
    return rows


def followups(config: AlertingConfig, alert: Mapping[str, Any], kind: str, paged: Iterable[PagedReceiver],
              now: datetime) -> list[OutboxEntry]:  # fmt: skip
    """``acknowledge`` or ``resolve`` to every receiver already paged for the alert (e-mail is not told
    of acknowledgements; a receiver with ``send_resolved: false`` is not told of resolution)."""
    known = {r.name: r for r in config.receivers}
    rows = []
    for p in paged:
        receiver = known.get(p.receiver)
        if receiver is None or (kind == "acknowledge" and receiver.channel == "email"):
            continue
        if kind == "resolve" and not receiver.send_resolved:
            continue
        rows.append(_entry(config, alert, p.receiver, kind, 0, p.route, f"{p.group_key}:{kind}", 0.0, None, now, now))
    return rows


def repeats(sent: Sequence[OutboxRow], alerts: Mapping[str, Mapping[str, Any]], now: datetime) -> list[OutboxEntry]:
    """The next page of each sent trigger that repeats, while its alert is still open and critical: an
    acknowledgement (or a resolution, or a downgrade) stops the repeats."""
    out = []
    for r in sent:
        alert = alerts.get(r.alert_id)
        if r.kind != "trigger" or not r.repeat_interval or alert is None:
            continue
        if alert["status"] != "open" or alert["severity"] != "critical":
            continue
        due = now + timedelta(seconds=r.repeat_interval)
        out.append(OutboxEntry(
            tenant=r.tenant, alert_id=r.alert_id, receiver=r.receiver, channel=r.channel, kind="trigger",
            tier=r.tier, route=r.route, group_key=r.group_key, group_interval=r.group_interval,
            repeat_interval=r.repeat_interval, due_at=due, deadline_at=due + (r.deadline_at - r.due_at),
            created_at=now,
        ))  # fmt: skip
    return out
