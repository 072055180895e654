"""What a rule sees besides the event: its tenant's shared state and policy, the clock, the emitter."""

from sealguard.rules.findings import Emitter
from sealguard.rules.policy import TenantPolicy
from sealguard.rules.seal_registry import SealFact
from sealguard.rules.state import Conveyance, TenantState


class Ctx:
    __slots__ = ("horizon", "now", "out", "policy", "seal_facts", "tenant")

    def __init__(self, tenant: TenantState, policy: TenantPolicy, out: Emitter, now: float,
                 seal_facts: "list[SealFact] | None" = None, horizon: float = float("inf")) -> None:  # fmt: skip
        self.tenant = tenant
        self.policy = policy
        self.out = out
        self.now = now
        # Partitioned mode: seal uses are recorded here for the seal stage (rules.seal_registry), which
        # judges SEAL-006 across conveyances; None: this engine judges them itself.
        self.seal_facts = seal_facts
        self.horizon = horizon  # how long the engine remembers what closed or was used

    def set_timer(self, conv: Conveyance, name: str, due: float) -> None:
        # A deadline already behind the clock fires at the clock: no timer ever fires backwards.
        conv.timers[name] = due if due > self.now else self.now


def cancel_timers(conv: Conveyance, *names: str) -> None:
    for name in names:
        conv.timers.pop(name, None)


def cancel_prefixed(conv: Conveyance, prefix: str) -> None:
    for name in [n for n in conv.timers if n.startswith(prefix)]:
        del conv.timers[name]
