"""Every rule of the catalogue has guidance for the alert page, and nothing else does."""

from sealguard.rules.catalog import RULES
from sealguard.rules.guidance import GUIDANCE


def test_every_rule_has_its_guidance() -> None:
    assert set(GUIDANCE) == set(RULES)
    for rule_id, g in GUIDANCE.items():
        assert g.when.endswith(".") and g.steps, rule_id
        assert all(step.strip() and step[0].isupper() for step in g.steps), rule_id
