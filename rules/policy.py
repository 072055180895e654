"""The policy: every threshold and severity of criteria.md, overridable per tenant, rules switchable.

A malformed policy is refused at start with :class:`PolicyError`, which names the line and the reason.
Durations are written ``90s``, ``15m``, ``2h``, ``1h30m``, ISO 8601 ``PT15M``, or a number of seconds.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from sealguard.errors import SealguardError
from sealguard.rules.catalog import RULES, SEVERITIES, RuleSpec

DEFAULT_HORIZON = 400 * 86_400.0  # the event store's retention (migration 0002)


class PolicyError(SealguardError, ValueError):
    """A policy that cannot be used. ``line`` is 1-based, ``None`` when the file is unreadable."""

    def __init__(self, reason: str, *, line: int | None = None, source: str = "policy") -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")
        self.reason = reason
        self.line = line
        self.source = source


_NUMBER = r"\d+(?:\.\d+)?"
_DURATION = re.compile(
    rf"^(?:(?P<d>{_NUMBER})d)?(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m)?(?:(?P<s>{_NUMBER})s)?(?:(?P<ms>{_NUMBER})ms)?$"
)
_ISO = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: object) -> float:
    """Seconds in a duration written as a number, ``1h30m`` (units ``d h m s ms``) or ISO 8601
    (``PT15M``); ``ValueError`` otherwise. The one grammar of every duration sealguard reads: the policy
    and the alerting configuration alike."""
    if isinstance(value, bool):
        raise ValueError("a duration, not a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = "".join(value.split())
        match = _DURATION.match(text) or _ISO.match(text.upper())
        if match is None or not any(match.groupdict().values()):
            raise ValueError(f"{value!r} is not a duration (write 90s, 15m, 2h, 1h30m or PT15M)")
        parts = {k: float(v) for k, v in match.groupdict().items() if v}
        seconds = (parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)
                   + parts.get("ms", 0) / 1000)  # fmt: skip
    else:
        raise ValueError(f"{value!r} is not a duration")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest ``1h30m``-style spelling, as ``policy show`` prints it."""
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds}s"
    d, rest = divmod(whole, 86400) if whole >= 2 * 86400 else (0, whole)  # days only past two of them
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    text = (f"{d}d" if d else "") + (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s else "")
    return text or "0s"


@dataclass(frozen=True, slots=True)
class RulePolicy:
    enabled: bool
    severity: str
    severities: MappingProxyType[str, str]
    params: MappingProxyType[str, float]


class TenantPolicy:
    """The effective policy of one tenant: what rules read.

    ``values`` flattens every threshold to ``"RULE-ID.name"``: rules read it on every GPS fix, and one
    dict lookup is measurably cheaper than a method call and two lookups."""

    __slots__ = ("rules", "values")

    def __init__(self, rules: MappingProxyType[str, RulePolicy]) -> None:
        self.rules = rules
        self.values: dict[str, float] = {
            f"{rid}.{name}": value for rid, rp in rules.items() for name, value in rp.params.items()
        }

    def enabled(self, rule_id: str) -> bool:
        return self.rules[rule_id].enabled

    def param(self, rule_id: str, name: str) -> float:
        return self.values[f"{rule_id}.{name}"]

    def severity(self, rule_id: str, which: str = "severity") -> str:
        rule = self.rules[rule_id]
        return rule.severity if which == "severity" else rule.severities[which]


Overrides = dict[str, dict[str, Any]]


def _defaults(spec: RuleSpec) -> RulePolicy:
    return RulePolicy(
        enabled=True,
        severity=spec.severity,
        severities=spec.extra_severities,
        params=MappingProxyType({k: p.default for k, p in spec.params.items()}),
    )


def _apply(base: RulePolicy, override: dict[str, Any]) -> RulePolicy:
    params = dict(base.params)
    severities = dict(base.severities)
    enabled, severity = base.enabled, base.severity
    for key, value in override.items():
        if key == "enabled":
            enabled = value
        elif key == "severity":
            severity = value
        elif key in severities:
            severities[key] = value
        else:
            params[key] = value
    return RulePolicy(enabled, severity, MappingProxyType(severities), MappingProxyType(params))


class Policy:
    """Defaults, global overrides and per-tenant overrides; ``for_tenant`` is cached."""

    def __init__(self, rules: Overrides | None = None, tenants: dict[str, Overrides] | None = None, *,
                 horizon: float = DEFAULT_HORIZON) -> None:  # fmt: skip
        #: How long the engine remembers closed trips, a seal's last use, event ids seen and conveyances
        #: with nothing open (the top-level ``horizon``; default 400 days, the event store's retention).
        self.horizon = horizon
        self._rules = rules or {}
        self._tenants = tenants or {}
        self._base = {rid: _apply(_defaults(spec), self._rules.get(rid, {})) for rid, spec in RULES.items()}
        self._cache: dict[str, TenantPolicy] = {}

    def for_tenant(self, tenant: str) -> TenantPolicy:
        cached = self._cache.get(tenant)
        if cached is None:
            overrides = self._tenants.get(tenant, {})
            rules = {rid: _apply(rp, overrides.get(rid, {})) for rid, rp in self._base.items()}
            cached = self._cache[tenant] = TenantPolicy(MappingProxyType(rules))
        return cached

    @property
    def tenants(self) -> list[str]:
        return sorted(self._tenants)

    def to_plain(self) -> dict[str, Any]:
        """The raw overrides, for snapshots (the engine records the policy it ran with)."""
        return {"rules": self._rules, "tenants": self._tenants, "horizon": self.horizon}

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> "Policy":
        return cls(data.get("rules"), data.get("tenants"), horizon=float(data.get("horizon", DEFAULT_HORIZON)))

    @classmethod
    def load(cls, path: str | Path) -> "Policy":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(f"cannot read: {exc.strerror}", source=str(path)) from exc
        except UnicodeDecodeError as exc:
            raise PolicyError(f"not a text (UTF-8) file: {exc.reason} at byte {exc.start}", source=str(path)) from exc
        return cls.parse(text, source=str(path))

    @classmethod
    def parse(cls, text: str, *, source: str = "policy") -> "Policy":
        return _PolicyReader(text, source).read()


