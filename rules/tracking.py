"""Conveyance tracking (MSC 5.14-5.16): the trip state machine, stops, corridor, gaps, lateness,
impossible jumps, stops at unexpected facilities, and movement without a trip (TRK-001..007).

Timers: ``TRK-002`` and ``TRK-006`` (stop length), ``TRK-003`` (silence), ``TRK-004|{trip}`` (late).
"""

from sealguard.rules import correlation, seals
from sealguard.rules.context import Ctx, cancel_prefixed, cancel_timers
from sealguard.rules.findings import minutes
from sealguard.rules.geometry import distance_bound_m, distance_m
from sealguard.rules.state import Conveyance, Stop, Trip
from sealguard.schemas.events import GpsPosition

_IN_TRANSIT_TIMERS = ("TRK-002", "TRK-003", "TRK-006")


def on_fix(ctx: Ctx, conv: Conveyance, ev: GpsPosition, t: float) -> None:
    """A GPS fix, not older than the conveyance's latest one (older fixes never reach here)."""
    lon, lat, eid = ev.lon, ev.lat, ev.event_id
    prev_at, prev_lon, prev_lat, prev_eid = conv.fix_at, conv.fix_lon, conv.fix_lat, conv.fix_event
    speed = ev.speed_kph
    step: float | None = None  # the geodesic from the previous fix, measured when something needs it
    if speed is None and prev_at is not None and t > prev_at:
        step = distance_m(prev_lon, prev_lat, lon, lat)
        speed = step / (t - prev_at) * 3.6
    conv.fix_at, conv.fix_lon, conv.fix_lat, conv.fix_event = t, lon, lat, eid
    conv.fix_speed = speed  # the speed reported, else derived from the previous fix

    trip = conv.current_trip(ev.trip_id)
    if trip is None:
        conv.stop = None
        _untripped(ctx, conv, lon, lat, t, eid)
        return
    conv.untripped_origin = None
    plan = trip.plan
    values = ctx.policy.values
    # Every fix passes here: what most fixes change nothing in is tested here, before a call.
    if trip.status == "planned" and not plan.origin.contains(lon, lat):
        _depart(ctx, conv, trip, t, eid)
    if trip.status == "in_transit":
        if prev_at is not None:
            _impossible_movement(ctx, conv, trip, prev_at, prev_lon, prev_lat, prev_eid, step, lon, lat, t, eid)
        if "TRK-003" in conv.conds:
            key = conv.close_cond("TRK-003", t)
            if key is not None:
                ctx.out.resolve("TRK-003", key, conv.conveyance_id, trip.trip_id, t)
        ctx.set_timer(conv, "TRK-003", t + values["TRK-003.window"])
        if plan.destination.contains(lon, lat):
            _arrive(ctx, conv, trip, t, eid)
        else:
            _corridor(ctx, conv, trip, lon, lat, t, eid)
    # _stops changes nothing for a moving truck that was not stopped.
    stopped = speed is not None and speed < values["TRK-002.stop_speed_kph"]
    if trip.status != "arrived" and (stopped or conv.stop is not None):
        _stops(ctx, conv, trip, lon, lat, speed, t, eid)
    if conv.comp2 is not None:  # COMP-002 watches only after an alerted stop
        correlation.after_fix(ctx, conv, trip, lon, lat, t, eid)


def _depart(ctx: Ctx, conv: Conveyance, trip: Trip, t: float, eid: str) -> None:
    trip.status = "in_transit"
    trip.departed_at = t
    seals.on_departure(ctx, conv, trip, t, eid)


def _arrive(ctx: Ctx, conv: Conveyance, trip: Trip, t: float, eid: str) -> None:
    trip.status = "arrived"
    trip.arrival = (t, eid)
    trip.off = None
    for rule in ("TRK-001", "TRK-002", "TRK-004"):
        key = conv.close_cond(rule, t)
        if key is not None:
            ctx.out.resolve(rule, key, conv.conveyance_id, trip.trip_id, t)
    conv.stop = None
    cancel_timers(conv, *_IN_TRANSIT_TIMERS, f"TRK-004|{trip.trip_id}")
    cancel_prefixed(conv, "ESEAL-001:")
    seals.on_arrival(ctx, conv, trip, t)


