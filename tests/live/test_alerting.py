"""Alerting end to end against real receivers: a local HTTP receiver (webhook, PagerDuty, Slack), an SMTP
server (aiosmtpd), the MQTT broker; acknowledgement stopping escalation; two-person closure; silences;
a receiver failing then recovering; the notifier killed mid-delivery."""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import orjson
import psycopg
import yaml

from alerts import payloads
from alerts.audit import verify
from sealguard.receivers import HttpReceiver, SmtpReceiver
from sealguard.servers import MqttBroker, free_port
from store import tokens
from store.alerts import history
from tests.live.monitor import lines_of, running, settings
from tests.live.servers import query, wait_for

SHARED = Path(__file__).parents[3] / "shared" / "scenarios"
SECRET = "hook-secret"


def tenant_lines(scenario: str, tenant: str) -> list[bytes]:
    """A scenario's events for one tenant (fresh event ids, so tests never collide)."""
    tag = uuid.uuid4().hex[:6]
    out = []
    for line in lines_of(SHARED / scenario / "events.jsonl"):
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
            "receiver": "ops-hook", "group_wait": "0s", "group_interval": "0s",
            "routes": [
                {"matchers": ['severity="critical"'], "continue": True, "repeat_interval": "1h",
                 "escalation": [{"after": "0s", "receivers": ["pager", "duty-mail", "chat"]},
                                {"after": "1h", "receivers": ["escalate"]}]},
                {"matchers": ['rule_id=~".*"'], "receiver": "machines", "continue": True},
                {"receiver": "ops-hook"},
            ],
            **route,
        },
    }  # fmt: skip
    path = tmp / "alerting.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


async def post(base: str, token: str, path: str, body: Any = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(f"{base}{path}", json=body, headers={"Authorization": f"Bearer {token}"})


async def token_for(url: str, tenant: str, role: str, label: str) -> str:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await tokens.create(conn, tenant, role, label=label)  # type: ignore[arg-type]


async def test_page_mail_chat_topic_then_ack_stops_escalation_and_two_people_close(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    hook = await HttpReceiver().start()
    smtp = SmtpReceiver().start()
    received: list[dict[str, Any]] = []
    try:
        s = settings(tmp_path, database_url, mqtt_broker, alerting=write_config(tmp_path, hook, smtp),
                     notify_poll_s=0.1)  # fmt: skip
        async with aiomqtt.Client("127.0.0.1", mqtt_broker.port, identifier="sub-" + uuid.uuid4().hex[:6]) as sub:
            await sub.subscribe("sealguard/v1/acme/alerts", qos=1)

            async def listen() -> None:
                async for message in sub.messages:
                    received.append(orjson.loads(bytes(message.payload)))  # type: ignore[arg-type]

            listener = asyncio.create_task(listen())
            async with running(s) as monitor:
                base = f"http://{s.http}"
                lines = tenant_lines("seal-mismatch-at-dock", "acme")
                resp = await post(base, monitor.token, "/api/v1/events", [orjson.loads(x) for x in lines])
                assert resp.status_code == 200 and resp.json()["accepted"] == len(lines)

                await wait_for(lambda: (len(hook.to("/v2/enqueue")) >= 1 and smtp.messages and hook.to("/slack")
                                             and hook.to("/hook") and received), what="page, mail, chat, webhook, topic")  # fmt: skip
                trigger = hook.to("/v2/enqueue")[0].json()
                assert trigger["event_action"] == "trigger" and trigger["payload"]["severity"] == "critical"
                alert_id = trigger["payload"]["custom_details"]["alert_id"]
                (alert,) = await query(database_url, "SELECT dedup_key, rule_id FROM alerts WHERE alert_id = %s",
                                       alert_id)  # fmt: skip
                assert trigger["dedup_key"] == alert[0] and alert[1] == "SEAL-001"

                # the webhook is signed over timestamp and body
                web = hook.to("/hook")[0]
                assert web.headers["x-sealguard-signature"] == payloads.sign(
                    SECRET, web.headers["x-sealguard-timestamp"], web.body)
                assert web.json()["alerts"][0]["alert"]["alert_id"] == alert_id
                mail = smtp.messages[0]
                assert isinstance(mail, EmailMessage) and "SEAL-001" in str(mail["Subject"])
                assert {p.get_content_type() for p in mail.iter_parts()} == {"text/plain", "text/html"}
                assert received[0]["event"] == "trigger" and received[0]["alert"]["alert_id"] == alert_id

                # the escalation tier is waiting; acknowledging cancels it and tells PagerDuty
                tier1 = "SELECT status FROM outbox WHERE alert_id = %s AND tier = 1"
                assert [r[0] for r in await query(database_url, tier1, alert_id)] == ["pending"]
                alice = await token_for(database_url, "acme", "operator", "alice")
                bob = await token_for(database_url, "acme", "operator", "bob")
                other = await token_for(database_url, "globex", "operator", "mallory")
                assert (await post(base, other, f"/api/v1/alerts/{alert_id}/acknowledge")).status_code == 404
                ack = await post(base, alice, f"/api/v1/alerts/{alert_id}/acknowledge", {"note": "calling the dock"})
                assert ack.status_code == 200 and ack.json()["alert"]["status"] == "acknowledged"
                assert [r[0] for r in await query(database_url, tier1, alert_id)] == ["cancelled"]
                await wait_for(lambda: (any(r.json()["event_action"] == "acknowledge"
                                                 for r in hook.to("/v2/enqueue"))), what="PagerDuty acknowledge")  # fmt: skip
                assert (await post(base, bob, f"/api/v1/alerts/{alert_id}/acknowledge")).status_code == 409

                # two-person closure: alice asks, alice cannot confirm, bob confirms
                first = await post(base, alice, f"/api/v1/alerts/{alert_id}/resolve", {"note": "seal re-read"})
                assert first.status_code == 200 and first.json()["alert"]["status"] == "acknowledged"
                assert first.json()["recorded"] == ["resolve_requested"]
                same = await post(base, alice, f"/api/v1/alerts/{alert_id}/resolve")
                assert same.status_code == 409 and "second person" in same.json()["detail"]
                done = await post(base, bob, f"/api/v1/alerts/{alert_id}/resolve", {"note": "confirmed"})
                assert done.status_code == 200 and done.json()["alert"]["status"] == "resolved"
                await wait_for(lambda: (any(r.json()["event_action"] == "resolve"
                                                 for r in hook.to("/v2/enqueue"))), what="PagerDuty resolve")  # fmt: skip

                async with httpx.AsyncClient() as c:
                    detail = (await c.get(f"{base}/api/v1/alerts/{alert_id}",
                                          headers={"Authorization": f"Bearer {alice}"})).json()  # fmt: skip
                actions = [(h["action"], h["actor"]) for h in detail["history"]]
                assert actions == [("opened", "sealguard"), ("acknowledged", "alice"), ("resolve_requested", "alice"),
                                   ("resolved", "bob")]  # fmt: skip
                assert detail["history"][1]["note"] == "calling the dock"
                assert {e["event_id"] for e in detail["evidence"]} == set(detail["alert"]["evidence"])
                assert ("escalate", "cancelled") in {(n["receiver"], n["status"]) for n in detail["notifications"]}
                assert not hook.to("/escalate")
                async with await psycopg.AsyncConnection.connect(database_url, options="-c timezone=UTC") as conn:
                    assert verify(await history(conn)) is None
            listener.cancel()
    finally:
        await hook.stop()
        smtp.stop()

