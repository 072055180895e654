"""What the worker decided about an event, for a sender in the same process that waits to hear it.

A gateway answers once an event is in the log; in ``sealguard up`` the worker runs in the same process,
so an HTTP sender (a dock scanning a seal, a partner system) can hear the verdict itself: stored with the
alerts it raised, a duplicate, or refused and why. The gateway registers its wish before it appends (so
no verdict can come first) and the worker settles it after its commit. A sender that gives up (its HTTP
request timed out) leaves nothing behind."""

import asyncio

from sealguard.ingest.inbound import ItemResult
from sealguard.schemas.events import Event

Key = tuple[str, str]  # (tenant, event_id)


class Verdicts:
    def __init__(self) -> None:
        self._waiting: dict[Key, list[asyncio.Future[ItemResult]]] = {}

    def expect(self, key: Key) -> "asyncio.Future[ItemResult]":
        future: asyncio.Future[ItemResult] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        future.add_done_callback(lambda f: self._forget(key, f))
        return future

    def wants(self, key: Key) -> bool:
        return key in self._waiting

    def settle(self, key: Key, result: ItemResult) -> None:
        for future in self._waiting.pop(key, ()):
            if not future.done():
                future.set_result(result)

    def _forget(self, key: Key, future: "asyncio.Future[ItemResult]") -> None:
        waiting = self._waiting.get(key)
        if waiting is not None and future in waiting:
            waiting.remove(future)
            if not waiting:
                del self._waiting[key]


class Decoded:
    """Events the gateway decoded, for the worker in the same process, by their stored bytes: an event is
    decoded once, at the edge. What the worker does not find here (a restart, a record read again) it
    decodes from the log's bytes, which give the same event. Bounded: the oldest are dropped first."""

    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit
        self._by_payload: dict[bytes, Event] = {}

    def keep(self, payload: bytes, event: Event) -> None:
        if len(self._by_payload) >= self.limit:
            del self._by_payload[next(iter(self._by_payload))]
        self._by_payload[payload] = event

    def take(self, payload: bytes) -> Event | None:
        return self._by_payload.pop(payload, None)
