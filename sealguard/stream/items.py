"""What moves between the edge and the worker besides events: clock ticks and people's actions."""

import asyncio
from dataclasses import dataclass
from typing import Any

from sealguard.alerts.lifecycle import Decision, Verb
from sealguard.ingest.inbound import Inbound, ItemResult

__all__ = ["Act", "Inbound", "ItemResult", "Tick"]


@dataclass(frozen=True, slots=True)
class Tick:
    """Advance one tenant's clock to ``until`` (its idle time has passed a timer)."""

    until: float
    tenant: str


@dataclass(slots=True)
class Act:
    """A person's action on an alert: decided in PostgreSQL; a release (resolved by people) reaches the
    worker's alert book through the log, so the next occurrence opens a new alert."""

    alert_id: str
    verb: Verb
    actor: str
    tenant: str | None  # the caller's tenant; None for an all-tenants token
    note: str | None = None
    assignee: str | None = None
    identity: str | None = None  # a person signed in (``person:{id}``); None for an API token
    done: "asyncio.Future[tuple[Decision, dict[str, Any] | None]] | None" = None
