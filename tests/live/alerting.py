"""Helpers of the alerting tests (receivers' configurations, scenario streams for a tenant, tokens,
waiting for the outbox), shared with the other live tests."""

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import yaml

from sealguard.embedded.receivers import HttpReceiver, SmtpReceiver
from sealguard.sim.demo import BUNDLED_SCENARIOS
from sealguard.store import tokens
from tests.live.monitor import lines_of
from tests.live.servers import query

SCENARIOS = BUNDLED_SCENARIOS


SECRET = "hook-secret"


def tenant_lines(scenario: str, tenant: str) -> list[bytes]:
    """A scenario's events for one tenant (fresh event ids, so tests never collide)."""
    tag = uuid.uuid4().hex[:6]
    out = []
    for line in lines_of(SCENARIOS / scenario / "events.jsonl"):
        event = orjson.loads(line)
        event.update(tenant=tenant, event_id=f"{event['event_id']}-{tag}")
        out.append(orjson.dumps(event))
    return out


def write_config(tmp: Path, hook: HttpReceiver, smtp: SmtpReceiver, **route: Any) -> Path:
    config = {
        "receivers": [
            {"name": "ops-hook", "webhook": {"url": f"{hook.url}/hook", "secret": SECRET}},
            {"name": "pager", "pagerduty": {"routing_key": "r" * 32, "url": f"{hook.url}/v2/enqueue"}},
            {"name": "duty-mail", "email": {"to": ["duty@example.com"], "port": smtp.port}},
            {"name": "chat", "slack": {"url": f"{hook.url}/slack"}},
            {"name": "escalate", "webhook": {"url": f"{hook.url}/escalate"}},
            {"name": "machines", "topic": {"transport": "mqtt"}},
        ],
        "route": {
            "receiver": "ops-hook",
            "group_wait": "0s",
            "group_interval": "0s",
            "routes": [
                {
                    "matchers": ['severity="critical"'],
                    "continue": True,
                    "repeat_interval": "1h",
                    "escalation": [
                        {"after": "0s", "receivers": ["pager", "duty-mail", "chat"]},
                        {"after": "1h", "receivers": ["escalate"]},
                    ],
                },
                {"matchers": ['rule_id=~".*"'], "receiver": "machines", "continue": True},
                {"receiver": "ops-hook"},
            ],
            **route,
        },
    }
    path = tmp / "alerting.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


async def post(base: str, token: str, path: str, body: Any = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(f"{base}{path}", json=body, headers={"Authorization": f"Bearer {token}"})


async def token_for(url: str, tenant: str, role: str, label: str) -> str:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await tokens.create(conn, tenant, role, label=label)  # type: ignore[arg-type]


def hook_only(tmp: Path, hook: HttpReceiver) -> Path:
    config = {
        "receivers": [{"name": "ops-hook", "webhook": {"url": f"{hook.url}/hook", "secret": SECRET}}],
        "route": {"receiver": "ops-hook", "group_wait": "0s", "group_interval": "0s"},
    }
    path = tmp / "alerting.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def merged(*scenarios: str, tenant: str = "acme", extra: list[bytes] | None = None) -> list[bytes]:
    """Several scenarios as one stream in event-time order (they share a morning, on different trucks)."""
    lines = [line for name in scenarios for line in tenant_lines(name, tenant)] + (extra or [])
    return sorted(lines, key=lambda line: str(orjson.loads(line)["occurred_at"]))


def several_scenarios(tenant: str) -> list[bytes]:
    return merged("seal-mismatch-at-dock", "unscheduled-stop", "inspection-defect", "route-deviation", tenant=tenant)


async def settled_outbox(url: str) -> bool:
    """Nothing due is left to send (repeats and escalation tiers due in an hour do not count)."""
    rows = await query(
        url,
        "SELECT count(*) FILTER (WHERE status IN ('pending', 'sending')"
        " AND due_at < now() + interval '5 minutes'), count(*) FROM outbox",
    )
    return bool(rows[0][1] > 0 and rows[0][0] == 0)


async def every_alert_sent_or_cleared(url: str, sent: set[str]) -> None:
    """Every alert was delivered, unless it cleared itself before its page went out."""
    opened = {r[0] for r in await query(url, "SELECT alert_id::text FROM alerts WHERE tenant = 'acme'")}
    cancelled = await query(
        url,
        "SELECT o.alert_id::text, a.status, o.reason FROM outbox o JOIN alerts a"
        " USING (alert_id) WHERE o.status = 'cancelled'",
    )
    assert all(st == "resolved" and reason == "auto-resolved" for _, st, reason in cancelled)
    assert len(sent) >= 4 and opened == sent | {a for a, _, _ in cancelled}


def delivered_ok(hook: HttpReceiver) -> Counter[str]:
    return Counter(r.headers["idempotency-key"] for r in hook.to("/hook") if r.status == 200)
