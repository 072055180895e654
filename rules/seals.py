"""Seal security (MSC 6): SEAL-001..011 and the electronic-seal rules ESEAL-001..002.

Timers: ``SEAL-010`` (verification due after arrival), ``ESEAL-001:{seal}`` (e-seal silence).
"""

from sealguard.rules import correlation
from sealguard.rules.context import Ctx, cancel_prefixed, cancel_timers
from sealguard.rules.findings import minutes
from sealguard.rules.seal_registry import SealFact
from sealguard.rules.state import NO_ENTRIES, Conveyance, TenantState, Trip, normalize_seal
from sealguard.schemas.events import SealAffixed, SealAlarm, SealHeartbeat, SealIssued, SealRemoved, SealVerified

SealEvent = SealAffixed | SealVerified | SealRemoved | SealAlarm | SealHeartbeat


def on_issued(tenant: TenantState, ev: SealIssued, t: float) -> None:
    tenant.reference.issue(normalize_seal(ev.seal_number), ev.facility_id, t)


def _mismatch(ctx: Ctx, conv: Conveyance, trip: Trip | None, ev: SealEvent, seal: str, t: float) -> bool:
    """SEAL-001: a seal event on a conveyance with an open trip names a seal that is not expected."""
    if trip is None or trip.expects(seal):
        return False
    ctx.out.raise_(
        "SEAL-001",
        conv.conveyance_id,
        trip.trip_id,
        t,
        f"Seal {ev.seal_number} ({ev.kind}) on {conv.conveyance_id} is not a seal of trip {trip.trip_id}; "
        f"the documents list {trip.expected_display()}.",
        (ev.event_id,),
        seal=seal,
    )
    return True


def on_affixed(ctx: Ctx, conv: Conveyance, trip: Trip | None, ev: SealAffixed, t: float) -> None:
    seal = normalize_seal(ev.seal_number)
    cid, tid, eid = conv.conveyance_id, trip.trip_id if trip else None, ev.event_id
    out = ctx.out
    if ev.seal_type != "electronic" and ev.seal_class != "H":
        out.raise_(
            "SEAL-002",
            cid,
            tid,
            t,
            f"Seal {ev.seal_number} affixed to {cid} is a {ev.seal_type} seal of ISO 17712 class {ev.seal_class}, "
            "not the high-security class H.",
            (eid,),
            seal=seal,
        )
    _inventory(ctx, conv, tid, ev, seal, t)
    if ctx.seal_facts is None:
        _reuse(ctx, conv, tid, ev, seal, t)
    else:
        ctx.seal_facts.append(SealFact(ctx.out.tenant, seal, ev.seal_number, "affixed", cid, tid, t, eid))
    _inspection_before_sealing(ctx, conv, tid, ev, t)
    if trip is not None:
        # a seal an authority affixed itself (customs' own reseal, ev.authority_ref) is documented as such
        documented = ev.authority_ref is not None
        if trip.status == "in_transit":
            removal = trip.gov_removal_at
            window = ctx.policy.values["SEAL-008.window"]
            if removal is not None and removal <= t <= removal + window:
                documented = True
            elif not documented:
                out.raise_(
                    "SEAL-008",
                    cid,
                    tid,
                    t,
                    f"Seal {ev.seal_number} affixed to {cid} in transit on trip {tid} without a government "
                    f"inspection removal (with its authority reference) in the {minutes(window)} before.",
                    (eid,),
                    seal=seal,
                )
        if documented:
            trip.reseals = trip.reseals | {seal}
        if _mismatch(ctx, conv, trip, ev, seal, t):
            correlation.seal_event_in_blind_spot(ctx, conv, trip, ev, t)
    conv.seal_on(seal)
    if ctx.seal_facts is None:
        ctx.tenant.registry[seal] = (cid, tid, False, t)


