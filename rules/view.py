"""A read-only view of the engine's state for people: each conveyance's trip, plan geometry, last
position and seals. Pure; the dashboard and the dock page read it through the API."""

from typing import Any

from sealguard.rules.findings import iso
from sealguard.rules.state import Conveyance, Trip


def _t(value: float | None) -> str | None:
    return iso(value) if value is not None else None


def _place(place: Any) -> dict[str, Any]:
    return place.model_dump(mode="json", exclude_none=True)  # type: ignore[no-any-return]


def trip_view(trip: Trip) -> dict[str, Any]:
    plan = trip.plan.event
    return {
        "trip_id": trip.trip_id,
        "status": trip.status,
        "expected_seals": sorted(trip.plan.seals | trip.reseals),
        "origin": _place(plan.origin),
        "destination": _place(plan.destination),
        "approved_stops": [_place(p) for p in plan.approved_stops or ()],
        "route": [list(p) for p in plan.route] if plan.route else None,
        "corridor_m": plan.corridor_m,
        "planned_departure": _t(plan.planned_departure.timestamp()) if plan.planned_departure else None,
        "planned_arrival": _t(trip.plan.planned_arrival),
        "departed_at": _t(trip.departed_at),
        "arrived_at": _t(trip.arrived_at),
    }


def conveyance_view(conv: Conveyance, *, geometry: bool = True) -> dict[str, Any]:
    trip = conv.trips[0] if conv.trips else None
    fix = conv.fix
    view: dict[str, Any] = {
        "tenant": conv.tenant,
        "conveyance_id": conv.conveyance_id,
        "trip": trip_view(trip) if trip is not None else None,
        "other_open_trips": [t.trip_id for t in conv.trips[1:]],
        "position": {"at": iso(fix[0]), "lon": fix[1], "lat": fix[2]} if fix else None,
        "stopped_since": _t(conv.stop.start) if conv.stop is not None else None,
        "seals_on": sorted(conv.seals_on),
        "latest_inspection": {"at": iso(conv.insp[0]), "passed": conv.insp[1], "event_id": conv.insp[2]}
        if conv.insp
        else None,
    }
    if not geometry and view["trip"] is not None:
        for key in ("route", "approved_stops"):
            view["trip"].pop(key)
    return view


def fleet(conveyances: dict[tuple[str, str], Conveyance], tenant: str | None, *,
          geometry: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    """Every conveyance of ``tenant`` (all tenants when None), ordered by tenant and id."""
    keys = sorted(k for k in conveyances if tenant is None or k[0] == tenant)
    return [conveyance_view(conveyances[k], geometry=geometry) for k in keys]
