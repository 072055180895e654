"""Partner formats into the pipeline: bind each translated event's device to a conveyance, then hand it
to the event sink like any other input.

The adapters (``schemas/foreign``) are pure; this is where the database is asked which conveyance a
device reported for at the event's own time (``store.device_bindings``). An unbound device's event is
dead-lettered with that reason, never dropped; a message that cannot be read at all is dead-lettered
whole, with the adapter's reasons. A bound device's seal events name the binding's seal number when the
message named none (an e-lock reports as itself). The tenant is always the transport's (the token's
or the topic's): a binding is looked up in that tenant only, so a device can never write into another.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg_pool

from sealguard.ingest.inbound import EventSink, Inbound, ItemResult
from sealguard.ingest.mqtt_acl import owntracks_token
from sealguard.schemas.foreign import owntracks
from sealguard.schemas.foreign.common import Mapped, Translation, iso
from sealguard.short_cache import ShortCache
from sealguard.store import device_bindings, event_log, tokens
from sealguard.store.device_bindings import Binding

CACHE_S = 1.0  # a new binding is honoured within a second, as a new token is


class DeviceBook:
    """A device's bindings, cached for a second per (tenant, device): the hot path does not query per
    message, and a binding made or ended is seen within a second."""

    def __init__(self, pool: psycopg_pool.AsyncConnectionPool[Any]) -> None:
        self.pool = pool
        self._periods: ShortCache[tuple[str, str], list[Binding]] = ShortCache(CACHE_S, 50_000)
        self._users: ShortCache[int, tuple[str, str | None] | None] = ShortCache(CACHE_S, 50_000)

    async def keep_message(self, tenant: str, fmt: str, message: bytes) -> str:
        """Keep a partner's message as evidence for the events made from it; its SHA-256."""
        async with self.pool.connection() as conn:
            return await event_log.keep_partner_message(conn, tenant, fmt, message, datetime.now(UTC))

    async def at(self, tenant: str, device: str, when: datetime) -> Binding | None:
        async def load() -> list[Binding]:
            async with self.pool.connection() as conn:
                return await device_bindings.of_device(conn, tenant, device)

        periods = await self._periods.get((tenant, device), load)
        return next((b for b in periods if b.valid_from <= when and (b.valid_until is None or when < b.valid_until)),
                    None)  # fmt: skip

    async def sender_of_user(self, user: str) -> tuple[str, str | None] | None:
        """The tenant of the token whose MQTT user is ``user`` (``sg-{id}``), and the facility it is bound to
        (a facility-bound scanner), cached like a binding."""
        token_id = owntracks_token(user)
        if token_id is None:
            return None

        async def load() -> tuple[str, str | None] | None:
            async with self.pool.connection() as conn:
                return await tokens.sender_of(conn, token_id)

        return await self._users.get(token_id, load)

    async def bind(self, tenant: str, m: Mapped) -> tuple[dict[str, Any], str | None]:
        """The event with its conveyance, or the reason it has none."""
        event = dict(m.event)
        when = datetime.fromisoformat(event["occurred_at"])
        binding = await self.at(tenant, m.device, when)
        if binding is not None:
            event["conveyance_id"] = binding.conveyance_id
            if m.seal_from_device and binding.seal_number:
                event["seal_number"] = binding.seal_number
            return event, None
        if m.direct is not None:
            event["conveyance_id"] = m.direct
            return event, None
        return event, f"device {m.device} is not bound to a conveyance of tenant {tenant} at {iso(when)}"


@dataclass(frozen=True, slots=True)
class Delivered:
    """What became of a message: each mapped event's answer, and the adapter's notes."""

    results: list[tuple[Mapped, ItemResult]]
    translation: Translation

    def counts(self) -> dict[str, int]:
        out = {s: sum(r.status == s for _, r in self.results) for s in ("accepted", "duplicate", "rejected")}
        return out | {"skipped": len(self.translation.skipped)}

    def to_json(self) -> dict[str, Any]:
        return {
            **self.counts(),
            "results": [{"device": m.device, **r.to_json()} for m, r in self.results],
            "skipped": [{"path": n.path, "reason": n.reason} for n in self.translation.skipped_notes()],
        }


