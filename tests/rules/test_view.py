"""The people's view of a conveyance (rules.view): the worker writes it without geometry for every
conveyance a batch touches, so that form must be the full view less the route and stops, not another."""

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.fleet import fleet_lines
from sealguard.alerts.book import AlertBook
from sealguard.rules.engine import Engine
from sealguard.rules.findings import iso
from sealguard.rules.state import Trip
from sealguard.rules.view import conveyance_view, trip_view
from sealguard.schemas.alerts import rfc3339
from sealguard.stream.replay import replay
from tests.helpers import Stream, circle, feed
from tests.rules.driving import STEP, drive


def test_a_view_without_geometry_is_the_full_view_less_route_and_stops() -> None:
    s = Stream()
    s.plan(0, approved_stops=[circle("FUEL", 27.5 + STEP * 14, lon=-98.986, radius=3000)])
    s.inspect(30)
    s.affix(60)
    drive(s, 120, 130)
    engine = Engine()
    feed(engine, s.events)
    conv = next(iter(engine.conveyances.values()))
    full, light = conveyance_view(conv), conveyance_view(conv, geometry=False)
    assert full["trip"]["route"] and full["trip"]["approved_stops"][0]["facility_id"] == "FUEL"
    assert "route" not in light["trip"] and "approved_stops" not in light["trip"]
    trimmed = {k: v for k, v in full["trip"].items() if k not in ("route", "approved_stops")}
    assert light == {**full, "trip": trimmed}
    assert light["trip"]["status"] == "in_transit" and light["trip"]["expected_seals"]


def _trip_view_from_the_whole_plan(trip: Trip, *, geometry: bool) -> dict[str, Any]:
    """The view as it was built before: from the whole plan (``to_plain``), which the view need not make."""
    plan = trip.plan.to_plain(geometry=geometry)
    departure = plan.get("planned_departure")
    view = {
        "trip_id": trip.trip_id,
        "status": trip.status,
        "expected_seals": sorted({*trip.plan.seals, *trip.reseals}),
        "origin": plan["origin"],
        "destination": plan["destination"],
        "corridor_m": trip.plan.corridor_m,
        "conveyance_type": plan.get("conveyance_type"),
        "planned_departure": iso(datetime.fromisoformat(departure).timestamp()) if departure else None,
        "planned_arrival": iso(trip.plan.planned_arrival) if trip.plan.planned_arrival is not None else None,
        "departed_at": iso(trip.departed_at) if trip.departed_at is not None else None,
        "arrived_at": iso(trip.arrived_at) if trip.arrived_at is not None else None,
    }
    if geometry:
        view["approved_stops"], view["route"] = plan.get("approved_stops", []), plan.get("route")
    return view


def test_a_trips_view_is_what_the_whole_plan_gives() -> None:
    """Every open trip of a generated fleet (planned departures, conveyance types, approved stops, reseals),
    half-way through: the view read from the plan's own fields equals the one made from the whole plan."""
    engine = Engine()
    lines = fleet_lines(300, 50)
    replay(lines[: len(lines) // 2], engine, book=AlertBook())
    # And plans with what the fleet's do not say: departures and arrivals in other offsets, with fractions.
    for i, (departure, arrival, kind) in enumerate([
        ("2026-11-02T10:00:00+02:00", "2026-11-02T18:30:00.250-05:00", "container"),
        ("2026-11-02T08:00:00.5Z", None, "trailer"),
        (None, "2026-11-03T08:00:00Z", "tractor_trailer"),
    ]):  # fmt: skip
        s = Stream(f"TRL-V{i}", tenant="views")
        fields = {"planned_departure": departure, "planned_arrival": arrival, "conveyance_type": kind}
        s.plan(0, trip_id=f"T-V{i}", **{k: v for k, v in fields.items() if v is not None})["event_id"] = f"v-{i}"
        feed(engine, s.events)
    trips = [t for c in engine.conveyances.values() for t in c.trips]
    assert len(trips) > 50 and sum(bool(t.plan.extra_fields().get("planned_departure")) for t in trips) == 2
    for trip in trips:
        for geometry in (False, True):
            assert trip_view(trip, geometry=geometry) == _trip_view_from_the_whole_plan(trip, geometry=geometry)


@given(st.one_of(st.integers(-(10**11), 3 * 10**11).map(float), st.floats(-1e11, 3e11, allow_nan=False)))
@settings(max_examples=3000)
def test_iso_writes_what_a_datetime_writes(at: float) -> None:
    """``iso`` takes a shorter path for whole seconds from 1970 to year 9999: the same text, and past year
    9999 the same refusal."""
    try:
        expected = rfc3339(datetime.fromtimestamp(at, UTC))
    except (OverflowError, ValueError, OSError) as exc:
        with pytest.raises(type(exc)):
            iso(at)
        return
    assert iso(at) == expected


def test_iso_at_the_edges_of_its_short_path() -> None:
    for at in (0.0, -0.0, 1.0, 253_402_300_799.0, 1_796_582_267.0, 1_796_582_267.5, -1.0, 1e-7):
        assert iso(at) == rfc3339(datetime.fromtimestamp(at, UTC)), at
    assert iso(253_402_300_799.0) == "9999-12-31T23:59:59Z"
