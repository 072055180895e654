"""The rule engine: keyed state, event-time clock, timers. Pure: no I/O, no clock reads.

``process(event)`` applies one validated event and returns an :class:`Outcome`; ``advance(until)``
moves clocks and fires every timer due at or before ``until``. Each tenant has its own clock (the
largest ``occurred_at`` among its events applied) and its own timers, so one tenant's events never
fire, delay or re-stamp another's (contract.md, "one clock per tenant"). Timers fire in (due time,
tenant, conveyance, timer name) order, which depends only on state, so a restored engine fires them
exactly as the original would have. ``snapshot()`` returns plain data; ``Engine.restore`` rebuilds
from it.

A GPS fix older than its tenant's clock by more than the tenant's tracking-gap window (TRK-003
``window``) is *backfill*: a device uploading what it buffered while out of coverage. It is stored and
kept on the track, but the tracking rules do not judge it: judged now, an hour-old stop or arrival would
fire its timers at once (no timer fires backwards) and be resolved by the next buffered fix, a storm of
alerts stamped with the wrong time. Tracking resumes with the first timely fix; the gap alert raised
during the silence stands until then. Seal, inspection and reference events are judged whatever their
age: a tamper alarm from yesterday is still evidence.
"""

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from sealguard.rules import inspections, seals, tracking
from sealguard.rules.context import Ctx
from sealguard.rules.findings import Emitter, Finding
from sealguard.rules.policy import DEFAULT_HORIZON as POLICY_HORIZON
from sealguard.rules.policy import Policy
from sealguard.rules.reference import SharedReference
from sealguard.rules.seal_registry import SealFact
from sealguard.rules.state import (
    Conveyance,
    TenantState,
    Trip,
    TripPlan,
    earliest_due,
    timer_due,
    timer_items,
    without_timers,
)
from sealguard.rules.trip_ids import TripOwner, plan_problem
from sealguard.schemas.decode import decode_object
from sealguard.schemas.events import (
    Event,
    FacilityRegistered,
    GpsPosition,
    InspectionCompleted,
    SealAffixed,
    SealAlarm,
    SealHeartbeat,
    SealIssued,
    SealRemoved,
    SealVerified,
    TripClosed,
    TripPlanned,
)
from sealguard.schemas.instants import epoch_seconds

SNAPSHOT_VERSION = 2
DAY = 86_400.0
#: How long the engine remembers what closed or was used (closed trip ids, a seal's last use, event ids
#: seen, a conveyance with nothing open), unless the policy says otherwise: the event store's retention.
DEFAULT_HORIZON = POLICY_HORIZON
Status = Literal["applied", "duplicate", "rejected"]
_REFERENCE = (SealIssued, FacilityRegistered)
_HEAP_MIN = 1024  # a tenant's wake-up heap is never compacted below this length


@dataclass(frozen=True, slots=True)
class StateChanges:
    """What an incremental checkpoint writes (``Engine.changes``)."""

    meta: dict[str, Any]
    tenants: dict[str, Any]
    conveyances: dict[tuple[str, str], dict[str, Any]]  # trips name their plan by event id
    gone: list[tuple[str, str]]
    plans: dict[tuple[str, str], dict[str, Any]]  # (tenant, plan event id) -> the planning event
    plans_gone: list[tuple[str, str]]

    def keys_only(self) -> "StateChanges":
        """The same changes without their rows: what ``forget_changes`` needs once they are durable."""
        none: dict[str, Any] = {}
        return StateChanges({}, {k: none for k in self.tenants}, {k: none for k in self.conveyances}, self.gone,
                            {k: none for k in self.plans}, self.plans_gone)  # fmt: skip


@dataclass(slots=True)
class Outcome:
    status: Status
    findings: list[Finding] = field(default_factory=list)
    reason: str | None = None


#: The outcome of an applied event that found nothing: one shared value (its readers never change it).
_APPLIED = Outcome("applied", [])


