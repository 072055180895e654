"""Correlations (COMP-001..003): seal events that matter more because of what tracking saw around them."""

from sealguard.rules.context import Ctx
from sealguard.rules.geometry import distance_m
from sealguard.rules.state import Conveyance, Stop, Trip
from sealguard.schemas.events import SealAffixed, SealAlarm, SealHeartbeat, SealRemoved, SealVerified

SealEvent = SealAffixed | SealVerified | SealRemoved | SealAlarm | SealHeartbeat

_BLIND_SPOT_RULES = (
    ("TRK-001", "off route"),
    ("TRK-003", "in a tracking gap"),
    ("ESEAL-001", "e-seal silent"),
)


def _what(ev: SealEvent) -> str:
    if isinstance(ev, SealAlarm):
        return f"seal {ev.seal_number} alarm '{ev.alarm}'"
    if isinstance(ev, SealRemoved):
        return f"seal {ev.seal_number} removed ({ev.reason})"
    return f"seal {ev.seal_number} mismatch ({ev.kind})"


def seal_event_during_stop(ctx: Ctx, conv: Conveyance, trip: Trip, ev: SealAlarm | SealRemoved, t: float) -> None:
    """COMP-001: an alarm or a non-delivery removal during, or soon after, an unscheduled stop."""
    window = ctx.policy.values["COMP-001.window"]
    if conv.active_or_recent("TRK-002", t, window):
        state = "during" if "TRK-002" in conv.conds else "within the window after"
        ctx.out.raise_(
            "COMP-001",
            conv.conveyance_id,
            trip.trip_id,
            t,
            f"{conv.conveyance_id}: {_what(ev)} {state} an unscheduled stop on trip {trip.trip_id}.",
            (ev.event_id,),
        )


def seal_event_in_blind_spot(ctx: Ctx, conv: Conveyance, trip: Trip | None, ev: SealEvent, t: float) -> None:
    """COMP-003: an alarm, a mismatch or a non-delivery removal while off route or unseen (or just after)."""
    if trip is None:
        return
    window = ctx.policy.values["COMP-003.window"]
    why = [label for rule, label in _BLIND_SPOT_RULES if conv.active_or_recent(rule, t, window)]
    if why:
        ctx.out.raise_(
            "COMP-003",
            conv.conveyance_id,
            trip.trip_id,
            t,
            f"{conv.conveyance_id}: {_what(ev)} while {' and '.join(why)} (or within {window / 60:g} min after) "
            f"on trip {trip.trip_id}.",
            (ev.event_id,),
        )


def stop_alerted(conv: Conveyance, trip: Trip, stop: Stop) -> None:
    """TRK-002 fired: moving away from the stop now needs a passing VVTT since it began (COMP-002)."""
    if trip.last_pass_at is not None and trip.last_pass_at >= stop.start:
        return  # already verified during this stop
    conv.comp2 = (stop.start, stop.lon, stop.lat, stop.event)


def verified(conv: Conveyance, t: float) -> None:
    if conv.comp2 is not None and t >= conv.comp2[0]:
        conv.comp2 = None


def after_fix(ctx: Ctx, conv: Conveyance, trip: Trip, lon: float, lat: float, t: float, eid: str) -> None:
    """COMP-002: moved on more than the distance from an alerted stop with no passing VVTT since it began."""
    watch = conv.comp2
    if watch is None:
        return
    moved = distance_m(watch[1], watch[2], lon, lat)
    limit = ctx.policy.values["COMP-002.distance_m"]
    if moved > limit:
        conv.comp2 = None
        ctx.out.raise_(
            "COMP-002",
            conv.conveyance_id,
            trip.trip_id,
            t,
            f"{conv.conveyance_id} moved on {moved:,.0f} m from its unscheduled stop on trip {trip.trip_id} "
            "without a passing VVTT check of its seal since the stop.",
            (watch[3], eid),
        )
