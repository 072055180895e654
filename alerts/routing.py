"""Which receivers an alert reaches, in which tiers and groups: a pure walk of the routing tree.

Semantics follow Alertmanager: a node matches when all its matchers do; children are tried in order and
the first match wins unless it says ``continue``; a node with no matching child handles the alert itself;
unset settings are inherited. sealguard adds escalation tiers per route.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sealguard.alerts.config import AlertingConfig, InhibitRule, Route, Tier
from sealguard.alerts.matchers import Labels, matches_all

DEFAULT_GROUP_BY = ("tenant", "rule_id", "conveyance_id")
DEFAULT_GROUP_WAIT = 10.0
DEFAULT_GROUP_INTERVAL = 60.0
DEFAULT_REPEAT_INTERVAL = 3600.0


@dataclass(frozen=True, slots=True)
class Plan:
    """One route's decision for one alert."""

    route: str  # path in the tree, e.g. "root/1/0"
    tiers: tuple[Tier, ...]
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float

    def group_key(self, tier: int, labels: Labels) -> str:
        values = {name: labels.get(name) for name in self.group_by}
        return f"{self.route}#{tier}:" + json.dumps(values, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class _Inherited:
    receiver: str | None
    escalation: tuple[Tier, ...] | None
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float


def plans(config: AlertingConfig, labels: Labels) -> list[Plan]:
    """Every route that handles the alert (more than one through ``continue``); empty when none sends."""
    root = _Inherited(None, None, DEFAULT_GROUP_BY, DEFAULT_GROUP_WAIT, DEFAULT_GROUP_INTERVAL,
                      DEFAULT_REPEAT_INTERVAL)  # fmt: skip
    return [p for p in _walk(config.route, "root", labels, root, is_root=True) if p.tiers]


def _walk(node: Route, path: str, labels: Labels, parent: _Inherited, *, is_root: bool = False) -> list[Plan]:
    if not is_root and not matches_all(node.matchers, labels, node.conveyance_prefix):
        return []
    own_tiers = node.escalation is not None or node.receiver is not None
    here = _Inherited(
        node.receiver if node.receiver is not None else parent.receiver,
        tuple(node.escalation) if node.escalation is not None else (None if own_tiers else parent.escalation),
        tuple(node.group_by) if node.group_by is not None else parent.group_by,
        node.group_wait if node.group_wait is not None else parent.group_wait,
        node.group_interval if node.group_interval is not None else parent.group_interval,
        node.repeat_interval if node.repeat_interval is not None else parent.repeat_interval,
    )
    found: list[Plan] = []
    for i, child in enumerate(node.routes):
        got = _walk(child, f"{path}/{i}", labels, here)
        found += got
        if got and not child.continue_:
            break
    if found:
        return found
    if here.escalation:
        tiers = here.escalation
    elif here.receiver:
        tiers = (Tier(after=0.0, receivers=[here.receiver]),)
    else:
        tiers = ()
    return [Plan(path, tiers, here.group_by, here.group_wait, here.group_interval, here.repeat_interval)]


def inhibitor(rules: list[InhibitRule], target: Labels, open_alerts: Sequence[Labels]) -> str | None:
    """The id of an open alert that inhibits paging ``target`` (it is still stored and shown), if any."""
    for rule in rules:
        if target.get("rule_id") not in rule.target_rules:
            continue
        for source in open_alerts:
            if source.get("alert_id") == target.get("alert_id") or source.get("rule_id") not in rule.source_rules:
                continue
            if all(source.get(name) == target.get(name) for name in rule.equal):
                return source.get("alert_id")
    return None


def describe(config: AlertingConfig, labels: Labels) -> str:
    """The dry run of ``sealguard alerts route``: routes, tiers and timing, as text."""
    found = plans(config, labels)
    if not found:
        return "no receiver: the alert is stored and shown, but nobody is notified\n"
    lines: list[str] = []
    for plan in found:
        lines.append(f"route {plan.route}: group by {', '.join(plan.group_by)}; group_wait {_dur(plan.group_wait)},"
                     f" group_interval {_dur(plan.group_interval)}, repeat_interval {_dur(plan.repeat_interval)}"
                     " (critical alerts, until acknowledged)")  # fmt: skip
        for n, tier in enumerate(plan.tiers):
            receivers = ", ".join(f"{r} ({config.receiver(r).channel})" for r in tier.receivers)
            when = "at once" if tier.after == 0 else f"after {_dur(tier.after)} unless acknowledged"
            lines.append(f"  tier {n}: {when} -> {receivers}")
    return "\n".join(lines) + "\n"


def _dur(seconds: float) -> str:
    if seconds and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"
