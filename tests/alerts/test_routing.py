"""Routing tree, matchers, inhibition and silences: pure tables."""

import pytest
from pydantic import ValidationError

from sealguard.alerts.config import AlertingConfig, InhibitRule
from sealguard.alerts.matchers import parse_matcher, silenced_by
from sealguard.alerts.routing import describe, inhibitor, plans
from sealguard.rules.policy import parse_duration

CONFIG = AlertingConfig.model_validate(
    {
        "receivers": [
            {"name": "ops", "webhook": {"url": "http://127.0.0.1:1/ops"}},
            {"name": "pager", "pagerduty": {"routing_key": "k" * 32}},
            {"name": "manager", "email": {"to": ["duty@example.com"]}},
            {"name": "acme-chat", "slack": {"url": "http://127.0.0.1:1/slack"}},
            {"name": "machines", "topic": {"transport": "mqtt"}},
        ],
        "route": {
            "receiver": "ops",
            "group_by": ["tenant", "rule_id"],
            "group_wait": "5s",
            "routes": [
                {
                    "matchers": ['severity="critical"', 'rule_id=~"SEAL-.*|COMP-.*"'],
                    "continue": True,
                    "escalation": [{"after": "0s", "receivers": ["pager"]}, {"after": "10m", "receivers": ["manager"]}],
                    "repeat_interval": "30m",
                },
                {
                    "matchers": ['tenant="acme"'],
                    "receiver": "acme-chat",
                    "group_wait": "1m",
                    "routes": [{"conveyance_prefix": "MSCU", "receiver": "machines"}],
                },
                {"matchers": ["facility=DOCK-7"], "receiver": "manager"},
            ],
        },
    }
)


def labels(**kw: str) -> dict[str, str | None]:
    base: dict[str, str | None] = {
        "tenant": "globex",
        "rule_id": "TRK-004",
        "severity": "medium",
        "conveyance_id": "TRUCK-1",
        "trip_id": "T1",
        "facility": None,
        "alert_id": "a1",
    }
    base.update(kw)
    return base


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        # nothing special: the root's receiver
        (labels(), [("root", [(0.0, ["ops"])])]),
        # critical seal alert of another tenant: the escalation route; continue finds no other match -> only it
        (labels(rule_id="SEAL-003", severity="critical"), [("root/0", [(0.0, ["pager"]), (600.0, ["manager"])])]),
        # critical seal alert of acme: escalation, and (continue) the acme route
        (
            labels(tenant="acme", rule_id="SEAL-001", severity="critical"),
            [("root/0", [(0.0, ["pager"]), (600.0, ["manager"])]), ("root/1", [(0.0, ["acme-chat"])])],
        ),
        # acme with a MSCU conveyance: the nested route wins over its parent
        (labels(tenant="acme", conveyance_id="MSCU1234565"), [("root/1/0", [(0.0, ["machines"])])]),
        # high, not critical: the escalation route does not match
        (labels(rule_id="SEAL-003", severity="high"), [("root", [(0.0, ["ops"])])]),
        # facility matcher
        (labels(facility="DOCK-7"), [("root/2", [(0.0, ["manager"])])]),
    ],
)
def test_routes(alert: dict[str, str | None], expected: list[tuple[str, list[tuple[float, list[str]]]]]) -> None:
    got = [(p.route, [(t.after, list(t.receivers)) for t in p.tiers]) for p in plans(CONFIG, alert)]
    assert got == expected


def test_settings_inherit_and_override() -> None:
    (esc,) = [p for p in plans(CONFIG, labels(rule_id="SEAL-003", severity="critical"))]
    assert (esc.group_wait, esc.group_by, esc.repeat_interval) == (5.0, ("tenant", "rule_id"), 1800.0)
    (acme,) = plans(CONFIG, labels(tenant="acme", conveyance_id="MSCU1"))
    assert acme.group_wait == 60.0  # inherited from the acme route, not the root


def test_group_key_depends_on_group_by_only() -> None:
    (p,) = plans(CONFIG, labels())
    assert p.group_key(0, labels(conveyance_id="A")) == p.group_key(0, labels(conveyance_id="B"))
    assert p.group_key(0, labels(rule_id="TRK-003")) != p.group_key(0, labels())
    assert p.group_key(0, labels()) != p.group_key(1, labels())


