"""A trip id belongs to one conveyance, and a closed trip cannot be planned again (contract.md).

The single engine checks this against its own state. Across partitions it is decided at the edge: a
gateway looks the trip up in the database, under a row lock, and refuses the ``trip.planned`` there, so
every worker sees only plans that passed. Both ask this one function.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TripOwner:
    conveyance_id: str
    closed: bool


def plan_problem(trip_id: str, conveyance_id: str, owner: TripOwner | None) -> str | None:
    """Why a ``trip.planned`` of ``trip_id`` on ``conveyance_id`` must be refused, or None."""
    if owner is None:
        return None
    if owner.closed:
        return f"trip_id: trip {trip_id} is closed and cannot be planned again"
    if owner.conveyance_id != conveyance_id:
        return f"trip_id: trip {trip_id} belongs to conveyance {owner.conveyance_id}"
    return None


TripKey = tuple[str, str]  # (tenant, trip id)


@dataclass(frozen=True, slots=True)
class TripDecision:
    """A ``trip.planned`` (``closing=False``) or ``trip.closed`` to be decided at the edge."""

    tenant: str
    trip_id: str
    conveyance_id: str
    closing: bool


@dataclass(frozen=True, slots=True)
class RoundOutcome:
    """What a round of trip decisions answers and writes: a refusal reason (or None) per decision, in
    order; the trip ids given to a conveyance; the trip ids closed (by the conveyance that owns them)."""

    reasons: list[str | None]
    taken: list[tuple[str, str, str]]
    closed: list[tuple[str, str, str]]


def judge_round(decisions: list[TripDecision], stored: dict[TripKey, TripOwner]) -> RoundOutcome:
    """Decide a round of trip events in order, as if each were decided alone after the ones before it.

    ``stored`` holds the owners of the round's trip ids as the database has them (locked). A plan of an
    unknown trip id takes it for its conveyance; a later plan in the same round sees that owner. A close
    closes a trip id only for the conveyance that owns it (anyone else's close changes nothing) and is
    never refused. Pure: the gateway stores ``taken`` and ``closed`` and answers with ``reasons``."""
    owners = dict(stored)
    reasons: list[str | None] = []
    taken: dict[TripKey, str] = {}
    closed: dict[TripKey, str] = {}
    for d in decisions:
        key = (d.tenant, d.trip_id)
        owner = owners.get(key)
        if d.closing:
            if owner is not None and owner.conveyance_id == d.conveyance_id and not owner.closed:
                owners[key] = TripOwner(d.conveyance_id, True)
                closed[key] = d.conveyance_id
            reasons.append(None)
            continue
        reason = plan_problem(d.trip_id, d.conveyance_id, owner)
        if reason is None and owner is None:
            owners[key] = TripOwner(d.conveyance_id, False)
            taken[key] = d.conveyance_id
        reasons.append(reason)
    return RoundOutcome(
        reasons,
        [(t, trip, c) for (t, trip), c in sorted(taken.items())],
        [(t, trip, c) for (t, trip), c in sorted(closed.items())],
    )
