"""What the pipeline's queue holds: inputs from the transports, clock ticks, and people's actions."""

import asyncio
from dataclasses import dataclass
from typing import Any

from sealguard.alerts.lifecycle import Decision, Verb
from sealguard.errors import SealguardError
from sealguard.ingest.inbound import Inbound, ItemResult

__all__ = ["Act", "Inbound", "Item", "ItemFailed", "ItemResult", "Tick"]


@dataclass(frozen=True, slots=True)
class Tick:
    """Advance one tenant's clock to ``until`` (its idle time has passed a timer)."""

    until: float
    tenant: str


@dataclass(slots=True)
class Act:
    """A person's action on an alert. It runs in the engine's order because resolving an alert lets the
    engine open a new one for the same condition."""

    alert_id: str
    verb: Verb
    actor: str
    tenant: str | None  # the caller's tenant; None for an all-tenants token
    note: str | None = None
    assignee: str | None = None
    identity: str | None = None  # a person signed in (``person:{id}``); None for an API token
    done: "asyncio.Future[tuple[Decision, dict[str, Any] | None]] | None" = None


Item = Inbound | Tick | Act


class ItemFailed(SealguardError):
    """Handling the input at ``index`` of a batch raised: it is dead-lettered and the batch retried."""

    def __init__(self, index: int, reason: str, event_id: str | None = None) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason
        self.event_id = event_id
