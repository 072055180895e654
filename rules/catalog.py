"""Every rule of criteria.md: its CTPAT criterion, default severity, whether it resolves itself, and its
thresholds with their defaults. The policy file overrides these per tenant.

Durations are seconds, distances metres, speeds km/h.
"""

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Unit = Literal["duration", "metres", "kph", "percent"]


@dataclass(frozen=True, slots=True)
class Param:
    default: float
    unit: Unit
    doc: str


@dataclass(frozen=True, slots=True)
class RuleSpec:
    rule_id: str
    title: str
    severity: str
    auto: bool
    criterion: str
    params: MappingProxyType[str, Param] = field(default_factory=lambda: MappingProxyType({}))
    #: Severities beyond ``severity`` that the rule uses (SEAL-004 has two).
    extra_severities: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Seal rules carry the seal number in their dedup key.
    per_seal: bool = False


def _p(**params: Param) -> MappingProxyType[str, Param]:
    return MappingProxyType(params)


MIN = 60.0
HOUR = 3600.0

STOP_PARAMS = _p(
    duration=Param(15 * MIN, "duration", "how long a stop outside approved places may last"),
    stop_speed_kph=Param(5.0, "kph", "below this speed a fix counts as stopped (shared by TRK-006, COMP-002)"),
    stop_radius_m=Param(200.0, "metres", "a stop lasts while fixes stay this close to where it began"),
)

_RULES = [
    RuleSpec("SEAL-001", "seal number mismatch", "critical", False, "MSC 6.1, 6.7", per_seal=True),
    RuleSpec("SEAL-002", "seal below ISO 17712 H", "high", False, "MSC 6.2, 6.5", per_seal=True),
    RuleSpec(
        "SEAL-003",
        "seal opened outside an authorised place",
        "critical",
        False,
        "MSC 6.1, 5.29",
        per_seal=True,
    ),
    RuleSpec(
        "SEAL-004",
        "VVTT check failed",
        "high",
        False,
        "MSC 6.7",
        per_seal=True,
        extra_severities=MappingProxyType({"intact_severity": "critical"}),
    ),
    RuleSpec("SEAL-005", "seal outside controlled inventory", "high", False, "MSC 6.1, 6.6", per_seal=True),
    RuleSpec("SEAL-006", "seal number reused", "critical", False, "MSC 6.1, 6.2", per_seal=True),
    RuleSpec(
        "SEAL-008",
        "reseal without documented authority",
        "critical",
        False,
        "MSC 6.1",
        per_seal=True,
        params=_p(window=Param(2 * HOUR, "duration", "a reseal must follow a government removal within this")),
    ),
    RuleSpec(
        "SEAL-010",
        "arrival not verified",
        "high",
        False,
        "MSC 6.1, 7.28",
        params=_p(window=Param(30 * MIN, "duration", "a passing VVTT is due within this after arrival")),
    ),
    RuleSpec("SEAL-011", "departed unsealed", "critical", False, "MSC 6.2"),
    RuleSpec(
        "ESEAL-001",
        "electronic seal silent",
        "high",
        True,
        "MSC 5.14, 6.1",
        per_seal=True,
        params=_p(window=Param(30 * MIN, "duration", "longest silence of an e-seal in transit")),
    ),
    RuleSpec(
        "ESEAL-002",
        "electronic seal battery low",
        "medium",
        True,
        "MSC 6.1",
        per_seal=True,
        params=_p(battery_pct=Param(20.0, "percent", "battery below this raises the alert")),
    ),
    RuleSpec("INSP-001", "sealed before a passed inspection", "critical", False, "MSC 5.3, 5.4"),
    RuleSpec("INSP-002", "inspection incomplete", "high", False, "MSC 5.3, 5.5"),
    RuleSpec("INSP-003", "inspection found a defect", "high", False, "MSC 5.3, 5.4"),
    RuleSpec(
        "INSP-004",
        "inspection too old at sealing",
        "high",
        False,
        "MSC 5.1, 5.3",
        params=_p(max_age=Param(24 * HOUR, "duration", "oldest passed inspection acceptable at sealing")),
    ),
    RuleSpec("AGRI-001", "visible pest contamination", "high", False, "MSC 5.7, 8.1"),
    RuleSpec("AGRI-002", "wood packaging without ISPM 15 mark", "high", False, "MSC 8.1"),
    RuleSpec(
        "TRK-001",
        "route deviation",
        "high",
        True,
        "MSC 5.14",
        params=_p(
            corridor_m=Param(1000.0, "metres", "half-width of the corridor around the planned route"),
            duration=Param(3 * MIN, "duration", "how long fixes must stay outside before it fires"),
        ),
    ),
    RuleSpec("TRK-002", "unscheduled stop", "high", True, "MSC 5.16, 6.1", params=STOP_PARAMS),
    RuleSpec(
        "TRK-003",
        "tracking gap",
        "high",
        True,
        "MSC 5.14",
        params=_p(window=Param(15 * MIN, "duration", "longest silence of the tracker in transit")),
    ),
    RuleSpec(
        "TRK-004",
        "late arrival",
        "medium",
        True,
        "MSC 5.14",
        params=_p(grace=Param(30 * MIN, "duration", "allowed lateness after planned_arrival")),
    ),
    RuleSpec(
        "TRK-005",
        "impossible movement",
        "high",
        False,
        "MSC 5.29",
        params=_p(
            max_speed_kph=Param(140.0, "kph", "implied speeds above this are impossible"),
            min_distance_m=Param(1000.0, "metres", "jumps shorter than this are GPS noise, not judged"),
        ),
    ),
    RuleSpec(
        "TRK-006",
        "stop at an unexpected facility",
        "high",
        False,
        "MSC 5.14, 6.1",
        params=_p(duration=Param(5 * MIN, "duration", "stop length inside a non-approved facility")),
    ),
    RuleSpec(
        "TRK-007",
        "movement without a trip",
        "high",
        False,
        "MSC 5.1",
        params=_p(distance_m=Param(500.0, "metres", "movement allowed with no open trip")),
    ),
    RuleSpec(
        "COMP-001",
        "seal event during an unscheduled stop",
        "critical",
        False,
        "MSC 6.1, 5.16",
        params=_p(window=Param(30 * MIN, "duration", "how long after the stop ended it still counts")),
    ),
    RuleSpec(
        "COMP-002",
        "moved on without re-verifying the seal",
        "high",
        False,
        'MSC 6.1 ("after stopping")',
        params=_p(distance_m=Param(1000.0, "metres", "distance from the stop that counts as moved on")),
    ),
    RuleSpec(
        "COMP-003",
        "seal event in a blind spot or off route",
        "critical",
        False,
        "MSC 6.1, 5.29",
        params=_p(window=Param(30 * MIN, "duration", "how long after the blind spot ended it still counts")),
    ),
]

RULES: MappingProxyType[str, RuleSpec] = MappingProxyType({r.rule_id: r for r in _RULES})
SEVERITIES = ("critical", "high", "medium", "low")