def _inventory(ctx: Ctx, conv: Conveyance, tid: str | None, ev: SealAffixed, seal: str, t: float) -> None:
    recorded, facility = ctx.tenant.reference.inventory(seal, t)
    if not recorded:
        return  # no controlled inventory recorded for this tenant yet
    where = ev.source.facility_id if ev.source is not None else None
    if facility is None:
        reason = "was never issued from the controlled seal inventory"
    elif where is not None and where != facility:
        reason = f"was issued to facility {facility}, not to {where} where it was affixed"
    else:
        return
    ctx.out.raise_(
        "SEAL-005", conv.conveyance_id, tid, t, f"Seal {ev.seal_number} on {conv.conveyance_id} {reason}.",
        (ev.event_id,), seal=seal,
    )  # fmt: skip


def _reuse(ctx: Ctx, conv: Conveyance, tid: str | None, ev: SealAffixed, seal: str, t: float) -> None:
    previous = ctx.tenant.registry.get(seal)
    if previous is None or previous[3] < t - ctx.horizon:
        return  # never used, or last used beyond the horizon (its entry may already be forgotten)
    other_conv, other_trip, removed, _ = previous
    if other_conv != conv.conveyance_id:
        reason = f"is already affixed to {other_conv}"
    elif removed:
        reason = "was already removed; a used seal cannot be affixed again"
    elif other_trip is not None and other_trip != tid:
        reason = f"was already used on trip {other_trip}"
    else:
        return  # the same seal scanned again on the same trip
    ctx.out.raise_(
        "SEAL-006", conv.conveyance_id, tid, t, f"Seal {ev.seal_number} affixed to {conv.conveyance_id} {reason}.",
        (ev.event_id,), seal=seal,
    )  # fmt: skip


def _inspection_before_sealing(ctx: Ctx, conv: Conveyance, tid: str | None, ev: SealAffixed, t: float) -> None:
    cid = conv.conveyance_id
    latest = conv.insp
    if latest is None or not latest[1]:
        what = (
            "with no inspection on record" if latest is None else f"although its latest inspection ({latest[2]}) failed"
        )
        evidence = (ev.event_id,) if latest is None else (latest[2], ev.event_id)
        ctx.out.raise_("INSP-001", cid, tid, t, f"{cid} was sealed with {ev.seal_number} {what}.", evidence)
    passed = conv.passed_insp
    limit = ctx.policy.values["INSP-004.max_age"]
    if passed is not None and t - passed[0] >= limit:
        ctx.out.raise_(
            "INSP-004",
            cid,
            tid,
            t,
            f"{cid} was sealed with {ev.seal_number} {minutes(t - passed[0])} after its latest passed inspection "
            f"(limit {minutes(limit)}).",
            (passed[2], ev.event_id),
        )


def on_verified(ctx: Ctx, conv: Conveyance, trip: Trip | None, ev: SealVerified, t: float) -> None:
    seal = normalize_seal(ev.seal_number)
    cid, tid = conv.conveyance_id, trip.trip_id if trip else None
    mismatch = _mismatch(ctx, conv, trip, ev, seal, t)
    failed = ev.steps.failed()
    if failed or not ev.intact:
        parts = []
        if failed:
            parts.append(f"failed {', '.join(failed)}")
        if not ev.intact:
            parts.append("found the seal not intact")
        ctx.out.raise_(
            "SEAL-004",
            cid,
            tid,
            t,
            f"The VVTT check of seal {ev.seal_number} on {cid} {' and '.join(parts)}.",
            (ev.event_id,),
            seal=seal,
            severity="severity" if ev.intact else "intact_severity",
        )
    if mismatch:
        correlation.seal_event_in_blind_spot(ctx, conv, trip, ev, t)
    if trip is not None and not mismatch and not failed and ev.intact:
        _passing_verification(ctx, conv, trip, t)


def _passing_verification(ctx: Ctx, conv: Conveyance, trip: Trip, t: float) -> None:
    trip.last_pass_at = t if trip.last_pass_at is None else max(trip.last_pass_at, t)
    if trip.arrived_at is not None and t >= trip.arrived_at and not trip.seal010_done:
        trip.seal010_done = True
        cancel_timers(conv, "SEAL-010")
    correlation.verified(conv, t)


