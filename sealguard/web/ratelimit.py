"""Token buckets per API token: a runaway scanner script cannot starve the pipeline for everyone."""

import time
from collections.abc import Callable


class RateLimiter:
    MAX_KEYS = 100_000  # past this, buckets that have refilled are forgotten (keys may be client addresses)

    def __init__(self, rate_per_s: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def waiting(self, key: str) -> float:
        """Seconds until ``key`` may take one again, without taking it (0: it may now)."""
        if self.rate <= 0 or key not in self._buckets:
            return 0.0
        tokens, when = self._buckets[key]
        tokens = min(self.burst, tokens + (self.clock() - when) * self.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def take(self, key: str, cost: float = 1.0) -> float:
        """0 when allowed (and counted); otherwise the seconds until it would be. A cost above the burst
        is charged as the burst, so the largest allowed batch can always pass from a full bucket."""
        if self.rate <= 0:
            return 0.0
        cost = min(cost, self.burst)
        now = self.clock()
        if len(self._buckets) >= self.MAX_KEYS and key not in self._buckets:
            full_after = self.burst / self.rate
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
            if len(self._buckets) >= self.MAX_KEYS:  # a flood of fresh keys: memory first, start over
                self._buckets.clear()
        tokens, when = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - when) * self.rate)
        if tokens >= cost:
            self._buckets[key] = (tokens - cost, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (cost - tokens) / self.rate
