"""Configuration from ``SEALGUARD_*`` environment variables and an optional YAML file.

Precedence: environment over the file (``SEALGUARD_CONFIG``) over the defaults below.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sealguard.store.dead_letters import DeadLetterLimits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEALGUARD_", extra="forbid")

    config: Path | None = Field(None, description="YAML file with any of these settings (lower-case keys)")
    database_url: str | None = Field(None, description="PostgreSQL URL; none starts an embedded server")
    mqtt_url: str | None = Field(None, description="mqtt://[user:pass@]host:port; none starts an embedded broker")
    mqtt_protocol: str = Field("5", description="'5' or '3.1.1' (the embedded amqtt broker speaks 3.1.1)")
    mqtt_shared_group: str | None = Field(None, description="MQTT 5 shared-subscription group")
    mqtt_client_id: str = Field("sealguard-monitor", description="external broker: the persistent session's id")
    mqtt_acl: Literal["none", "sealguard"] = Field(
        "none",
        description="external broker: 'sealguard' when it enforces the files of `sealguard mqtt sync`, so that"
        " the role a topic carries applies; 'none' trusts every publisher",
    )
    mqtt_ca_file: str | None = None
    mqtt_embedded_port: int = 1883
    mqtt_embedded: Literal["auto", "mosquitto", "amqtt"] = Field(
        "auto", description="the embedded broker: Mosquitto when installed (auto), or the one named"
    )
    kafka_bootstrap: str | None = Field(None, description="host:port[,host:port]; Kafka is used only when set")
    kafka_topic: str = "sealguard.events"
    kafka_group: str = "sealguard-workers"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ca_file: str | None = None
    kafka_partitions: int = Field(6, ge=1, description="partitions of the events topic when a role creates it")
    worker_id: str | None = Field(None, description="this worker's name in the partition table; default host-pid")
    checkpoint_every_s: float = Field(60.0, description="a worker checkpoints each partition at least this often")
    checkpoint_every_records: int = Field(50_000, description="... or after this many records")
    http: str = Field("127.0.0.1:8000", description="host:port of the API and dashboard")
    data_dir: Path = Field(Path(".sealguard"), description="embedded database and broker data, the admin token")
    policy: Path | None = Field(None, description="policy YAML (criteria.md); none uses the defaults")
    signing_key: Path | None = Field(
        None, description="the site's Ed25519 key that signs incident packages; default {data_dir}/site-signing.key"
    )
    site_name: str = Field("sealguard", description="the site's name on incident packages")
    photo_max_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="bytes in one dock photo (the page scales to fit)"
    )
    photo_location: Literal["strip", "keep"] = Field(
        "strip", description="a photo's EXIF GPS location: stripped before it is stored, or kept"
    )
    alerting: Path | None = Field(None, description="alerting YAML: receivers, routes, inhibition (docs/alerting.md)")
    public_url: str | None = Field(None, description="base URL of links in notifications; default http://{http}")
    notifier: bool = Field(True, description="run the notifier role (drains the outbox) in this process")
    notify_poll_s: float = 0.5
    notify_lease_s: float = Field(60.0, description="a claimed delivery not settled by then is taken over")
    notify_retry_base_s: float = 2.0
    notify_retry_cap_s: float = 300.0
    http_rate_per_s: float = Field(1000.0, description="events submitted per second per token (0: no limit)")
    http_rate_burst: float = Field(2000.0, description="events a token may submit at once after a quiet spell")
    metrics_token: SecretStr | None = Field(None, description="when set, GET /metrics needs it as a bearer token")
    http_max_batch: int = 1000
    map_tile_url: str | None = Field(
        None,
        description="tile URL for the maps, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png; none: the"
        " bundled offline base map (Natural Earth countries, US states)",
    )
    map_attribution: str = Field("", description="the tile provider's attribution, shown on the map (required by most)")
    map_roads: Path | None = Field(
        None,
        description="roads for the offline base map: a GeoJSON of road lines, e.g. Natural Earth's"
        " ne_10m_roads_north_america (public domain); none: no roads (docs/operations.md)",
    )
    oidc_issuer: str | None = Field(None, description="OpenID Connect issuer URL; set it to offer single sign-on")
    oidc_client_id: str | None = Field(None, description="this site's client id at the identity provider")
    oidc_client_secret: SecretStr | None = Field(None, description="client secret (none: a public client, PKCE only)")
    oidc_scopes: str = "openid profile email"
    oidc_role_claim: str = Field("sealguard_role", description="claim with the role (or a list of roles/groups)")
    oidc_tenant_claim: str = Field("sealguard_tenant", description="claim with the person's tenant")
    oidc_facility_claim: str = Field("sealguard_facility", description="claim with a scanner's facility")
    oidc_tenant: str | None = Field(None, description="a single-tenant site: every IdP person is in this tenant")
    oidc_label: str = Field("Single sign-on", description="the sign-in button's text, e.g. the IdP's name")
    session_hours: float = Field(12.0, gt=0, description="a page session ends this long after sign-in (a shift)")
    session_idle_minutes: float = Field(60.0, gt=0, description="... or after this long unused (open pages use it)")
    oidc_recheck_minutes: float = Field(
        5.0,
        gt=0,
        description="a single sign-on session asks the provider (userinfo) again this often; a person it"
        " no longer vouches for, or whose role changed, is signed out",
    )
    signin_failures_per_account_and_address: int = Field(5, ge=1, description="failed sign-ins of one account"
                                                         " from one address before that pair waits")  # fmt: skip
    signin_failures_per_account: int = Field(20, ge=1, description="... of one account from every address")
    signin_failures_per_address: int = Field(30, ge=1, description="... from one address over every account")
    signin_failures_per_browser: int = Field(5, ge=1, description="... from a browser that signed in to the"
                                             " account before (it is not held by the others)")  # fmt: skip
    signin_lock_minutes: float = Field(15.0, gt=0, description="how long a pair, account, address or browser waits")
    cookie_secure: Literal["auto", "always", "never"] = Field(
        "auto", description="Secure cookies: auto = when public_url or the request is https"
    )
    http_max_body: int = Field(5 * 1024 * 1024, description="bytes in one request body (events, partner messages)")
    http_max_json_containers: int = Field(
        100_000, ge=1, description="JSON objects and arrays one request body may hold (5 MiB of '{},' is 1.7 M)"
    )
    partner_max_item_bytes: int = Field(
        256 * 1024, ge=1, description="bytes of one partner item (a DCSA event, an EPCIS event, a Traccar position)"
    )
    partner_max_message_bytes: int = Field(
        16 * 1024 * 1024, ge=1, description="bytes of partner items the events of one message carry together"
    )
    trusted_proxies: str = Field(
        "",
        description="addresses (comma-separated, or '*') of reverse proxies whose X-Forwarded-For and"
        " X-Forwarded-Proto are believed; none by default, so a client cannot choose the address it is throttled by",
    )
    max_event_bytes: int = Field(1024 * 1024, ge=1024, description="bytes of one event, on every transport")
    dead_letter_keep_bytes: int = Field(64 * 1024, ge=0, description="bytes kept of each dead-lettered input")
    dead_letter_quota: int = Field(100_000, ge=0, description="dead letters kept per tenant and sender per UTC day")
    dead_letter_quota_bytes: int = Field(
        256 * 1024 * 1024, ge=0, description="bytes of dead letters kept per tenant and sender per UTC day"
    )
    dead_letter_retention_days: float = Field(90.0, gt=0, description="dead letters older than this are pruned")
    idle_advance_after: float = Field(60.0, description="seconds of silence before the clock follows the wall clock")
    max_future_skew: float = Field(
        300.0, description="seconds an event's occurred_at may lie ahead of its receipt; 0 turns the check off"
    )
    log_partitions: int = Field(1, ge=1, le=64, description="partitions of up's embedded log (one engine each)")
    snapshot_every_s: float | None = Field(
        None, description="no longer used (up checkpoints as a worker does: checkpoint_every_s); kept so old files load"
    )
    queue_size: int = 10_000
    log_level: str = "INFO"

    @field_validator("http")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError("expected host:port, e.g. 127.0.0.1:8000")
        return value

    @property
    def dead_letter_limits(self) -> DeadLetterLimits:
        return DeadLetterLimits(keep_bytes=self.dead_letter_keep_bytes, quota_letters=self.dead_letter_quota,
                                quota_bytes=self.dead_letter_quota_bytes,
                                retention=timedelta(days=self.dead_letter_retention_days))  # fmt: skip

    @property
    def http_host(self) -> str:
        return self.http.rpartition(":")[0]

    @property
    def http_port(self) -> int:
        return int(self.http.rpartition(":")[2])

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlFile(settings_cls))


class _YamlFile(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - unused
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        import os

        path = os.environ.get("SEALGUARD_CONFIG")
        if not path:
            return {}
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of settings")
        return data


def signing_key_path(s: Settings) -> Path:
    """Where the site's signing key is (docs/evidence.md)."""
    return s.signing_key or s.data_dir / "site-signing.key"