def test_no_receiver_means_no_plan() -> None:
    assert plans(AlertingConfig(), labels()) == []
    assert "nobody is notified" in describe(AlertingConfig(), labels())


def test_describe_prints_tiers() -> None:
    text = describe(CONFIG, labels(rule_id="SEAL-003", severity="critical"))
    assert "tier 0: at once -> pager (pagerduty)" in text
    assert "tier 1: after 10m unless acknowledged -> manager (email)" in text


@pytest.mark.parametrize(
    ("text", "hit", "miss"),
    [
        ('severity="critical"', {"severity": "critical"}, {"severity": "high"}),
        ("severity!=low", {"severity": "high"}, {"severity": "low"}),
        ('rule=~"SEAL-00[13]"', {"rule_id": "SEAL-003"}, {"rule_id": "SEAL-0031"}),
        ('conveyance!~"MSCU.*"', {"conveyance_id": "TRUCK"}, {"conveyance_id": "MSCU1"}),
        ('facility=""', {}, {"facility": "DOCK"}),
    ],
)
def test_matchers(text: str, hit: dict[str, str], miss: dict[str, str]) -> None:
    m = parse_matcher(text)
    assert m.matches(hit)
    assert not m.matches(miss)


@pytest.mark.parametrize("bad", ["severity", "colour=red", 'rule=~"("', "=x"])
def test_bad_matchers_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_matcher(bad)


def test_config_errors_are_clear() -> None:
    with pytest.raises(ValidationError, match="unknown receivers: nobody"):
        AlertingConfig.model_validate({"route": {"receiver": "nobody"}})
    with pytest.raises(ValidationError, match="exactly one of"):
        AlertingConfig.model_validate({"receivers": [{"name": "x"}]})
    with pytest.raises(ValidationError, match="unknown label"):
        AlertingConfig.model_validate({"route": {"matchers": ["colour=red"]}})
    assert parse_duration("1h") == 3600 and parse_duration("250ms") == 0.25 and parse_duration(5) == 5


RULES = [InhibitRule(source_rules=["COMP-001"], target_rules=["TRK-002", "SEAL-003"])]


def test_inhibition_needs_an_open_source_on_the_same_trip() -> None:
    comp = labels(rule_id="COMP-001", alert_id="c1", severity="critical")
    target = labels(rule_id="SEAL-003", alert_id="s1")
    assert inhibitor(RULES, target, [comp]) == "c1"
    assert inhibitor(RULES, target, [labels(rule_id="COMP-001", alert_id="c2", trip_id="T2")]) is None
    assert inhibitor(RULES, labels(rule_id="SEAL-006"), [comp]) is None  # not a component of COMP-001
    assert inhibitor(RULES, comp, [comp]) is None  # never itself
    assert inhibitor(RULES, target, []) is None


def test_silences() -> None:
    silences = [("s1", ['conveyance_id="TRUCK-1"', 'rule_id=~"TRK-.*"']), ("s2", ['tenant="other"'])]
    assert silenced_by(silences, labels()) == "s1"
    assert silenced_by(silences, labels(rule_id="SEAL-003")) is None
    assert silenced_by([("empty", [])], labels()) is None  # no matchers never silences everything


def test_example_config_and_route_command() -> None:
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).parents[2] / "deploy" / "alerting.example.yaml"
    out = subprocess.run([sys.executable, "-m", "sealguard.cli", "alerts", "route", "--config", str(example),
                          "--tenant", "acme", "--rule", "SEAL-003", "--severity", "critical",
                          "--conveyance", "MSCU1234565"], capture_output=True, text=True, check=True)  # fmt: skip
    assert "tier 0: at once -> on-call (pagerduty), ops-chat (slack)" in out.stdout
    assert "tier 1: after 15m unless acknowledged -> security-lead (email)" in out.stdout
    assert "route root/1: " in out.stdout and "machines (topic)" in out.stdout
    args = ["alerts", "route", "--config", str(example), "--tenant", "acme", "--rule", "X", "--severity", "urgent"]
    bad = subprocess.run([sys.executable, "-m", "sealguard.cli", *args], capture_output=True, text=True, check=False)
    assert bad.returncode == 2
