"""The simulated fleet as JSON lines, for the live tests that need a busy stream."""

import orjson

from sealguard.sim.simfleet import Fleet


def fleet_lines(hours: float, trucks: int = 6) -> list[bytes]:
    out = []
    for at, event in Fleet(START, trucks=trucks, incident_rate=0.6, seed=5, showcase=True).events():
        if at > START + hours * 3600:
            break
        out.append(orjson.dumps(event))
    return out


START = 1_793_000_000.0  # a fixed event-time start: the same fleet every run
