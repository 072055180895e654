"""What a rule sees besides the event: its tenant's shared state and policy, the clock, the emitter."""

import heapq

from sealguard.rules.findings import Emitter
from sealguard.rules.policy import TenantPolicy
from sealguard.rules.seal_registry import SealFact
from sealguard.rules.state import Conveyance, TenantState, with_timer, without_timers


class Ctx:
    __slots__ = ("horizon", "now", "out", "policy", "seal_facts", "tenant", "wakeups")

    def __init__(self, tenant: TenantState, policy: TenantPolicy, out: Emitter, now: float,
                 seal_facts: "list[SealFact] | None" = None, horizon: float = float("inf"),
                 wakeups: "list[tuple[float, str]] | None" = None) -> None:  # fmt: skip
        self.tenant = tenant
        self.policy = policy
        self.out = out
        self.now = now
        # Partitioned mode: seal uses are recorded here for the seal stage (rules.seal_registry), which
        # judges SEAL-006 across conveyances; None: this engine judges them itself.
        self.seal_facts = seal_facts
        self.horizon = horizon  # how long the engine remembers what closed or was used
        # The tenant's wake-up heap in the engine, (due, conveyance): a timer earlier than its conveyance's
        # registered wake-up is pushed here as it is set, so the engine need not look at every
        # conveyance's timers after every event. A later or cancelled one leaves the heap as it is: the
        # engine finds the stale entry when it comes due and re-arms from what is left.
        self.wakeups: list[tuple[float, str]] = wakeups if wakeups is not None else []

    def set_timer(self, conv: Conveyance, name: str, due: float) -> None:
        # A deadline already behind the clock fires at the clock: no timer ever fires backwards.
        due = due if due > self.now else self.now
        timers = conv.timers
        try:
            timers[timers.index(name) + 1] = due  # set already (a fix moving its silence timer): in place
        except ValueError:
            conv.timers = with_timer(timers, name, due)
        wake = conv.wake
        if wake is None or due < wake:
            conv.wake = due
            heapq.heappush(self.wakeups, (due, conv.conveyance_id))


def cancel_timers(conv: Conveyance, *names: str) -> None:
    if conv.timers:
        conv.timers = without_timers(conv.timers, names.__contains__)


def cancel_prefixed(conv: Conveyance, prefix: str) -> None:
    if conv.timers:
        conv.timers = without_timers(conv.timers, lambda name: name.startswith(prefix))
