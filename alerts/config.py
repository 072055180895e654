"""The alerting file: receivers, the routing tree, inhibition and the two-person rule list (YAML).

Modelled on Alertmanager's configuration so operators recognise it, with sealguard's additions: an
escalation policy per route (tiers of receivers, each after a delay, stopped by acknowledgement) and the
rules whose resolution needs a second person.
"""

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sealguard.alerts.matchers import validate_all
from sealguard.errors import SealguardError
from sealguard.rules.policy import parse_duration

Duration = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookConfig(_Strict):
    url: str
    secret: str | None = Field(None, description="HMAC-SHA256 key for X-Sealguard-Signature")
    timeout: Duration = 10.0


class PagerDutyConfig(_Strict):
    routing_key: str
    url: str = "https://events.pagerduty.com/v2/enqueue"
    timeout: Duration = 10.0


class SlackConfig(_Strict):
    url: str
    channel: str | None = None
    timeout: Duration = 10.0


class EmailConfig(_Strict):
    to: list[str] = Field(min_length=1)
    sender: str = Field("sealguard@localhost", alias="from")
    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    use_tls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: Duration = 15.0


class TopicConfig(_Strict):
    """Machine-readable alert changes on the monitor's own MQTT broker or Kafka cluster."""

    transport: Literal["mqtt", "kafka"]
    topic: str | None = Field(None, description="default sealguard/v1/{tenant}/alerts or sealguard.alerts")


class Receiver(_Strict):
    name: str
    webhook: WebhookConfig | None = None
    pagerduty: PagerDutyConfig | None = None
    slack: SlackConfig | None = None
    email: EmailConfig | None = None
    topic: TopicConfig | None = None
    send_resolved: bool = True

    @model_validator(mode="after")
    def _one_channel(self) -> "Receiver":
        given = [n for n in ("webhook", "pagerduty", "slack", "email", "topic") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"receiver {self.name!r}: give exactly one of webhook, pagerduty, slack, email, topic")
        return self

    @property
    def channel(self) -> str:
        return next(n for n in ("webhook", "pagerduty", "slack", "email", "topic") if getattr(self, n) is not None)


class Tier(_Strict):
    after: Duration = 0.0
    receivers: list[str] = Field(min_length=1)

    @field_validator("after", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float:
        return parse_duration(v)


class Route(_Strict):
    """One node of the routing tree. Unset fields are inherited from the parent node."""

    matchers: list[str] = Field(default_factory=list, description='Alertmanager style: severity="critical"')
    conveyance_prefix: str | None = None
    receiver: str | None = None
    escalation: list[Tier] | None = None
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    continue_: bool = Field(False, alias="continue")
    routes: list["Route"] = Field(default_factory=list)

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, v: list[str]) -> list[str]:
        return validate_all(v)

    @field_validator("group_wait", "group_interval", "repeat_interval", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float | None:
        return None if v is None else parse_duration(v)


class InhibitRule(_Strict):
    """While a ``source`` alert is open, alerts of ``target`` rules that agree on ``equal`` are not paged."""

    source_rules: list[str]
    target_rules: list[str]
    equal: list[str] = Field(default_factory=lambda: ["tenant", "conveyance_id", "trip_id"])


#: Which component alerts each correlation stands for (criteria.md, "Correlations").
DEFAULT_INHIBIT = [
    InhibitRule(source_rules=["COMP-001"], target_rules=["TRK-002", "SEAL-003"]),
    InhibitRule(source_rules=["COMP-002"], target_rules=["TRK-002"]),
    InhibitRule(
        source_rules=["COMP-003"],
        target_rules=["TRK-001", "TRK-003", "ESEAL-001", "SEAL-001", "SEAL-003"],
    ),
]
#: Critical seal alerts whose closure needs a second person (configurable).
DEFAULT_TWO_PERSON = ["SEAL-001", "SEAL-003", "COMP-001", "COMP-003"]


class AlertingConfig(_Strict):
    public_url: str = Field("http://127.0.0.1:8000", description="base of alert links in notifications")
    receivers: list[Receiver] = Field(default_factory=list)
    route: Route = Field(default_factory=Route)
    inhibit_rules: list[InhibitRule] = Field(default_factory=lambda: list(DEFAULT_INHIBIT))
    two_person_rules: list[str] = Field(default_factory=lambda: list(DEFAULT_TWO_PERSON))
    delivery_deadline: Duration = Field(3600.0, description="give up retrying a notification after this long")

    @field_validator("delivery_deadline", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float:
        return parse_duration(v)

    @model_validator(mode="after")
    def _known_receivers(self) -> "AlertingConfig":
        names = [r.name for r in self.receivers]
        if len(set(names)) != len(names):
            raise ValueError("receiver names must be unique")
        missing = sorted(_named(self.route) - set(names))
        if missing:
            raise ValueError(f"routes name unknown receivers: {', '.join(missing)}")
        return self

    def receiver(self, name: str) -> Receiver:
        return next(r for r in self.receivers if r.name == name)


def _named(route: Route) -> set[str]:
    names = {route.receiver} if route.receiver else set()
    for tier in route.escalation or []:
        names.update(tier.receivers)
    for child in route.routes:
        names |= _named(child)
    return names


def load(path: Path | None) -> AlertingConfig:
    """The file's configuration; with no file, no receivers (alerts are stored and shown, not sent)."""
    if path is None:
        return AlertingConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else " ".join(str(exc).split())
        raise ConfigError(f"{path}: cannot read the alerting configuration: {reason}") from exc
    try:
        return AlertingConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc


class ConfigError(SealguardError, ValueError):
    """An alerting configuration that cannot be used, with the file and the reasons on one line."""
