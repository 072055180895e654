"""The notification outbox as plain rows: what alerting decides to send (``OutboxEntry``) and what a
notifier claims (``OutboxRow``). ``alerts`` decides them, ``store`` moves them; neither sees the other."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One notification to write: a page (trigger, by tier), a follow-up (acknowledge, resolve) or the
    next repeat of an unacknowledged critical page."""

    tenant: str
    alert_id: str
    receiver: str
    channel: str
    kind: str  # trigger, acknowledge, resolve
    tier: int
    route: str
    group_key: str
    group_interval: float
    repeat_interval: float | None
    due_at: datetime
    deadline_at: datetime
    created_at: datetime


@dataclass(slots=True)
class OutboxRow:
    """A stored notification as a notifier claims it."""

    id: int
    tenant: str
    alert_id: str
    receiver: str
    channel: str
    kind: str
    tier: int
    route: str
    group_key: str
    group_interval: float
    repeat_interval: float | None
    batch_id: str | None
    attempts: int
    due_at: datetime
    created_at: datetime
    deadline_at: datetime


@dataclass(frozen=True, slots=True)
class PagedReceiver:
    """A receiver already sent a trigger for an alert: it is told of acknowledgement and resolution."""

    receiver: str
    route: str
    group_key: str
