"""The people's view of a conveyance (rules.view): the worker writes it without geometry for every
conveyance a batch touches, so that form must be the full view less the route and stops, not another."""

from sealguard.rules.engine import Engine
from sealguard.rules.view import conveyance_view
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
