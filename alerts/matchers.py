"""Alertmanager-style label matchers, shared by routes, silences and the API."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

Labels = Mapping[str, str | None]

#: The label names a matcher may use.
LABELS = ("tenant", "rule_id", "severity", "facility", "conveyance_id", "trip_id", "alert_id")
_ALIASES = {"rule": "rule_id", "conveyance": "conveyance_id", "trip": "trip_id", "facility_id": "facility"}
_MATCHER = re.compile(r'^\s*([a-z_]+)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(\S*))\s*$')


def labels_of(alert: Mapping[str, object]) -> dict[str, str | None]:
    """The labels of an alert document (the API's alert JSON)."""
    out = {name: (None if alert.get(name) is None else str(alert.get(name))) for name in LABELS}
    out["facility"] = None if alert.get("facility_id") is None else str(alert.get("facility_id"))
    return out


@dataclass(frozen=True, slots=True)
class Matcher:
    label: str
    op: str
    value: str

    def matches(self, labels: Labels) -> bool:
        actual = labels.get(self.label) or ""
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = re.fullmatch(self.value, actual) is not None
        return hit if self.op == "=~" else not hit


@cache
def parse_matcher(text: str) -> Matcher:
    """``severity="critical"``, ``rule_id=~"SEAL-.*"``, ``tenant!=acme`` (Alertmanager's syntax). Cached:
    routes are matched for every alert, and their matchers never change."""
    m = _MATCHER.match(text)
    if not m:
        raise ValueError(f'not a matcher: {text!r} (expected label="value", with =, !=, =~ or !~)')
    label = _ALIASES.get(m.group(1), m.group(1))
    if label not in LABELS:
        raise ValueError(f"unknown label {m.group(1)!r} in matcher {text!r}; known: {', '.join(LABELS)}")
    value = m.group(3) if m.group(3) is not None else m.group(4)
    value = value.replace('\\"', '"')
    if m.group(2) in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regular expression in {text!r}: {exc}") from None
    return Matcher(label, m.group(2), value)


def matches_all(matchers: list[str], labels: Labels, conveyance_prefix: str | None = None) -> bool:
    if conveyance_prefix is not None and not (labels.get("conveyance_id") or "").startswith(conveyance_prefix):
        return False
    return all(parse_matcher(m).matches(labels) for m in matchers)


def silenced_by(silences: list[tuple[str, list[str]]], labels: Labels) -> str | None:
    """The id of the first active silence whose matchers all match (``silences``: id and matchers)."""
    for silence_id, matchers in silences:
        if matchers and matches_all(matchers, labels):
            return silence_id
    return None


def validate_all(matchers: list[str]) -> list[str]:
    """For validators: parse each matcher so a bad one is refused with its reason."""
    for text in matchers:
        parse_matcher(text)
    return matchers