class Engine:
    """One engine holds every tenant; state is keyed by tenant and by (tenant, conveyance)."""

    def __init__(self, policy: Policy | None = None, *, remember_ids: bool = True,
                 shared: SharedReference | None = None, horizon: float | None = None) -> None:  # fmt: skip
        """``shared``: partitioned mode (one engine per Kafka partition, docs/partitioning.md). Reference
        data is then the worker's broadcast table, read as of each event's time, and reference events
        are refused here; seal uses go to ``seal_facts`` for the seal stage instead of being judged."""
        self.policy = policy or Policy()
        self.shared = shared
        # State older than the horizon is forgotten, a tenant at a time, when its clock enters a new day
        # (the cut-off is that day's start minus the horizon, so when it runs does not change what goes).
        self.horizon = horizon if horizon is not None else self.policy.horizon
        self._pruned_day: dict[str, int] = {}
        self._prune_at: dict[str, float] = {}  # tenant -> the start of the day after its last pruning
        # (tenant, cut-off) of each pruning since ``take_pruned`` was last called: alert books forget too.
        self._pruned: list[tuple[str, float]] = []
        # What changed since the last incremental checkpoint (``changes``), so a checkpoint writes only that.
        # A dict, not a set, for the conveyances: a set grows its table fourfold, to over 100 bytes a
        # conveyance when every one is dirty (a partition's first checkpoint); a dict's entry is about 33.
        self._dirty_conveyances: dict[tuple[str, str], None] = {}
        self._dirty_tenants: set[str] = set()
        self._gone: set[tuple[str, str]] = set()
        # Plans are written once, in their own rows: a 200-point route is ~5 KB of JSON, and a moving
        # conveyance's row is rewritten at every checkpoint. Tenant -> plan event id -> plan: no key tuple
        # (56 bytes) per plan.
        self._plans_new: dict[str, dict[str, TripPlan]] = {}
        self._plans_gone: set[tuple[str, str]] = set()
        #: Partitioned mode: the seal uses recorded since the caller last drained the list.
        self.seal_facts: list[SealFact] | None = [] if shared is not None else None
        self.clocks: dict[str, float] = {}  # tenant -> its event time
        # Dedupe by (tenant, event_id). The live pipeline dedupes in storage and may turn this off.
        self.remember_ids = remember_ids
        self.seen: dict[tuple[str, str], float] = {}  # (tenant, event id) -> its event time
        self.tenants: dict[str, TenantState] = {}
        self.conveyances: dict[tuple[str, str], Conveyance] = {}
        self._heaps: dict[str, list[tuple[float, str]]] = {}  # tenant -> (due, conveyance) wake-ups
        # tenant -> the heap length at which its stale entries are dropped (``_compact_heap``)
        self._heap_limits: dict[str, int] = {}
        self._contexts: dict[str, Ctx] = {}  # one per tenant, re-aimed at each step's findings
        self._windows: dict[str, float] = {}  # tenant -> its TRK-003 window (the backfill bound)
        #: Timers whose rule raised: (tenant, conveyance, timer, due, error). The timer is dropped so that
        #: one broken rule cannot hold its tenant's clock (or every later event) back; the runtime reports
        #: and clears this list.
        self.timer_failures: list[tuple[str, str, str, float, str]] = []
        #: The time (epoch s) of the event last given to ``process``: a caller reads it instead of taking
        #: ``epoch_seconds(occurred_at)`` again (0.4 us).
        self.event_time = -math.inf
        self._findings: list[Finding] = []  # the next event's findings (``process``)

    # --- the two pure entry points ------------------------------------------------------------------

    def process(self, event: Event) -> Outcome:
        tenant_id = event.tenant
        self.event_time = t = epoch_seconds(event.occurred_at)
        if self.remember_ids:
            seen_key = (tenant_id, event.event_id)
            seen_at = self.seen.get(seen_key)
            if seen_at is not None and seen_at >= t - self.horizon:
                return Outcome("duplicate", reason=f"event_id {event.event_id} already seen")
        tenant = self.tenants.get(tenant_id) or self._tenant(tenant_id)
        if self.shared is not None and isinstance(event, _REFERENCE):
            return Outcome("rejected", reason=f"{event.kind}: reference data reaches a partitioned worker from the"
                                              " database (a gateway stores it), not from a partition")  # fmt: skip
        if type(event) is TripPlanned:
            reason = self._plan_problem(tenant, event)
            if reason is not None:
                return Outcome("rejected", reason=reason)
        # Rules append to ``findings``; most events find nothing, and then share one answer (it is never
        # changed by its readers) and keep the list for the next event. A list left non-empty (a rule
        # raised midway through the event before) is never handed on.
        findings = self._findings
        if findings:
            findings = self._findings = []
        clock = self.clocks.get(tenant_id)
        if clock is None or t > clock:
            heap = self._heaps.get(tenant_id)
            if heap:
                if heap[0][0] <= t:  # the heap's least entry is due (it may be stale: _fire_due sees)
                    self._fire_due(tenant_id, t, findings)
                if len(heap) > self._heap_limits.get(tenant_id, _HEAP_MIN):
                    self._compact_heap(tenant_id)
            self.clocks[tenant_id] = clock = t
            if t >= self._prune_at.get(tenant_id, -math.inf):  # never pruned: always
                self._prune(tenant_id, clock)
        ctx = self._contexts.get(tenant_id)
        if ctx is None:
            ctx = self._context(tenant_id, findings, clock)
        else:
            ctx.out.findings = findings
            ctx.now = clock
        self._dispatch(ctx, tenant, event, t)
        if self.remember_ids:
            self.seen[seen_key] = t
        if not findings:
            return _APPLIED
        self._findings = []
        return Outcome("applied", findings)

    def advance(self, until: float, tenant: str | None = None) -> list[Finding]:
        """Move a tenant's clock (``None``: every known tenant's) to ``until``, never backwards, firing
        every timer due at or before it. A tenant whose clock is already past ``until`` is unchanged."""
        findings: list[Finding] = []
        tenants = sorted(self.clocks) if tenant is None else [tenant] if tenant in self.clocks else []
        moving = [tid for tid in tenants if until > self.clocks[tid]]
        # Across tenants, timers fire in (due, tenant) order, as if all shared one timeline.
        while True:
            heads = [(due, tid) for tid in moving if (due := self.next_deadline(tid)) is not None and due <= until]
            if not heads:
                break
            _, tid = min(heads)
            self._fire_next(tid, findings)
        for tid in moving:
            self.clocks[tid] = until
            self._prune(tid, until)
        return findings

    def _prune(self, tenant_id: str, clock: float) -> None:
        """Forget what lies beyond the horizon, once per tenant and day of its clock."""
        day = int(clock // DAY)
        if self._pruned_day.get(tenant_id, day - 1) >= day:
            self._prune_at[tenant_id] = (self._pruned_day[tenant_id] + 1) * DAY
            return
        self._pruned_day[tenant_id] = day
        self._prune_at[tenant_id] = (day + 1) * DAY
        cutoff = day * DAY - self.horizon
        tenant = self.tenants.get(tenant_id)
        if tenant is not None:
            tenant.closed_trips = {k: v for k, v in tenant.closed_trips.items() if v >= cutoff}
            tenant.registry = {k: v for k, v in tenant.registry.items() if v[3] >= cutoff}
            tenant.reference.forget_before(cutoff)
        if self.seen:
            self.seen = {k: v for k, v in self.seen.items() if k[0] != tenant_id or v >= cutoff}
        gone = [key for key, conv in self.conveyances.items() if key[0] == tenant_id and conv.forgettable(cutoff)]
        for key in gone:
            for trip in self.conveyances.pop(key).trips:
                self._plan_dropped(tenant_id, trip.plan)
            self._dirty_conveyances.pop(key, None)
            self._gone.add(key)
        self._dirty_tenants.add(tenant_id)
        self._pruned.append((tenant_id, cutoff))

    def take_pruned(self) -> list[tuple[str, float]]:
        """(tenant, cut-off) of each pruning since the last call: the owner's alert book forgets the open
        alerts raised before it, in the same step, so a restored engine and book stay in step."""
        out, self._pruned = self._pruned, []
        return out

    @property
    def pruned_pending(self) -> bool:
        """Whether ``take_pruned`` has anything to give."""
        return bool(self._pruned)

    def take_seal_facts(self) -> list[SealFact]:
        """Partitioned mode: the seal uses recorded since the last call (the list is emptied in place:
        every tenant's rule context holds it)."""
        if not self.seal_facts:
            return []
        out = list(self.seal_facts)
        self.seal_facts.clear()
        return out

    @property
    def clock(self) -> float | None:
        """The latest of the tenants' clocks (for reports; rules use their own tenant's)."""
        return max(self.clocks.values(), default=None)

    def clock_of(self, tenant: str) -> float | None:
        return self.clocks.get(tenant)

    def next_deadline(self, tenant: str | None = None) -> float | None:
        """The earliest registered timer of a tenant (``None``: of any tenant), so a live runtime knows
        when to call ``advance``."""
        if tenant is None:
            return min((d for tid in list(self._heaps) if (d := self.next_deadline(tid)) is not None), default=None)
        heap = self._heaps.get(tenant)
        while heap:
            due, cid = heap[0]
            conv = self.conveyances.get((tenant, cid))
            if conv is not None and conv.wake == due:
                return due
            heapq.heappop(heap)
        return None

    def _behind(self, tenant_id: str, t: float) -> bool:
        """A fix at ``t`` is backfill: too far behind its tenant's clock to be judged (module docstring)."""
        clock = self.clocks.get(tenant_id)
        if clock is None:
            return False
        window = self._windows.get(tenant_id)
        if window is None:  # the policy is fixed for the engine's life: read once per tenant
            window = self._windows[tenant_id] = self.policy.for_tenant(tenant_id).values["TRK-003.window"]
        return t < clock - window

    # --- dispatch -----------------------------------------------------------------------------------

    def _dispatch(self, ctx: Ctx, tenant: TenantState, event: Event, t: float) -> None:
        self._dirty_tenants.add(event.tenant)
        # The event classes have no subclasses (``schemas.events``, final): exact type tests, cheaper than
        # isinstance.
        if type(event) is SealIssued:
            seals.on_issued(tenant, event, t)
            return
        if type(event) is FacilityRegistered:
            tenant.reference.register(event.place, t)
            return
        cid = event.conveyance_id
        assert cid is not None  # the schema requires it on every other kind
        conv = self.conveyances.get((event.tenant, cid)) or self._conveyance(event.tenant, cid)
        if t > conv.active_at:  # noqa: PLR1730 (max() is a call, on every event)
            conv.active_at = t
        self._dirty_conveyances[conv.key] = None  # its own key tuple: no new tuple and strings per event
        if type(event) is GpsPosition:
            # An older fix than the latest, or backfill, is kept on the track but not judged.
            fix_at = conv.fix_at
            if (fix_at is None or t >= fix_at) and not self._behind(event.tenant, t):
                tracking.on_fix(ctx, conv, event, t)
        elif isinstance(event, TripPlanned):
            self._on_planned(ctx, tenant, conv, event)
        elif isinstance(event, TripClosed):
            self._on_closed(ctx, tenant, conv, event, t)
        else:
            trip = conv.current_trip(event.trip_id)
            if isinstance(event, SealAffixed):
                seals.on_affixed(ctx, conv, trip, event, t)
            elif isinstance(event, SealVerified):
                seals.on_verified(ctx, conv, trip, event, t)
            elif isinstance(event, SealRemoved):
                seals.on_removed(ctx, conv, trip, event, t)
            elif isinstance(event, SealAlarm):
                seals.on_alarm(ctx, conv, trip, event, t)
            elif isinstance(event, SealHeartbeat):
                seals.on_heartbeat(ctx, conv, trip, event, t)
            elif isinstance(event, InspectionCompleted):
                inspections.on_inspection(ctx, conv, trip, event, t)
        # No re-arming here: ``Ctx.set_timer`` pushed any timer earlier than the conveyance's wake-up.

    def _plan_problem(self, tenant: TenantState, event: TripPlanned) -> str | None:
        # A closed trip id is remembered for the horizon (past it, its entry may already be forgotten).
        closed_at = tenant.closed_trips.get(event.trip_id)
        closed = closed_at is not None and closed_at >= epoch_seconds(event.occurred_at) - self.horizon
        owner = tenant.open_trips.get(event.trip_id)
        known = TripOwner(owner or "", closed) if closed or owner is not None else None
        return plan_problem(event.trip_id, event.conveyance_id or "", known)

    def _on_planned(self, ctx: Ctx, tenant: TenantState, conv: Conveyance, event: TripPlanned) -> None:
        plan = TripPlan(event, conv.key)
        trip = conv.current_trip(event.trip_id)
        if trip is None:
            trip = Trip(plan)
            conv.trips = (*conv.trips, trip)
            tenant.open_trips[plan.trip_id] = conv.conveyance_id
        else:
            self._plan_dropped(conv.tenant, trip.plan)
            trip.plan = plan  # a re-route: the plan changes, the trip's state does not
        self._plans_new.setdefault(conv.tenant, {})[plan.event_id] = plan
        tracking.on_trip_planned(ctx, conv, trip)

    def _on_closed(self, ctx: Ctx, tenant: TenantState, conv: Conveyance, event: TripClosed, t: float) -> None:
        trip = conv.current_trip(event.trip_id)
        if trip is None:
            return  # closing an unknown or closed trip changes nothing
        seals.on_trip_closed(ctx, conv, trip, t, event.event_id)
        tracking.on_trip_closed(ctx, conv, trip, t)
        conv.trips = tuple(other for other in conv.trips if other is not trip)
        self._plan_dropped(conv.tenant, trip.plan)
        tenant.open_trips.pop(trip.trip_id, None)
        tenant.closed_trips[trip.trip_id] = t

    # --- timers -------------------------------------------------------------------------------------

    def _schedule(self, conv: Conveyance) -> None:
        if not conv.timers:
            return
        due = earliest_due(conv.timers)
        # A later deadline needs no new heap entry: the earlier one pops, finds nothing due, re-arms.
        if conv.wake is None or due < conv.wake:
            conv.wake = due
            heapq.heappush(self._heaps.setdefault(conv.tenant, []), (due, conv.conveyance_id))

    def _compact_heap(self, tenant_id: str) -> None:
        """Drop the stale entries of a tenant's wake-up heap. A timer set earlier than its conveyance's
        wake-up (a trip's silence timer after its late-arrival one) pushes a new entry and leaves the old
        one until it comes due: about one per conveyance on a trip, 65 bytes each (a thirtieth of its
        state). Done when the heap has grown by a quarter since the last time, so it costs a few
        entries' look-ups per push. Which timers fire, and in what order, does not change: a stale entry
        fires nothing, and a heap pops the same (due, conveyance) order however it is arranged."""
        heap = self._heaps[tenant_id]
        convs = self.conveyances
        heap[:] = [e for e in heap if (c := convs.get((tenant_id, e[1]))) is not None and c.wake == e[0]]
        heapq.heapify(heap)  # in place: the tenant's rule context holds this list
        self._heap_limits[tenant_id] = max(_HEAP_MIN, len(heap) + (len(heap) >> 2))

    def _fire_due(self, tenant_id: str, until: float, findings: list[Finding]) -> None:
        while (due := self.next_deadline(tenant_id)) is not None and due <= until:
            self._fire_next(tenant_id, findings)

    def _fire_next(self, tenant_id: str, findings: list[Finding]) -> None:
        """Fire the timers of the conveyance at the head of a tenant's heap (``next_deadline`` has just
        confirmed that the head is current)."""
        due, cid = heapq.heappop(self._heaps[tenant_id])
        conv = self.conveyances[(tenant_id, cid)]
        conv.wake = None
        self._dirty_conveyances[conv.key] = None
        ctx = self._context(tenant_id, findings, due)
        for name in [n for n, d in timer_items(conv.timers) if d <= due]:  # in name order
            current = timer_due(conv.timers, name)
            if current is None or current > due:
                continue  # cancelled or moved by a timer that fired before it
            conv.timers = without_timers(conv.timers, name.__eq__)
            try:
                if name.startswith("TRK-"):
                    tracking.fire(ctx, conv, name, due)
                else:
                    seals.fire(ctx, conv, name, due)
            except Exception as exc:
                self.timer_failures.append((tenant_id, cid, name, due, f"{type(exc).__name__}: {exc}"))
        self._schedule(conv)

    # --- state --------------------------------------------------------------------------------------

    def _tenant(self, tenant_id: str) -> TenantState:
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            ref = self.shared.for_tenant(tenant_id) if self.shared is not None else None
            tenant = self.tenants[tenant_id] = TenantState(ref)
        return tenant

    def _context(self, tenant_id: str, findings: list[Finding], now: float) -> Ctx:
        ctx = self._contexts.get(tenant_id)
        if ctx is None:
            policy = self.policy.for_tenant(tenant_id)
            ctx = Ctx(self._tenant(tenant_id), policy, Emitter(tenant_id, policy, findings), now, self.seal_facts,
                      self.horizon, self._heaps.setdefault(tenant_id, []))  # fmt: skip
            self._contexts[tenant_id] = ctx
        ctx.out.findings = findings
        ctx.now = now
        return ctx

    def _conveyance(self, tenant_id: str, conveyance_id: str) -> Conveyance:
        conv = self.conveyances.get((tenant_id, conveyance_id))
        if conv is None:
            conv = Conveyance(tenant_id, conveyance_id)
            self.conveyances[conv.key] = conv
        return conv

    # --- incremental checkpoints ----------------------------------------------------------------------

    def changes(self) -> "StateChanges":
        """What changed since the last ``forget_changes``: the plain data of each changed conveyance and
        tenant, the conveyances forgotten, and the engine-wide part (clocks). A checkpoint writes these
        rows only; ``restore_parts`` puts an engine back together from all rows. (All in one chunk.)"""
        plans = sum(map(len, self._plans_new.values()))
        (whole,) = self.changes_in_chunks(size=max(1, len(self._dirty_conveyances), plans))
        return whole

    def changes_in_chunks(self, size: int = 2000) -> "Iterator[StateChanges]":
        """The same as ``changes``, as chunks of at most ``size`` conveyances and ``size`` plans, so that a
        checkpoint of a large partition (its first, or a rewrite) never holds every row at once; the
        engine-wide part, the tenants and the deletions come with the last chunk. The state must not
        change while the chunks are taken (a worker checkpoints between batches)."""
        keys = sorted(k for k in self._dirty_conveyances if k in self.conveyances)
        plans = sorted((tenant, plan_id) for tenant, new in self._plans_new.items() for plan_id in new)
        count = max(1, -(-len(keys) // size), -(-len(plans) // size))
        for i in range(count):
            last = i == count - 1
            chunk, plan_chunk = keys[i * size : (i + 1) * size], plans[i * size : (i + 1) * size]
            yield StateChanges(
                meta=self._meta() if last else {},
                tenants={tid: self.tenants[tid].to_plain() for tid in sorted(self._dirty_tenants)
                         if tid in self.tenants} if last else {},
                conveyances={k: self.conveyances[k].to_plain(plans_inline=False) for k in chunk},
                gone=sorted(self._gone) if last else [],
                plans={k: self._plans_new[k[0]][k[1]].to_plain() for k in plan_chunk},
                plans_gone=sorted(self._plans_gone) if last else [],
            )  # fmt: skip

    def forget_changes(self, written: "StateChanges") -> None:
        """``written`` is durable: stop tracking those changes (call only after the checkpoint committed)."""
        self._dirty_tenants -= set(written.tenants)
        for key in written.conveyances:
            self._dirty_conveyances.pop(key, None)
        self._gone -= set(written.gone)
        for tenant, plan_id in written.plans:
            self._plan_written(tenant, plan_id)
        self._plans_gone -= set(written.plans_gone)

    def mark_all_changed(self) -> None:
        """The next ``changes`` holds everything (the first incremental checkpoint of a partition)."""
        self._dirty_tenants = set(self.tenants)
        self._dirty_conveyances = dict.fromkeys(self.conveyances)
        self._plans_new = {}
        for conv in self.conveyances.values():
            for trip in conv.trips:
                self._plans_new.setdefault(conv.tenant, {})[trip.plan.event_id] = trip.plan

    def _plan_dropped(self, tenant_id: str, plan: TripPlan) -> None:
        self._plan_written(tenant_id, plan.event_id)
        self._plans_gone.add((tenant_id, plan.event_id))

    def _plan_written(self, tenant_id: str, plan_id: str) -> None:
        """No longer a new plan to write (written, or dropped before it was)."""
        new = self._plans_new.get(tenant_id)
        if new is not None:
            new.pop(plan_id, None)
            if not new:
                del self._plans_new[tenant_id]

    def _meta(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "clocks": dict(sorted(self.clocks.items())),
            "remember_ids": self.remember_ids,
            "seen": sorted([t, e, at] for (t, e), at in self.seen.items()),
            "pruned_day": dict(sorted(self._pruned_day.items())),
        }

    @classmethod
    def restore_parts(cls, meta: dict[str, Any], tenants: dict[str, Any], conveyances: list[dict[str, Any]],
                      policy: Policy | None = None, *, plans: dict[tuple[str, str], dict[str, Any]] | None = None,
                      **kwargs: Any) -> "Engine":  # fmt: skip
        """An engine from an incremental checkpoint's rows (see ``changes``): each trip's plan is put back
        from its plan row (rows written before plans had their own carry the plan inline)."""
        plans = plans or {}
        whole = []
        for plain in conveyances:
            trips = []
            for trip in plain["trips"]:
                ref = trip["plan"]
                if "kind" not in ref:
                    ref = plans[(plain["tenant"], ref["event_id"])]
                trips.append({**trip, "plan": ref})
            whole.append({**plain, "trips": trips})
        return cls.restore({**meta, "tenants": tenants, "conveyances": whole}, policy, **kwargs)

    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain JSON-ready data."""
        return {
            **self._meta(),
            "tenants": {tid: t.to_plain() for tid, t in sorted(self.tenants.items())},
            "conveyances": [c.to_plain() for _, c in sorted(self.conveyances.items())],
        }

    @classmethod
    def restore(cls, data: dict[str, Any], policy: Policy | None = None, *, shared: SharedReference | None = None,
                horizon: float | None = None) -> "Engine":  # fmt: skip
        version = data.get("version")
        if version not in (1, SNAPSHOT_VERSION):
            raise ValueError(f"snapshot version {version!r} is not {SNAPSHOT_VERSION}")
        engine = cls(policy, remember_ids=data["remember_ids"], shared=shared, horizon=horizon)
        if version == 1:  # one clock for all: every tenant known then starts from it
            if data["clock"] is not None:
                known = set(data["tenants"]) | {c["tenant"] for c in data["conveyances"]}
                engine.clocks = dict.fromkeys(sorted(known), float(data["clock"]))
        else:
            engine.clocks = {tid: float(c) for tid, c in data["clocks"].items()}
        # Snapshots before the horizon kept ids without their time: they are remembered from the clock.
        clock0 = max(engine.clocks.values(), default=0.0)
        engine.seen = {(s[0], s[1]): float(s[2]) if len(s) > 2 else clock0 for s in data["seen"]}
        engine._pruned_day = {t: int(d) for t, d in data.get("pruned_day", {}).items()}
        for tid, plain in data["tenants"].items():
            tenant = engine._tenant(tid)
            tenant.reference.load_plain(plain)
            tenant.registry = {k: (v[0], v[1], v[2], float(v[3]) if len(v) > 3 else clock0)
                               for k, v in plain["registry"].items()}  # fmt: skip
            tenant.open_trips = dict(plain["open_trips"])
            closed = plain["closed_trips"]
            tenant.closed_trips = ({k: float(v) for k, v in closed.items()} if isinstance(closed, dict)
                                   else dict.fromkeys(closed, clock0))  # fmt: skip
        for plain in data["conveyances"]:
            plans = {}
            for trip in plain["trips"]:
                event = decode_object(trip["plan"])
                assert isinstance(event, TripPlanned)
                plans[event.event_id] = TripPlan(event)
            conv = Conveyance.from_plain(plain, plans)
            engine.conveyances[conv.key] = conv
            engine._schedule(conv)
        engine._dirty_tenants.clear()
        engine._dirty_conveyances.clear()
        return engine
