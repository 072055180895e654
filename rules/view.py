"""A read-only view of the engine's state for people: each conveyance's trip, plan geometry, last
position and seals. Pure; the dashboard and the dock page read it through the API."""

from datetime import datetime
from typing import Any

from sealguard.rules.findings import iso
from sealguard.rules.state import Conveyance, Trip


def _t(value: float | None) -> str | None:
    return iso(value) if value is not None else None


def trip_view(trip: Trip, *, geometry: bool = True) -> dict[str, Any]:
    plan = trip.plan
    # The plan's own fields, not the whole ``plan.to_plain()``: that formats the plan's times through
    # pydantic, for nothing shown here, and a worker builds the view of every conveyance a batch touches.
    extra = plan.extra_fields()
    departure = extra.get("planned_departure")
    view = {
        "trip_id": trip.trip_id,
        "status": trip.status,
        "expected_seals": sorted({*plan.seals, *trip.reseals}),
        "origin": dict(plan.origin.plain),
        "destination": dict(plan.destination.plain),
        "corridor_m": plan.corridor_m,
        "conveyance_type": extra.get("conveyance_type"),
        "planned_departure": _t(datetime.fromisoformat(departure).timestamp()) if departure else None,
        "planned_arrival": _t(plan.planned_arrival),
        "departed_at": _t(trip.departed_at),
        "arrived_at": _t(trip.arrived_at),
    }
    if geometry:
        whole = plan.to_plain()
        view["approved_stops"], view["route"] = whole.get("approved_stops", []), whole.get("route")
    return view


def conveyance_view(conv: Conveyance, *, geometry: bool = True) -> dict[str, Any]:
    trip = conv.trips[0] if conv.trips else None
    fix = conv.fix
    view: dict[str, Any] = {
        "tenant": conv.tenant,
        "conveyance_id": conv.conveyance_id,
        "trip": trip_view(trip, geometry=geometry) if trip is not None else None,
        "other_open_trips": [t.trip_id for t in conv.trips[1:]],
        "position": {"at": iso(fix[0]), "lon": fix[1], "lat": fix[2], "speed_kph": fix[4]} if fix else None,
        "stopped_since": _t(conv.stop.start) if conv.stop is not None else None,
        "seals_on": sorted(conv.seals_on),
        "latest_inspection": {"at": iso(conv.insp[0]), "passed": conv.insp[1], "event_id": conv.insp[2]}
        if conv.insp
        else None,
    }
    return view


def fleet(conveyances: dict[tuple[str, str], Conveyance], tenant: str | None, *,
          geometry: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    """Every conveyance of ``tenant`` (all tenants when None), ordered by tenant and id."""
    keys = sorted(k for k in conveyances if tenant is None or k[0] == tenant)
    return [conveyance_view(conveyances[k], geometry=geometry) for k in keys]
