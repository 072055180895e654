"""The gateway lets every event but a seal affix pass a seal issue still waiting on the database
(``roles.gateway.INVENTORY_READERS``). That holds only while no other rule reads the seal inventory: this
runs every example scenario and a generated fleet, whole and partitioned, and records the kind of each
event during which the inventory was read."""

from collections.abc import Iterator
from typing import Any

import pytest

from bench.fleet import fleet_lines
from sealguard.roles.gateway import INVENTORY_READERS
from sealguard.rules.engine import Engine
from sealguard.rules.policy import Policy
from sealguard.rules.reference import EventTimeReference, FileOrderReference
from sealguard.stream.partitioned import replay_partitioned
from sealguard.stream.replay import replay
from tests.scenario_folders import scenario_dirs


@pytest.fixture
def readers(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """The kinds of the events being processed whenever a rule read the seal inventory."""
    seen: set[str] = set()
    current: list[str] = ["(none)"]
    process = Engine.process

    def tracked_process(self: Engine, event: Any) -> Any:
        current[0] = event.kind
        try:
            return process(self, event)
        finally:
            current[0] = "(timer or advance)"

    monkeypatch.setattr(Engine, "process", tracked_process)
    for cls in (FileOrderReference, EventTimeReference):
        original = cls.inventory

        def inventory(self: Any, seal: str, t: float, _original: Any = original) -> tuple[bool, str | None]:
            seen.add(current[0])
            return _original(self, seal, t)  # type: ignore[no-any-return]

        monkeypatch.setattr(cls, "inventory", inventory)
    yield seen


def test_only_the_declared_kinds_read_the_seal_inventory(readers: set[str]) -> None:
    inputs = [(d / "events.jsonl").read_bytes().splitlines() for d in scenario_dirs()]
    for lines in [*inputs, fleet_lines(150, 40, seed=5)]:
        replay(lines, Engine())
        replay_partitioned(lines, Policy(), 3)
    assert readers, "no rule read the inventory: this test would prove nothing"
    assert readers <= INVENTORY_READERS, f"{sorted(readers - INVENTORY_READERS)} read the seal inventory"
