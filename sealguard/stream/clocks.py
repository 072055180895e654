"""Idle advance: a quiet tenant's clock follows the (injected) monotonic clock after a grace period, so
silence timers (tracking gaps, missing heartbeats, late arrivals) still fire. Pure given ``mono``."""

from collections.abc import Iterable, Mapping

from sealguard.rules.engine import Engine
from sealguard.stream.items import Tick


def clock_now(engine: Engine, idle: Mapping[str, tuple[float, float]], tenant: str, mono: float,
              idle_advance_after: float) -> float | None:  # fmt: skip
    """A tenant's clock as the ticker sees it: event time, or after ``idle_advance_after`` seconds of
    that tenant's silence, its last event time plus the silence."""
    clock = engine.clock_of(tenant)
    last = idle.get(tenant)
    if clock is None or last is None:
        return clock
    watermark, applied_mono = last
    silence = mono - applied_mono - idle_advance_after
    return max(clock, watermark + max(0.0, silence))


def due_ticks(engine: Engine, idle: Mapping[str, tuple[float, float]], mono: float, idle_advance_after: float,
              pending: Iterable[str] = ()) -> list[Tick]:  # fmt: skip
    """The tenants (not already ``pending``) whose idle-advanced clock has passed one of their timers."""
    skip = set(pending)
    ticks = []
    for tenant in sorted(engine.clocks):
        if tenant in skip:
            continue
        now, due = clock_now(engine, idle, tenant, mono, idle_advance_after), engine.next_deadline(tenant)
        if now is not None and due is not None and due <= now:
            ticks.append(Tick(now, tenant))
    return ticks