def on_removed(ctx: Ctx, conv: Conveyance, trip: Trip | None, ev: SealRemoved, t: float) -> None:
    seal = normalize_seal(ev.seal_number)
    cid = conv.conveyance_id
    if ctx.seal_facts is None:
        previous = ctx.tenant.registry.get(seal)
        ctx.tenant.registry[seal] = (previous[0], previous[1], True, t) if previous else (cid, None, True, t)
    else:
        ctx.seal_facts.append(SealFact(ctx.out.tenant, seal, ev.seal_number, "removed", cid, None, t, ev.event_id))
    conv.seal_off(seal)
    conv.heartbeats.pop(seal, None)  # a removed e-seal is no longer expected to report
    cancel_timers(conv, f"ESEAL-001:{seal}")
    if trip is None:
        return
    mismatch = _mismatch(ctx, conv, trip, ev, seal, t)
    if ev.reason == "government_inspection":
        trip.gov_removal_at = t if trip.gov_removal_at is None else max(trip.gov_removal_at, t)
    else:
        where = _outside_destination(conv, trip, None, None)  # seal.removed carries no position
        if where is not None:
            ctx.out.raise_(
                "SEAL-003",
                cid,
                trip.trip_id,
                t,
                f"Seal {ev.seal_number} was removed from {cid} ({ev.reason}) {where}, not at destination "
                f"{trip.plan.destination.facility_id}.",
                (ev.event_id,),
                seal=seal,
            )
    if ev.reason == "delivered":
        _unverified_arrival(ctx, conv, trip, t, f"seal {ev.seal_number} was removed as delivered", ev.event_id)
    else:
        correlation.seal_event_during_stop(ctx, conv, trip, ev, t)
    if mismatch or ev.reason != "delivered":
        correlation.seal_event_in_blind_spot(ctx, conv, trip, ev, t)


def _outside_destination(conv: Conveyance, trip: Trip, lon: float | None, lat: float | None) -> str | None:
    """Where a seal event happened, when that is not inside the destination; ``None`` when it is."""
    if lon is None or lat is None:
        if conv.fix_at is None:
            return "at an unknown position"
        lon, lat = conv.fix_lon, conv.fix_lat
    if trip.plan.destination.contains(lon, lat):
        return None
    return f"at {lat:.5f}, {lon:.5f}"


def on_alarm(ctx: Ctx, conv: Conveyance, trip: Trip | None, ev: SealAlarm, t: float) -> None:
    seal = normalize_seal(ev.seal_number)
    if trip is None:
        return
    _mismatch(ctx, conv, trip, ev, seal, t)
    where = _outside_destination(conv, trip, ev.lon, ev.lat)
    if where is not None:
        ctx.out.raise_(
            "SEAL-003",
            conv.conveyance_id,
            trip.trip_id,
            t,
            f"Electronic seal {ev.seal_number} on {conv.conveyance_id} reported '{ev.alarm}' {where}, "
            f"outside destination {trip.plan.destination.facility_id}.",
            (ev.event_id,),
            seal=seal,
        )
    correlation.seal_event_during_stop(ctx, conv, trip, ev, t)
    correlation.seal_event_in_blind_spot(ctx, conv, trip, ev, t)


def on_heartbeat(ctx: Ctx, conv: Conveyance, trip: Trip | None, ev: SealHeartbeat, t: float) -> None:
    seal = normalize_seal(ev.seal_number)
    cid, tid = conv.conveyance_id, trip.trip_id if trip else None
    if _mismatch(ctx, conv, trip, ev, seal, t):
        correlation.seal_event_in_blind_spot(ctx, conv, trip, ev, t)
    limit = ctx.policy.values["ESEAL-002.battery_pct"]
    low_name = f"ESEAL-002:{seal}"
    if ev.battery_pct < limit:
        if low_name not in conv.conds:
            key = ctx.out.raise_(
                "ESEAL-002",
                cid,
                tid,
                t,
                f"Electronic seal {ev.seal_number} on {cid} reports battery at {ev.battery_pct:g} % "
                f"(limit {limit:g} %).",
                (ev.event_id,),
                seal=seal,
            )
            conv.open_cond(low_name, t, key)
    else:
        cleared = conv.close_cond(low_name, t)
        if cleared is not None:
            ctx.out.resolve("ESEAL-002", cleared, cid, tid, t)
    last = conv.heartbeats.get(seal)
    if last is not None and last[0] >= t:
        return  # a late heartbeat says nothing about the current silence
    conv.own("heartbeats")[seal] = (t, ev.event_id)
    silent = conv.close_cond(f"ESEAL-001:{seal}", t)
    if silent is not None:
        ctx.out.resolve("ESEAL-001", silent, cid, tid, t)
    if trip is not None and trip.status == "in_transit":
        _arm_silence(ctx, conv, trip, seal, t)


