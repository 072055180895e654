"""The split roles' decisions without their transports: what a gateway decides at the edge, what each
partition's worker decides, and what the seal stage decides. Pure.

The worker role (``sealguard.roles.worker``) runs these pieces over Kafka and PostgreSQL; ``replay_partitioned``
runs them over a file, in one process, so that what partitioning changes can be seen and tested without
any server (``sealguard replay --partitions N``):

- the edge: reference data (``seal.issued``, ``facility.registered``) goes to the shared broadcast table
  (read as of each event's time), never to a partition; a ``trip.planned`` whose trip id belongs to
  another conveyance, or is closed, is refused (``rules.trip_ids``);
- each event goes to the partition of its key ``{tenant}:{conveyance_id}`` (Kafka's default partitioner),
  where one engine and one alert book handle it with that partition's own clocks;
- the seal facts the partitions record go to the seal stage, which judges SEAL-006 by event time.

docs/partitioning.md says what each cross-conveyance rule guarantees, and where the answer can differ
from a single engine's.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiokafka.partitioner import murmur2

from sealguard.alerts.book import AlertBook, AlertRecord
from sealguard.ingest.kafka import record_key
from sealguard.rules.engine import DEFAULT_HORIZON, Engine
from sealguard.rules.findings import Finding
from sealguard.rules.policy import Policy
from sealguard.rules.reference import SharedReference
from sealguard.rules.seal_registry import SealFact, reuse_findings, reuse_verdicts
from sealguard.rules.state import normalize_seal
from sealguard.rules.trip_ids import TripOwner, plan_problem
from sealguard.schemas.decode import InvalidEvent, decode_event
from sealguard.schemas.events import Event, FacilityRegistered, SealIssued, TripClosed, TripPlanned
from sealguard.schemas.instants import epoch_seconds
from sealguard.stream.operator import Operator

REFERENCE_KINDS = ("seal.issued", "facility.registered")


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (Java's and aiokafka's) gives ``key``."""
    if partitions == 1:
        return 0
    return (int(murmur2(key)) & 0x7FFFFFFF) % partitions


def apply_reference(shared: SharedReference, event: Event) -> None:
    """A ``seal.issued`` or ``facility.registered`` into the broadcast table, as of its event time."""
    ref = shared.for_tenant(event.tenant)
    t = epoch_seconds(event.occurred_at)
    if isinstance(event, SealIssued):
        ref.issue(normalize_seal(event.seal_number), event.facility_id, t)
    elif isinstance(event, FacilityRegistered):
        ref.register(event.place, t)


@dataclass(slots=True)
class SealStage:
    """SEAL-006 across conveyances, in memory: every fact of each seal, and which affixes were judged
    reuses already (a verdict is raised once)."""

    policy: Policy
    horizon: float = DEFAULT_HORIZON
    facts: dict[tuple[str, str], list[SealFact]] = field(default_factory=dict)
    raised: set[tuple[str, str]] = field(default_factory=set)  # (tenant, affix event id)

    def add(self, facts: Iterable[SealFact]) -> list[Finding]:
        touched = []
        for f in facts:
            key = (f.tenant, f.seal)
            self.facts.setdefault(key, []).append(f)
            touched.append(key)
        new = []
        for key in dict.fromkeys(touched):
            for fact, reason in reuse_verdicts(self.facts[key], self.horizon):
                if (fact.tenant, fact.event_id) not in self.raised:
                    self.raised.add((fact.tenant, fact.event_id))
                    new.append((fact, reason))
        return reuse_findings(self.policy, new)


@dataclass(slots=True)
class TripEdge:
    """Trip ids at the edge, in memory (a gateway keeps them in the database)."""

    owners: dict[tuple[str, str], TripOwner] = field(default_factory=dict)

    def refuse(self, event: Event) -> str | None:
        if not isinstance(event, TripPlanned):
            return None
        return plan_problem(event.trip_id, event.conveyance_id or "", self.owners.get((event.tenant, event.trip_id)))

    def record(self, event: Event) -> None:
        """After ``event`` was accepted: a plan takes its trip id, a close marks it closed."""
        key = (event.tenant, getattr(event, "trip_id", None) or "")
        if isinstance(event, TripPlanned):
            self.owners.setdefault(key, TripOwner(event.conveyance_id or "", False))
        elif isinstance(event, TripClosed):
            owner = self.owners.get(key)
            if owner is not None and owner.conveyance_id == event.conveyance_id and not owner.closed:
                self.owners[key] = TripOwner(owner.conveyance_id, True)


@dataclass(slots=True)
class PartitionedReport:
    lines: int = 0
    applied: int = 0
    duplicates: int = 0
    invalid: int = 0
    alerts: list[AlertRecord] = field(default_factory=list)

    def in_order(self) -> list[AlertRecord]:
        return sorted(self.alerts, key=lambda a: (a.occurred_at, a.conveyance_id or "", a.rule_id, a.alert_id))


def replay_partitioned(
    lines: Iterable[bytes],
    policy: Policy,
    partitions: int,
    *,
    until: float | None = None,
    on_invalid: Callable[[int, bytes, str], None] | None = None,
) -> PartitionedReport:
    """``sealguard replay`` as the split roles would decide it (see the module docstring)."""
    shared = SharedReference()
    parts = [Operator(Engine(policy, remember_ids=False, shared=shared), AlertBook())
             for _ in range(partitions)]  # fmt: skip
    stage, stage_book, edge = SealStage(policy, policy.horizon), AlertBook(), TripEdge()
    seen: set[tuple[str, str]] = set()
    positions = [0] * partitions
    latest: float | None = None
    report = PartitionedReport()

    def refuse(number: int, raw: bytes, reason: str) -> None:
        report.invalid += 1
        if on_invalid is not None:
            on_invalid(number, raw, reason)

    for number, raw in enumerate(lines, start=1):
        report.lines = number
        if not raw.strip():
            continue
        try:
            event = decode_event(raw)
        except InvalidEvent as exc:
            refuse(number, raw, exc.reason)
            continue
        if (event.tenant, event.event_id) in seen:
            report.duplicates += 1
            continue
        if (reason := edge.refuse(event)) is not None:
            refuse(number, raw, reason)
            continue
        t = epoch_seconds(event.occurred_at)
        if event.kind in REFERENCE_KINDS:
            apply_reference(shared, event)
        else:
            p = partition_for(record_key(event.tenant, getattr(event, "conveyance_id", None)), partitions)
            outcome, _, facts = parts[p].process(event, positions[p])
            positions[p] += 1
            if outcome.status != "applied":
                refuse(number, raw, outcome.reason or outcome.status)
                continue
            for finding in stage.add(facts):
                stage_book.apply(finding)
        edge.record(event)
        seen.add((event.tenant, event.event_id))
        report.applied += 1
        latest = t if latest is None else max(latest, t)
    end = until if until is not None else latest
    if end is not None:
        for part in parts:
            part.advance(end)
    report.alerts = [a for part in parts for a in part.book.alerts] + stage_book.alerts
    return report
