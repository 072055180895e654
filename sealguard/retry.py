"""Capped exponential backoff with full jitter, so many monitors reconnecting do not stampede."""

import random
from dataclasses import dataclass, field


def jittered(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before try ``attempt + 1``: between half and all of ``base * 2**attempt``, at most
    ``cap``."""
    ceiling = min(cap, base * (2**attempt))
    return rng.uniform(ceiling / 2, ceiling)


@dataclass(slots=True)
class Backoff:
    base: float = 0.5
    cap: float = 30.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next(self) -> float:
        wait = jittered(self.attempt, self.base, self.cap, self.rng)
        self.attempt += 1
        return wait

    def reset(self) -> None:
        self.attempt = 0
