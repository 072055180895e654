"""Distances on the ground: the corridor check must be within 1 % of the geodesic truth."""

import math
import random

import pytest
from pyproj import Geod

from sealguard.rules.geometry import (
    CompiledPlace,
    FacilityIndex,
    RouteCorridor,
    compiled_place,
    corridor_for,
    distance_bound_m,
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


def test_first_check_of_a_trip_decides_as_the_whole_projected_line_does() -> None:
    """A trip's first check starts the walk at the nearest vertex instead of projecting the route: it must
    put every fix on the same side of the limit as the exact check, and project only when it has to."""
    rng = random.Random(11)
    lon, lat, route = -99.0, 20.0, []
    for _ in range(200):  # a winding route, doubling back now and then
        lon, lat = lon + rng.uniform(-0.01, 0.02), lat + rng.uniform(-0.01, 0.02)
        route.append((lon, lat))
    limit, unprojected, outside = 1000.0, 0, 0
    for _ in range(400):
        i = rng.randrange(200)
        plon, plat = route[i][0] + rng.uniform(-0.03, 0.03), route[i][1] + rng.uniform(-0.03, 0.03)
        exact = RouteCorridor(route).check(plon, plat, 0.0)  # a zero limit: the walk never settles it
        fresh = RouteCorridor(route)
        first = fresh.check(plon, plat, limit)
        assert (first.distance_m > limit) == (exact.distance_m > limit)
        if exact.distance_m > limit:
            assert first == exact  # outside: the exact distance and segment, from the projected line
            outside += 1
        elif fresh._metres is None:
            assert first.distance_m <= limit * 0.99  # inside, settled by the walk: nothing projected
            unprojected += 1
    assert outside > 50 and unprojected > 50  # both kinds of fix were tried


def test_any_start_of_the_walk_decides_as_the_exact_check_does() -> None:
    """The walk starts where the trip's last checks predict (the last segment plus the last stride), and a
    prediction can be wrong: from any start, a fix must land on the same side of the limit as on the
    whole projected line, and an answer outside is the exact one."""
    rng = random.Random(5)
    lon, lat, route = 8.0, 50.0, []
    for _ in range(200):
        lon, lat = lon + rng.uniform(-0.005, 0.02), lat + rng.uniform(-0.01, 0.02)
        route.append((lon, lat))
    corridor = RouteCorridor(route)
    limit, inside = 1000.0, 0
    for _ in range(1000):
        i = rng.randrange(200)
        plon, plat = route[i][0] + rng.uniform(-0.02, 0.02), route[i][1] + rng.uniform(-0.02, 0.02)
        exact = corridor.check(plon, plat, 0.0)
        walked = corridor.check(plon, plat, limit, hint=rng.randrange(200))
        assert (walked.distance_m > limit) == (exact.distance_m > limit)
        if exact.distance_m > limit:
            assert walked == exact
        else:
            inside += 1
    assert 100 < inside < 900


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


def test_facility_index_answers_as_testing_every_place_would() -> None:
    """The grid only chooses what is tested: against testing every place, for small and huge places,
    places re-registered (moved), points on cell edges and a place whose box is not finite."""
    rng = random.Random(5)
    index, places = FacilityIndex(), {}
    for i in range(300):
        fid = f"F{rng.randrange(200):03d}"  # some ids come again: a facility registered again, moved
        lon, lat = rng.uniform(-1, 1), rng.uniform(-1, 1)
        if i % 3:
            place: CirclePlace | PolygonPlace = CirclePlace(
                facility_id=fid, center=(lon, lat), radius_m=rng.choice([50, 3000, 200_000])
            )
        else:
            w = rng.choice([0.001, 0.05, 1.5])
            place = PolygonPlace(facility_id=fid, polygon=[(lon, lat), (lon + w, lat), (lon + w, lat + w)])
        index.add(place)
        places[fid] = CompiledPlace(place)
    edge = [(x * 0.05, y * 0.05) for x in range(-20, 21) for y in range(-20, 21)]
    points = [(rng.uniform(-1.2, 1.2), rng.uniform(-1.2, 1.2)) for _ in range(3000)] + edge
    for lon, lat in points:
        assert index.containing(lon, lat) == sorted(f for f, p in places.items() if p.contains(lon, lat))
    # Shapes made valid (a polygon tracing one line, a bow tie) are indexed like any other place.
    for fid, ring in (
        ("LINE", [(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)]),
        ("BOWTIE", [(0.2, 0.2), (0.4, 0.4), (0.4, 0.2), (0.2, 0.4)]),
    ):
        index.add(place := PolygonPlace(facility_id=fid, polygon=ring))
        places[fid] = CompiledPlace(place)
    for lon, lat in [(1.0, 1.0), (0.3, 0.3), (0.25, 0.3), *points[:500]]:
        assert index.containing(lon, lat) == sorted(f for f, p in places.items() if p.contains(lon, lat))
    assert len(index) == len(places)
    assert index._cells_of((math.nan,) * 4) is None and index._cells_of((0, 0, math.inf, 1)) is None


def test_distance_bound_is_never_below_the_geodesic() -> None:
    """TRK-005 skips the geodesic when the bound settles a step, so the bound must never be short of it:
    short and long steps, across the antimeridian, near the poles and the equator."""
    rng = random.Random(3)
    tight = 0
    for _ in range(20_000):
        lon1, lat1 = rng.uniform(-180, 180), rng.choice([rng.uniform(-89.9, 89.9), rng.uniform(-1, 1)])
        reach = rng.choice([0.0001, 0.01, 0.3, 1.0, 20.0])
        lon2 = (lon1 + rng.uniform(-reach, reach) + 180) % 360 - 180
        lat2 = max(-90.0, min(90.0, lat1 + rng.uniform(-reach, reach)))
        exact, bound = distance_m(lon1, lat1, lon2, lat2), distance_bound_m(lon1, lat1, lon2, lat2)
        assert bound >= exact, (lon1, lat1, lon2, lat2)
        if bound < math.inf:
            assert bound <= exact * 1.02 + 1.0  # and close enough to settle most steps
            tight += 1
    assert tight > 5_000


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