# --- reading YAML with line numbers ---------------------------------------------------------------


class _PolicyReader:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.loader = yaml.SafeLoader(text)
        try:
            self.root = self.loader.get_single_node()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            raise PolicyError(f"not valid YAML: {getattr(exc, 'problem', exc)}", line=line, source=source) from exc

    def fail(self, node: yaml.Node, reason: str) -> PolicyError:
        return PolicyError(reason, line=node.start_mark.line + 1, source=self.source)

    def mapping(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        items = []
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node)
            if not isinstance(key, str):
                raise self.fail(key_node, f"{what}: keys must be strings, not {key!r}")
            if key in seen:
                raise self.fail(key_node, f"{what}: {key} given twice")
            seen.add(key)
            items.append((key, key_node, value_node))
        return items

    def scalar(self, node: yaml.Node) -> object:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, "expected a single value")
        return self.loader.construct_object(node)

    def read(self) -> Policy:
        if self.root is None:
            return Policy()
        rules: Overrides = {}
        tenants: dict[str, Overrides] = {}
        horizon = DEFAULT_HORIZON
        for key, key_node, value in self.mapping(self.root, "policy"):
            if key == "horizon":
                horizon = self.param("duration", self.scalar(value), value, "horizon")
                if horizon < 86_400:
                    raise self.fail(value, "horizon: at least a day (1d)")
            elif key == "rules":
                rules = self.rules(value, "rules")
            elif key == "tenants":
                for tenant, _, tenant_node in self.mapping(value, "tenants"):
                    tenants[tenant] = self.tenant(tenant_node, f"tenants.{tenant}")
            else:
                raise self.fail(key_node, f"unknown top-level key {key!r} (expected horizon, rules, tenants)")
        return Policy(rules, tenants, horizon=horizon)

    def tenant(self, node: yaml.Node, where: str) -> Overrides:
        # "The same structure" as the top level: {rules: {...}}; a bare {RULE-ID: {...}} is accepted too.
        items = self.mapping(node, where)
        if any(key == "rules" for key, _, _ in items):
            for key, key_node, _ in items:
                if key != "rules":
                    raise self.fail(key_node, f"{where}: unknown key {key!r} (expected rules)")
            return self.rules(next(v for k, _, v in items if k == "rules"), f"{where}.rules")
        return self.rules(node, where)

    def rules(self, node: yaml.Node, where: str) -> Overrides:
        out: Overrides = {}
        for rule_id, key_node, value in self.mapping(node, where):
            spec = RULES.get(rule_id)
            if spec is None:
                raise self.fail(key_node, f"{where}: unknown rule id {rule_id!r}")
            out[rule_id] = self.rule(spec, value, f"{where}.{rule_id}")
        return out

    def rule(self, spec: RuleSpec, node: yaml.Node, where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, key_node, value_node in self.mapping(node, where):
            value = self.scalar(value_node)
            if name == "enabled":
                if not isinstance(value, bool):
                    raise self.fail(value_node, f"{where}.enabled must be true or false, not {value!r}")
                out[name] = value
            elif name == "severity" or name in spec.extra_severities:
                if value not in SEVERITIES:
                    raise self.fail(value_node, f"{where}.{name} must be one of {', '.join(SEVERITIES)}")
                out[name] = value
            elif name in spec.params:
                out[name] = self.param(spec.params[name].unit, value, value_node, f"{where}.{name}")
            else:
                known = ", ".join(["enabled", "severity", *spec.extra_severities, *spec.params])
                raise self.fail(key_node, f"{where}: unknown parameter {name!r} (known: {known})")
        return out

    def param(self, unit: str, value: object, node: yaml.Node, where: str) -> float:
        if unit == "duration":
            try:
                return parse_duration(value)
            except ValueError as exc:
                raise self.fail(node, f"{where}: {exc}") from exc
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(node, f"{where} must be a number, not {value!r}")
        if value < 0 or (unit == "percent" and value > 100):
            raise self.fail(node, f"{where} out of range: {value}")
        return float(value)


def render(policy: Policy, tenant: str | None = None) -> str:
    """The effective policy as YAML, every rule with its criterion, for ``sealguard policy show``."""
    effective = policy.for_tenant(tenant or "default")
    lines = [f"# effective policy{f' for tenant {tenant}' if tenant else ''}",
             f"horizon: {format_duration(policy.horizon)}  # how long closed trips, seal uses, event ids and"
             " idle conveyances are remembered", "rules:"]  # fmt: skip
    for rule_id, spec in RULES.items():
        rp = effective.rules[rule_id]
        lines.append(f"  {rule_id}:  # {spec.title}; {spec.criterion}; {'auto' if spec.auto else 'manual'}")
        lines.append(f"    enabled: {'true' if rp.enabled else 'false'}")
        lines.append(f"    severity: {rp.severity}")
        for name, sev in rp.severities.items():
            lines.append(f"    {name}: {sev}")
        for name, value in rp.params.items():
            param = spec.params[name]
            shown = format_duration(value) if param.unit == "duration" else f"{value:g}"
            lines.append(f"    {name}: {shown}  # {param.doc}")
    if policy.tenants and tenant is None:
        lines.append(f"# tenants with overrides: {', '.join(policy.tenants)} (see --tenant)")
    return "\n".join(lines) + "\n"
