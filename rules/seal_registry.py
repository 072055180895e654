"""SEAL-006 (a seal number reused) across conveyances, as a stage keyed by seal number.

A single engine keeps one registry per tenant and judges each ``seal.affixed`` against the seal's last
use in input order (``rules.seals``). A partitioned worker cannot: the earlier use may sit on another
conveyance, in another partition, handled by another worker, and processed after. So in partitioned
mode the engine only records *seal facts* (an affix or a removal, with its conveyance, resolved trip and
event time) and this stage judges them: the facts of one seal, ordered by ``SealFact.order``, replayed
through the same registry logic as the single engine. A fact that arrives late (its event time before
facts already judged) re-judges the affixes after it, so the verdicts depend on event time, not on
which worker was faster. Verdicts are only ever added, never withdrawn (docs/partitioning.md).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sealguard.rules.findings import Emitter, Finding
from sealguard.rules.policy import Policy


@dataclass(frozen=True, slots=True)
class SealFact:
    tenant: str
    seal: str  # normalized (rules.state.normalize_seal)
    seal_number: str  # as written on the event, for the message
    kind: Literal["affixed", "removed"]
    conveyance_id: str
    trip_id: str | None  # the affix's trip as the conveyance's engine resolved it
    at: float  # event time
    event_id: str
    position: int = 0  # order within the conveyance's partition (Kafka offset): ties within a second

    @property
    def order(self) -> tuple[float, str, int, str]:
        """Event time; within one second, by conveyance and then the partition's own order."""
        return (self.at, self.conveyance_id, self.position, self.event_id)


def reuse_verdicts(facts: Iterable[SealFact], horizon: float = float("inf")) -> list[tuple[SealFact, str]]:
    """Each affix that reuses the seal, with the reason, judged in ``order``: the registry logic of the
    single engine (already affixed to another conveyance; removed; used on an earlier trip), which
    forgets a use older than ``horizon`` as the engine does."""
    verdicts = []
    last: tuple[str, str | None, bool, float] | None = None  # (conveyance, trip, removed, when)
    for f in sorted(facts, key=lambda f: f.order):
        if f.kind == "removed":
            last = (last[0], last[1], True, f.at) if last else (f.conveyance_id, None, True, f.at)
            continue
        if last is not None and last[3] >= f.at - horizon:
            other_conv, other_trip, removed, _ = last
            if other_conv != f.conveyance_id:
                verdicts.append((f, f"is already affixed to {other_conv}"))
            elif removed:
                verdicts.append((f, "was already removed; a used seal cannot be affixed again"))
            elif other_trip is not None and other_trip != f.trip_id:
                verdicts.append((f, f"was already used on trip {other_trip}"))
        last = (f.conveyance_id, f.trip_id, False, f.at)
    return verdicts


def reuse_findings(policy: Policy, verdicts: Sequence[tuple[SealFact, str]]) -> list[Finding]:
    """The SEAL-006 raises of ``verdicts``, as the single engine words them."""
    findings: list[Finding] = []
    for f, reason in verdicts:
        out = Emitter(f.tenant, policy.for_tenant(f.tenant), findings)
        out.raise_("SEAL-006", f.conveyance_id, f.trip_id, f.at,
                   f"Seal {f.seal_number} affixed to {f.conveyance_id} {reason}.", (f.event_id,),
                   seal=f.seal)  # fmt: skip
    return findings
