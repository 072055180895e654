"""Distances on the ground: the corridor check must be within 1 % of the geodesic truth."""

import random

import pytest
from pyproj import Geod

from sealguard.rules.geometry import (
    CompiledPlace,
    FacilityIndex,
    RouteCorridor,
    compiled_place,
    corridor_for,
    distance_m,
)
from sealguard.schemas.places import CirclePlace, PolygonPlace

GEOD = Geod(ellps="WGS84")


@pytest.mark.parametrize("route_deg", [0.05, 0.005])  # ~1,400 km and ~140 km long routes
def test_corridor_distance_within_one_percent(route_deg: float) -> None:
    route = [(-99 + i * route_deg, 20 + i * route_deg) for i in range(200)]
    corridor = RouteCorridor(route)
    rng = random.Random(7)
    for _ in range(500):
        i, t = rng.randrange(199), rng.random()
        lon, lat = route[i][0] + t * route_deg, route[i][1] + t * route_deg
        azimuth = GEOD.inv(*route[i], *route[i + 1])[0]
        offset = rng.uniform(300, 1500)
        plon, plat, _ = GEOD.fwd(lon, lat, azimuth + 90, offset)
        measured = corridor.check(plon, plat, 1e9).distance_m
        assert abs(measured - offset) / offset < 0.01


def test_windowed_search_never_misses_a_closer_segment() -> None:
    route = [(0.0, 0.0), (0.1, 0.0), (0.1, 0.1), (0.0, 0.1), (0.0, 0.2)]  # a switchback
    corridor = RouteCorridor(route)
    far_hint = corridor.check(0.0, 0.2, 10.0, hint=0)  # a stale hint at the other end of the route
    assert far_hint.distance_m < 1.0 and far_hint.segment == 3


def test_places() -> None:
    circle = CompiledPlace(CirclePlace(facility_id="C", center=(-99.0, 28.0), radius_m=500))
    assert circle.contains(-99.0, 28.0 + 400 / 111_000)
    assert not circle.contains(-99.0, 28.0 + 600 / 111_000)
    square = CompiledPlace(PolygonPlace(facility_id="P", polygon=[(0, 0), (0, 1), (1, 1), (1, 0)]))
    assert square.contains(0.5, 0.5) and square.contains(0.0, 0.5) and not square.contains(1.5, 0.5)


def test_facility_index() -> None:
    index = FacilityIndex()
    for i in range(100):
        index.add(CirclePlace(facility_id=f"F{i:03d}", center=(-99.0 + i * 0.1, 28.0), radius_m=300))
    assert index.containing(-99.0 + 42 * 0.1, 28.0) == ["F042"]
    assert index.containing(-99.05, 28.0) == []


def test_distance_is_geodesic() -> None:
    assert distance_m(0, 0, 0, 1) == pytest.approx(110_574, rel=1e-4)


def test_trips_on_one_lane_share_its_corridor_and_keep_their_points_exactly() -> None:
    lane = [(-99.123456789, 20.0 + i * 0.01) for i in range(50)]
    first, second = corridor_for(lane), corridor_for(list(lane))
    other = corridor_for([*lane[:-1], (lane[-1][0], lane[-1][1] + 1e-9)])
    assert first is second and other is not first
    assert first.points() == [list(p) for p in lane]  # the planned doubles, bit for bit
    assert first.check(-99.123456789, 20.2, 10.0).distance_m < 1.0


def test_trips_naming_one_place_share_its_compiled_form() -> None:
    place = CirclePlace(facility_id="DC-1", center=(-99.0, 28.0), radius_m=500)
    same = CirclePlace(facility_id="DC-1", center=(-99.0, 28.0), radius_m=500)
    moved = CirclePlace(facility_id="DC-1", center=(-99.0, 28.1), radius_m=500)
    assert compiled_place(place) is compiled_place(same) and compiled_place(moved) is not compiled_place(place)
