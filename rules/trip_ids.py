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
