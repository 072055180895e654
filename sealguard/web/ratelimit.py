"""Token buckets per API token: a runaway scanner script cannot starve the pipeline for everyone."""

import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def take(self, key: str, cost: float = 1.0) -> float:
        """0 when allowed (and counted); otherwise the seconds until it would be. A cost above the burst
        is charged as the burst, so the largest allowed batch can always pass from a full bucket."""
        if self.rate <= 0:
            return 0.0
        cost = min(cost, self.burst)
        now = self.clock()
        tokens, when = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - when) * self.rate)
        if tokens >= cost:
            self._buckets[key] = (tokens - cost, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (cost - tokens) / self.rate