def _impossible_movement(
    ctx: Ctx,
    conv: Conveyance,
    trip: Trip,
    prev_at: float,
    prev_lon: float,
    prev_lat: float,
    prev_eid: str,
    step: float | None,
    lon: float,
    lat: float,
    t: float,
    eid: str,
) -> None:
    values = ctx.policy.values
    dt = t - prev_at
    if step is None:
        # Most steps are settled by an upper bound: shorter than the noise floor, or too slow to judge.
        bound = distance_bound_m(prev_lon, prev_lat, lon, lat)
        if bound < values["TRK-005.min_distance_m"] or (dt > 0 and bound / dt * 3.6 <= values["TRK-005.max_speed_kph"]):
            return
        step = distance_m(prev_lon, prev_lat, lon, lat)
    if step < values["TRK-005.min_distance_m"]:
        return
    limit = values["TRK-005.max_speed_kph"]
    implied = float("inf") if dt <= 0 else step / dt * 3.6
    if implied > limit:
        shown = "at the same instant" if dt <= 0 else f"in {minutes(dt)} ({implied:,.0f} km/h)"
        ctx.out.raise_(
            "TRK-005",
            conv.conveyance_id,
            trip.trip_id,
            t,
            f"{conv.conveyance_id} moved {step / 1000:,.1f} km {shown}, above the {limit:g} km/h limit: "
            "GPS fault or spoofing.",
            (prev_eid, eid),
        )


def _corridor(ctx: Ctx, conv: Conveyance, trip: Trip, lon: float, lat: float, t: float, eid: str) -> None:
    plan = trip.plan
    if plan.route is None:
        return
    limit = plan.corridor_m if plan.corridor_m is not None else ctx.policy.values["TRK-001.corridor_m"]
    hint = trip.route_hint
    check = plan.route.check(lon, lat, limit, max(0, hint + trip.route_stride) if hint >= 0 else -1)
    trip.route_stride = check.segment - hint if hint >= 0 else 0
    trip.route_hint = check.segment
    outside = check.distance_m > limit and not _approved_here(ctx, trip, lon, lat, t)
    if not outside:
        trip.off = None
        if "TRK-001" in conv.conds:
            key = conv.close_cond("TRK-001", t)
            if key is not None:
                ctx.out.resolve("TRK-001", key, conv.conveyance_id, trip.trip_id, t)
        return
    off = trip.off
    if off is None:
        off = trip.off = (t, eid)
    duration = ctx.policy.values["TRK-001.duration"]
    if "TRK-001" not in conv.conds and t - off[0] >= duration:
        key = ctx.out.raise_(
            "TRK-001",
            conv.conveyance_id,
            trip.trip_id,
            t,
            f"{conv.conveyance_id} is {check.distance_m:,.0f} m from the planned route of trip {trip.trip_id} "
            f"(corridor {limit:,.0f} m), off route for {minutes(t - off[0])}.",
            tuple(dict.fromkeys((off[1] or eid, eid))),
        )
        conv.open_cond("TRK-001", t, key)


def _approved_here(ctx: Ctx, trip: Trip, lon: float, lat: float, t: float) -> bool:
    """Inside an approved place's shape, or a registered facility with an approved place's id."""
    if trip.plan.in_approved_place(lon, lat):
        return True
    return any(f in trip.plan.approved_ids for f in ctx.tenant.reference.containing(lon, lat, t))


def _stops(
    ctx: Ctx, conv: Conveyance, trip: Trip, lon: float, lat: float, speed: float | None, t: float, eid: str
) -> None:
    stopped = speed is not None and speed < ctx.policy.values["TRK-002.stop_speed_kph"]
    stop = conv.stop
    if stop is not None:
        radius = ctx.policy.values["TRK-002.stop_radius_m"]
        if stopped and distance_m(stop.lon, stop.lat, lon, lat) <= radius:
            return
        _end_stop(ctx, conv, trip, t)
    if stopped:
        _begin_stop(ctx, conv, trip, lon, lat, t, eid)


def _begin_stop(ctx: Ctx, conv: Conveyance, trip: Trip, lon: float, lat: float, t: float, eid: str) -> None:
    facilities = tuple(ctx.tenant.reference.containing(lon, lat, t))
    approved = trip.plan.in_approved_place(lon, lat) or any(f in trip.plan.approved_ids for f in facilities)
    conv.stop = Stop(t, lon, lat, eid, approved, () if approved else facilities)
    if approved or trip.status != "in_transit":
        return
    ctx.set_timer(conv, "TRK-002", t + ctx.policy.values["TRK-002.duration"])
    if facilities:
        ctx.set_timer(conv, "TRK-006", t + ctx.policy.values["TRK-006.duration"])


def _end_stop(ctx: Ctx, conv: Conveyance, trip: Trip, t: float) -> None:
    conv.stop = None
    cancel_timers(conv, "TRK-002", "TRK-006")
    key = conv.close_cond("TRK-002", t)
    if key is not None:
        ctx.out.resolve("TRK-002", key, conv.conveyance_id, trip.trip_id, t)


