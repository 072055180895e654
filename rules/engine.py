"""The rule engine: keyed state, event-time clock, timers. Pure: no I/O, no clock reads.

``process(event)`` applies one validated event and returns an :class:`Outcome`; ``advance(until)``
moves the clock and fires every timer due at or before it. Timers fire in (due time, tenant,
conveyance, timer name) order, which depends only on state, so a restored engine fires them exactly as
the original would have. ``snapshot()`` returns plain data; ``Engine.restore`` rebuilds from it.
"""

import heapq
from dataclasses import dataclass, field
from typing import Any, Literal

from rules import inspections, seals, tracking
from rules.context import Ctx
from rules.findings import Emitter, Finding
from rules.policy import Policy
from rules.state import Conveyance, TenantState, Trip, TripPlan
from schemas.decode import decode_object
from schemas.events import (
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
from schemas.places import CirclePlace, PolygonPlace

SNAPSHOT_VERSION = 1
Status = Literal["applied", "duplicate", "rejected"]


@dataclass(slots=True)
class Outcome:
    status: Status
    findings: list[Finding] = field(default_factory=list)
    reason: str | None = None


class Engine:
    """One engine holds every tenant; state is keyed by tenant and by (tenant, conveyance)."""

    def __init__(self, policy: Policy | None = None, *, remember_ids: bool = True) -> None:
        self.policy = policy or Policy()
        self.clock: float | None = None
        # Dedupe by (tenant, event_id). The live pipeline dedupes in storage and may turn this off.
        self.remember_ids = remember_ids
        self.seen: set[tuple[str, str]] = set()
        self.tenants: dict[str, TenantState] = {}
        self.conveyances: dict[tuple[str, str], Conveyance] = {}
        self._heap: list[tuple[float, str, str]] = []
        self._contexts: dict[str, Ctx] = {}  # one per tenant, re-aimed at each step's findings

    # --- the two pure entry points ------------------------------------------------------------------

    def process(self, event: Event) -> Outcome:
        tenant_id = event.tenant
        if self.remember_ids and (tenant_id, event.event_id) in self.seen:
            return Outcome("duplicate", reason=f"event_id {event.event_id} already seen")
        tenant = self._tenant(tenant_id)
        if isinstance(event, TripPlanned):
            reason = self._plan_problem(tenant, event)
            if reason is not None:
                return Outcome("rejected", reason=reason)
        t = event.occurred_at.timestamp()
        findings: list[Finding] = []
        if self.clock is None or t > self.clock:
            self._fire_due(t, findings)
            self.clock = t
        self._dispatch(self._context(tenant_id, findings, self.clock), tenant, event, t)
        if self.remember_ids:
            self.seen.add((tenant_id, event.event_id))
        return Outcome("applied", findings)

    def advance(self, until: float) -> list[Finding]:
        """Move the clock to ``until`` (never backwards), firing every timer due at or before it."""
        findings: list[Finding] = []
        if self.clock is not None and until <= self.clock:
            return findings
        self._fire_due(until, findings)
        self.clock = until
        return findings

    def next_deadline(self) -> float | None:
        """The earliest registered timer, so a live runtime knows when to call ``advance``."""
        while self._heap:
            due, tenant, cid = self._heap[0]
            conv = self.conveyances.get((tenant, cid))
            if conv is not None and conv.wake == due:
                return due
            heapq.heappop(self._heap)
        return None

    # --- dispatch -----------------------------------------------------------------------------------

    def _dispatch(self, ctx: Ctx, tenant: TenantState, event: Event, t: float) -> None:
        if isinstance(event, SealIssued):
            seals.on_issued(tenant, event)
            return
        if isinstance(event, FacilityRegistered):
            tenant.register_facility(event.place)
            return
        cid = event.conveyance_id
        assert cid is not None  # the schema requires it on every other kind
        conv = self._conveyance(event.tenant, cid)
        if isinstance(event, GpsPosition):
            if conv.fix is None or t >= conv.fix[0]:  # an older fix is ignored by the tracking rules
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
        self._schedule(conv)

    def _plan_problem(self, tenant: TenantState, event: TripPlanned) -> str | None:
        if event.trip_id in tenant.closed_trips:
            return f"trip_id: trip {event.trip_id} is closed and cannot be planned again"
        owner = tenant.open_trips.get(event.trip_id)
        if owner is not None and owner != event.conveyance_id:
            return f"trip_id: trip {event.trip_id} belongs to conveyance {owner}"
        return None

    def _on_planned(self, ctx: Ctx, tenant: TenantState, conv: Conveyance, event: TripPlanned) -> None:
        plan = TripPlan(event)
        trip = conv.current_trip(event.trip_id)
        if trip is None:
            trip = Trip(plan)
            conv.trips.append(trip)
            tenant.open_trips[plan.trip_id] = conv.conveyance_id
        else:
            trip.plan = plan  # a re-route: the plan changes, the trip's state does not
        tracking.on_trip_planned(ctx, conv, trip)

    def _on_closed(self, ctx: Ctx, tenant: TenantState, conv: Conveyance, event: TripClosed, t: float) -> None:
        trip = conv.current_trip(event.trip_id)
        if trip is None:
            return  # closing an unknown or closed trip changes nothing
        seals.on_trip_closed(ctx, conv, trip, t, event.event_id)
        tracking.on_trip_closed(ctx, conv, trip, t)
        conv.trips.remove(trip)
        tenant.open_trips.pop(trip.trip_id, None)
        tenant.closed_trips.add(trip.trip_id)

    # --- timers -------------------------------------------------------------------------------------

    def _schedule(self, conv: Conveyance) -> None:
        if not conv.timers:
            return
        due = min(conv.timers.values())
        # A later deadline needs no new heap entry: the earlier one pops, finds nothing due, re-arms.
        if conv.wake is None or due < conv.wake:
            conv.wake = due
            heapq.heappush(self._heap, (due, conv.tenant, conv.conveyance_id))

    def _fire_due(self, until: float, findings: list[Finding]) -> None:
        heap = self._heap
        while heap and heap[0][0] <= until:
            due, tenant_id, cid = heapq.heappop(heap)
            conv = self.conveyances.get((tenant_id, cid))
            if conv is None or conv.wake != due:
                continue  # superseded entry
            conv.wake = None
            ctx = self._context(tenant_id, findings, due)
            for name in sorted(n for n, d in conv.timers.items() if d <= due):
                if conv.timers.get(name, until + 1) > due:
                    continue  # cancelled by a timer that fired before it
                del conv.timers[name]
                if name.startswith("TRK-"):
                    tracking.fire(ctx, conv, name, due)
                else:
                    seals.fire(ctx, conv, name, due)
            self._schedule(conv)

    # --- state --------------------------------------------------------------------------------------

    def _tenant(self, tenant_id: str) -> TenantState:
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            tenant = self.tenants[tenant_id] = TenantState()
        return tenant

    def _context(self, tenant_id: str, findings: list[Finding], now: float) -> Ctx:
        ctx = self._contexts.get(tenant_id)
        if ctx is None:
            policy = self.policy.for_tenant(tenant_id)
            ctx = Ctx(self._tenant(tenant_id), policy, Emitter(tenant_id, policy, findings), now)
            self._contexts[tenant_id] = ctx
        ctx.out.findings = findings
        ctx.now = now
        return ctx

    def _conveyance(self, tenant_id: str, conveyance_id: str) -> Conveyance:
        key = (tenant_id, conveyance_id)
        conv = self.conveyances.get(key)
        if conv is None:
            conv = self.conveyances[key] = Conveyance(tenant_id, conveyance_id)
        return conv

    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain JSON-ready data."""
        return {
            "version": SNAPSHOT_VERSION,
            "clock": self.clock,
            "remember_ids": self.remember_ids,
            "seen": sorted([t, e] for t, e in self.seen),
            "tenants": {tid: t.to_plain() for tid, t in sorted(self.tenants.items())},
            "conveyances": [c.to_plain() for _, c in sorted(self.conveyances.items())],
        }

    @classmethod
    def restore(cls, data: dict[str, Any], policy: Policy | None = None) -> "Engine":
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"snapshot version {data.get('version')!r} is not {SNAPSHOT_VERSION}")
        engine = cls(policy, remember_ids=data["remember_ids"])
        engine.clock = data["clock"]
        engine.seen = {(t, e) for t, e in data["seen"]}
        for tid, plain in data["tenants"].items():
            tenant = engine._tenant(tid)
            for place in plain["facilities"].values():
                model = PolygonPlace if "polygon" in place else CirclePlace
                tenant.register_facility(model.model_validate(place, strict=False))
            tenant.issued = dict(plain["issued"])
            tenant.registry = {k: (v[0], v[1], v[2]) for k, v in plain["registry"].items()}
            tenant.open_trips = dict(plain["open_trips"])
            tenant.closed_trips = set(plain["closed_trips"])
        for plain in data["conveyances"]:
            plans = {}
            for trip in plain["trips"]:
                event = decode_object(trip["plan"])
                assert isinstance(event, TripPlanned)
                plans[event.event_id] = TripPlan(event)
            conv = Conveyance.from_plain(plain, plans)
            engine.conveyances[(conv.tenant, conv.conveyance_id)] = conv
            engine._schedule(conv)
        return engine
