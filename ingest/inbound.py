"""What a transport hands on, and what it hears back: one input in, one answer out.

Every transport (MQTT, Kafka, HTTP, a gateway's forwarder) builds an ``Inbound`` for each message and
hands it to an ``EventSink``; it acknowledges the message to its sender only when the sink's future
resolves, which a sink does only once the input is durably handled (stored and evaluated, or stored in
Kafka for a gateway). A future that fails means "not handled": the sender must deliver it again.
"""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Status = Literal["accepted", "duplicate", "rejected"]


@dataclass(frozen=True, slots=True)
class ItemResult:
    status: Status
    event_id: str | None = None
    reason: str | None = None
    findings: tuple[dict[str, str], ...] = ()  # what this event raised: a dock sees its verdict at once

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "event_id": self.event_id}
        if self.reason is not None:
            out["reason"] = self.reason
        if self.findings:
            out["findings"] = list(self.findings)
        return out


@dataclass(slots=True)
class Inbound:
    raw: bytes
    source: str  # mqtt, kafka, http
    origin: dict[str, Any]  # topic, partition/offset, HTTP client: stored with a dead letter
    tenant: str | None = None  # fixed by the transport (topic, token); None to take the payload's
    refused: str | None = None  # the transport already knows it cannot be accepted, and why
    refused_id: str | None = None  # the event id of a refused input, where it is known
    received_at: float = field(default_factory=time.time)
    received_mono: float = field(default_factory=time.monotonic)
    role: str | None = None  # the sender's role where the transport knows it (HTTP tokens); None: trusted
    facility: str | None = None  # the facility a facility-bound scanner reports for (admission checks it)
    format: str | None = None  # a partner format the application translates first ("owntracks"); None: ours
    device: tuple[str, str] | None = None  # the partner's own names for the sender (OwnTracks user, device)
    partner: tuple[str, str] | None = None  # an adapter's event: the partner's format and its message's SHA-256
    done: "asyncio.Future[ItemResult] | None" = None


class EventSink(Protocol):
    """Where a transport hands its inputs: the pipeline in a monitor or worker, Kafka in a gateway."""

    async def submit(self, item: Inbound) -> "asyncio.Future[ItemResult]":
        """Queue ``item`` (waiting while the sink is full: backpressure reaches the transport) and return
        the future of its answer."""
        ...