async def deliver(sink: EventSink, devices: DeviceBook, translation: Translation, *, tenant: str, source: str,
                  origin: dict[str, Any], role: str | None, raw: bytes, facility: str | None = None,
                  partner_format: str | None = None,
                  submitted: Callable[[], None] | None = None) -> Delivered:  # fmt: skip
    """Bind and submit every mapped event; a message the adapter rejected is dead-lettered whole (``raw``,
    with every reason). ``facility``: the sender is a scanner bound to it, checked at admission as at every
    door. Resolves when each is durably handled (stored, or dead-lettered); ``submitted`` is called once
    every event is in the sink's order, before that."""
    if translation.rejected:
        reason = "; ".join(f"{n.path}: {n.reason}" for n in translation.rejected_notes())[:2000]
        future = await sink.submit(Inbound(raw, source, origin, tenant=tenant, refused=reason, role=role))
        if submitted is not None:
            submitted()
        await future
        return Delivered([], translation)
    futures = []
    partner = None
    if partner_format is not None and translation.mapped:  # kept once, before any event that names it
        partner = (partner_format, await devices.keep_message(tenant, partner_format, raw))
    for m in translation.mapped:
        event, refusal = await devices.bind(tenant, m)
        item = Inbound(orjson.dumps(event), source, {**origin, "device": m.device}, tenant=tenant, refused=refusal,
                       refused_id=event.get("event_id") if refusal else None, role=role,
                       facility=facility, partner=partner)  # fmt: skip
        futures.append(await sink.submit(item))
    if submitted is not None:
        submitted()
    results = await asyncio.gather(*futures)
    return Delivered(list(zip(translation.mapped, results, strict=True)), translation)


class TranslatingSink:
    """An event sink that reads OwnTracks messages from MQTT (``Inbound.format``) before the real sink:
    the transport acknowledges the message once every event made from it is handled.

    A phone sends its buffered fixes as a burst; each message's binding is looked up before its events go
    on, and a lookup may take longer for one message than for the next. So each device's messages go on
    strictly in the order they arrived: a message waits until the one before it from the same device
    has been handed to the sink (other devices are not held up)."""

    def __init__(self, sink: EventSink, devices: DeviceBook) -> None:
        self.sink = sink
        self.devices = devices
        self._running: set[asyncio.Task[None]] = set()
        self._last: dict[tuple[str, str], asyncio.Future[None]] = {}  # per device: the message before

    async def submit(self, item: Inbound) -> "asyncio.Future[ItemResult]":
        if item.format == "refused" and item.device is not None:
            return await self._refused(item, *item.device)
        if item.format != "owntracks" or item.device is None:
            return await self.sink.submit(item)
        user, device = item.device
        translation = owntracks.from_message(item.raw, user, device)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[ItemResult] = loop.create_future()

        key = (user, device)
        before = self._last.get(key)
        handed: asyncio.Future[None] = loop.create_future()  # set once this message's events are submitted
        self._last[key] = handed

        def forget(_: "asyncio.Future[None]") -> None:
            if self._last.get(key) is handed:
                del self._last[key]

        handed.add_done_callback(forget)

        def release() -> None:
            if not handed.done():
                handed.set_result(None)

        async def run() -> None:
            try:
                if before is not None:
                    await asyncio.shield(before)
                # the tenant-wide topic names the tenant; owntracks/sg-{id}/... is the token's own, and
                # holds it to its facility as the other doors do
                sender = (item.tenant, None) if item.tenant else await self.devices.sender_of_user(user)
                if sender is None:  # owntracks/{user}/...: the broker lets only sg-{id} publish as itself
                    refusal = f"topic user {user[:70]!r} is not the MQTT user of a live token (sg-{{id}})"
                    future = await self.sink.submit(Inbound(item.raw, item.source, item.origin, refused=refusal))
                    release()
                    done.set_result(await future)
                    return
                tenant, facility = sender
                delivered = await deliver(self.sink, self.devices, translation, tenant=tenant, source=item.source,
                                          origin=item.origin, role=item.role, raw=item.raw, facility=facility,
                                          partner_format="owntracks", submitted=release)  # fmt: skip
            except Exception as exc:  # not handled: the broker delivers the message again
                done.set_exception(exc)
                return
            finally:
                release()
            statuses = [r.status for _, r in delivered.results]
            if translation.rejected:
                done.set_result(ItemResult("rejected", reason=translation.rejected[0].reason))
            elif statuses and all(s == "duplicate" for s in statuses):
                done.set_result(ItemResult("duplicate"))
            else:  # stored, or nothing to store (an lwt): either way handled
                done.set_result(ItemResult("accepted"))

        task = asyncio.create_task(run())
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return done

    async def _refused(self, item: Inbound, user: str, topic: str) -> "asyncio.Future[ItemResult]":
        """A publish the broker's front door refused: dead-lettered in its sender's tenant, with the reason
        (the sender got an acknowledgement, as MQTT 3.1.1 gives no other; the message is kept all the same)."""
        try:
            sender = await self.devices.sender_of_user(user)
        except Exception:  # the database is away: the letter goes without its tenant rather than not at all
            sender = None
        tenant = sender[0] if sender else None
        reason = (f"MQTT user {user[:70]!r} may not publish on topic {topic[:200]!r} (its token's tenant and"
                  " role allow sealguard/v1/{tenant}/events[/{role}], sealguard/v1/{tenant}/owntracks/+/+ and"
                  " owntracks/{its user}/+)")  # fmt: skip
        return await self.sink.submit(Inbound(item.raw, item.source, item.origin, tenant=tenant, refused=reason))