def _untripped(ctx: Ctx, conv: Conveyance, lon: float, lat: float, t: float, eid: str) -> None:
    origin = conv.untripped_origin
    if origin is None:
        conv.untripped_origin = (lon, lat, eid)
        return
    moved = distance_m(origin[0], origin[1], lon, lat)
    limit = ctx.policy.values["TRK-007.distance_m"]
    if moved > limit:
        ctx.out.raise_(
            "TRK-007",
            conv.conveyance_id,
            None,
            t,
            f"{conv.conveyance_id} moved {moved:,.0f} m with no open trip (limit {limit:,.0f} m).",
            (origin[2], eid),
        )


# --- timers ---------------------------------------------------------------------------------------


def on_trip_planned(ctx: Ctx, conv: Conveyance, trip: Trip) -> None:
    """A new plan or a re-plan: (re)arm the late-arrival timer; drop a deviation the new plan can't judge."""
    name = f"TRK-004|{trip.trip_id}"
    arrival = trip.plan.planned_arrival
    if trip.status == "arrived" or "TRK-004" in conv.conds:
        pass
    elif arrival is None:
        cancel_timers(conv, name)
    else:
        ctx.set_timer(conv, name, arrival + ctx.policy.values["TRK-004.grace"])
    trip.route_hint, trip.route_stride = -1, 0
    if trip.plan.route is None:
        trip.off = None
        key = conv.close_cond("TRK-001", ctx.now)
        if key is not None:
            ctx.out.resolve("TRK-001", key, conv.conveyance_id, trip.trip_id, ctx.now)


def fire(ctx: Ctx, conv: Conveyance, name: str, due: float) -> None:
    trip = conv.current_trip(None)
    if name.startswith("TRK-004|"):
        _late(ctx, conv, name.split("|", 1)[1], due)
        return
    if trip is None or trip.status != "in_transit":
        return
    if name == "TRK-003":
        last = conv.fix_event if conv.fix_at is not None else None
        key = ctx.out.raise_(
            "TRK-003",
            conv.conveyance_id,
            trip.trip_id,
            due,
            f"No GPS fix from {conv.conveyance_id} for {minutes(ctx.policy.values['TRK-003.window'])} "
            f"in transit on trip {trip.trip_id}.",
            (last,) if last is not None else (),
        )
        conv.open_cond("TRK-003", due, key)
    elif name == "TRK-002" and conv.stop is not None:
        stop = conv.stop
        key = ctx.out.raise_(
            "TRK-002",
            conv.conveyance_id,
            trip.trip_id,
            due,
            f"{conv.conveyance_id} has been stopped for {minutes(due - stop.start)} at {stop.lat:.5f}, "
            f"{stop.lon:.5f}, outside every approved place of trip {trip.trip_id}.",
            _stop_evidence(conv, stop),
        )
        conv.open_cond("TRK-002", due, key)
        correlation.stop_alerted(conv, trip, stop)
    elif name == "TRK-006" and conv.stop is not None:
        stop = conv.stop
        ctx.out.raise_(
            "TRK-006",
            conv.conveyance_id,
            trip.trip_id,
            due,
            f"{conv.conveyance_id} has been stopped for {minutes(due - stop.start)} inside facility "
            f"{', '.join(stop.facilities)}, which is not an approved place of trip {trip.trip_id}.",
            _stop_evidence(conv, stop),
        )


def _stop_evidence(conv: Conveyance, stop: Stop) -> tuple[str, ...]:
    last = conv.fix_event if conv.fix_at is not None else stop.event
    return tuple(dict.fromkeys((stop.event, last)))


def _late(ctx: Ctx, conv: Conveyance, trip_id: str, due: float) -> None:
    trip = conv.current_trip(trip_id)
    if trip is None or trip.status == "arrived" or trip.plan.planned_arrival is None:
        return
    key = ctx.out.raise_(
        "TRK-004",
        conv.conveyance_id,
        trip.trip_id,
        due,
        f"Trip {trip.trip_id} of {conv.conveyance_id} has not arrived "
        f"{minutes(due - trip.plan.planned_arrival)} after its planned arrival.",
        (trip.plan.event_id,),
    )
    conv.open_cond("TRK-004", due, key)


def on_trip_closed(ctx: Ctx, conv: Conveyance, trip: Trip, t: float) -> None:
    """Resolve the trip's open tracking and e-seal-silence alerts and forget per-trip tracking."""
    for name in sorted(conv.conds):
        rule = name.split(":", 1)[0]
        if rule in ("TRK-001", "TRK-002", "TRK-003", "TRK-004", "ESEAL-001"):
            key = conv.close_cond(name, t)
            if key is not None:
                ctx.out.resolve(rule, key, conv.conveyance_id, trip.trip_id, t)
    cancel_timers(conv, *_IN_TRANSIT_TIMERS, f"TRK-004|{trip.trip_id}")
    conv.stop = None
    conv.comp2 = None
