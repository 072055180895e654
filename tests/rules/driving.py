"""Driving a conveyance up the standard lane, for the rule tests."""

from tests.helpers import Stream

STEP = 0.01349  # degrees of latitude per minute at 90 km/h


def drive(s: Stream, start: float, end: float, lat0: float = 27.5) -> float:
    """Fixes every minute from ``start`` to ``end`` (inclusive) heading north at 90 km/h."""
    for i in range(round(end - start) + 1):
        s.fix(start + i, lat0 + STEP * i)
    return lat0 + STEP * (end - start)


def _detour(s: Stream, start: int, lat: float, off_fixes: int, lon: float = -98.986) -> float:
    """Drift east (0.7 km/min), stay ``off_fixes`` minutes about 1.4 km off the route, drift back."""
    path = [-98.993, *([lon] * off_fixes), -98.993, -99.0]
    for i, x in enumerate(path):
        lat += STEP
        s.fix(start + i, lat, lon=x)
    return lat
