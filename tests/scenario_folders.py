"""The example scenarios: the bundled ones and, when it is beside the repository, ../shared/scenarios."""

from pathlib import Path

from sealguard.sim.demo import BUNDLED_SCENARIOS

HERE = Path(__file__).parent
SHARED = HERE.parent.parent / "shared" / "scenarios"


def scenario_dirs() -> list[Path]:
    """Each example scenario's folder once: the bundled copy, else the one in ../shared/scenarios."""
    found: dict[str, Path] = {}
    for root in (BUNDLED_SCENARIOS, SHARED):
        for events in sorted(root.glob("*/events.jsonl")):
            found.setdefault(events.parent.name, events.parent)
    return [found[k] for k in sorted(found)]