def _arm_silence(ctx: Ctx, conv: Conveyance, trip: Trip, seal: str, last: float) -> None:
    start = max(last, trip.departed_at or last)
    ctx.set_timer(conv, f"ESEAL-001:{seal}", start + ctx.policy.values["ESEAL-001.window"])


# --- trip transitions and timers ------------------------------------------------------------------


def on_departure(ctx: Ctx, conv: Conveyance, trip: Trip, t: float, eid: str) -> None:
    """SEAL-011, and the e-seal silence clocks start counting from the departure."""
    if not any(trip.expects(s) for s in conv.seals_on):
        ctx.out.raise_(
            "SEAL-011",
            conv.conveyance_id,
            trip.trip_id,
            t,
            f"{conv.conveyance_id} left {trip.plan.origin.facility_id} on trip {trip.trip_id} without any of its "
            f"seals ({trip.expected_display()}) affixed.",
            (eid,),
        )
    for seal, (last, _) in sorted(conv.heartbeats.items()):
        _arm_silence(ctx, conv, trip, seal, last)


def on_arrival(ctx: Ctx, conv: Conveyance, trip: Trip, t: float) -> None:
    if not trip.seal010_done:
        ctx.set_timer(conv, "SEAL-010", t + ctx.policy.values["SEAL-010.window"])


def _unverified_arrival(ctx: Ctx, conv: Conveyance, trip: Trip, t: float, what: str, eid: str) -> None:
    """SEAL-010 at the earliest of: window elapsed, delivered removal, trip closed, with no passing VVTT."""
    if trip.seal010_done or trip.departed_at is None:
        return
    trip.seal010_done = True
    cancel_timers(conv, "SEAL-010")
    evidence = tuple(e for e in (trip.arrival_event, eid) if e)
    ctx.out.raise_(
        "SEAL-010",
        conv.conveyance_id,
        trip.trip_id,
        t,
        f"Trip {trip.trip_id} of {conv.conveyance_id}: {what} before any passing VVTT check of its seals after "
        "arrival.",
        evidence,
    )


def on_trip_closed(ctx: Ctx, conv: Conveyance, trip: Trip, t: float, eid: str) -> None:
    _unverified_arrival(ctx, conv, trip, t, "the trip was closed", eid)
    cancel_timers(conv, "SEAL-010")
    cancel_prefixed(conv, "ESEAL-001:")
    conv.seals_on = ()
    conv.heartbeats = NO_ENTRIES


def fire(ctx: Ctx, conv: Conveyance, name: str, due: float) -> None:
    trip = conv.current_trip(None)
    if trip is None:
        return
    if name == "SEAL-010":
        window = ctx.policy.values["SEAL-010.window"]
        _unverified_arrival(ctx, conv, trip, due, f"no passing VVTT check within {minutes(window)} of arrival", "")
    elif name.startswith("ESEAL-001:") and trip.status == "in_transit":
        seal = name.split(":", 1)[1]
        last = conv.heartbeats.get(seal)
        key = ctx.out.raise_(
            "ESEAL-001",
            conv.conveyance_id,
            trip.trip_id,
            due,
            f"Electronic seal {seal} on {conv.conveyance_id} has sent no heartbeat for "
            f"{minutes(ctx.policy.values['ESEAL-001.window'])} in transit on trip {trip.trip_id}.",
            (last[1],) if last else (),
            seal=seal,
        )
        conv.open_cond(name, due, key)
