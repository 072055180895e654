"""Answers from the database kept for about a second: who holds a token or a session, which conveyance a
device is bound to. The hot path then does not query per request or message, and a change (a revoked
token, a new binding) is seen within the second. Bounded: past ``bound`` keys it starts over, since a
flood of keys (guessed tokens, made-up devices) must not grow memory."""

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ShortCache(Generic[K, V]):
    def __init__(self, ttl_s: float = 1.0, bound: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.bound = bound
        self.clock = clock
        self._entries: dict[K, tuple[float, V]] = {}

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The answer for ``key``: kept, or loaded now (and kept for ``ttl_s``)."""
        hit = self._entries.get(key)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        value = await load()
        if len(self._entries) >= self.bound:
            self._entries.clear()
        self._entries[key] = (self.clock() + self.ttl_s, value)
        return value

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)
