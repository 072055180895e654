"""Alerting end to end against real receivers: a local HTTP receiver (webhook, PagerDuty, Slack), an SMTP
server (aiosmtpd), the MQTT broker; acknowledgement stopping escalation; two-person closure; silences;
a receiver failing then recovering; the notifier killed mid-delivery."""

import asyncio
import os
import signal
import subprocess
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

from sealguard.alerts import payloads
from sealguard.alerts.audit import verify
from sealguard.embedded.receivers import HttpReceiver, SmtpReceiver
from sealguard.embedded.servers import KafkaBroker, MqttBroker, free_port
from sealguard.store.alerts import history
from tests.live.alerting import (
    SECRET,
    delivered_ok,
    every_alert_sent_or_cleared,
    hook_only,
    merged,
    post,
    settled_outbox,
    several_scenarios,
    tenant_lines,
    token_for,
    write_config,
)
from tests.live.monitor import ready, running, settings, start_up
from tests.live.people import signed_in
from tests.live.servers import query, wait_for


async def test_page_mail_chat_topic_then_ack_stops_escalation_and_two_people_close(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    hook = await HttpReceiver().start()
    smtp = SmtpReceiver().start()
    received: list[dict[str, Any]] = []
    try:
        s = settings(
            tmp_path, database_url, mqtt_broker, alerting=write_config(tmp_path, hook, smtp), notify_poll_s=0.1
        )
        async with aiomqtt.Client("127.0.0.1", mqtt_broker.port, identifier="sub-" + uuid.uuid4().hex[:6]) as sub:
            await sub.subscribe("sealguard/v1/acme/alerts", qos=1)

            async def listen() -> None:
                async for message in sub.messages:
                    received.append(orjson.loads(bytes(message.payload)))

            listener = asyncio.create_task(listen())
            async with running(s) as monitor:
                base = f"http://{s.http}"
                lines = tenant_lines("seal-mismatch-at-dock", "acme")
                resp = await post(base, monitor.token, "/api/v1/events", [orjson.loads(x) for x in lines])
                assert resp.status_code == 200 and resp.json()["accepted"] == len(lines)

                await wait_for(
                    lambda: (
                        len(hook.to("/v2/enqueue")) >= 1
                        and smtp.messages
                        and hook.to("/slack")
                        and hook.to("/hook")
                        and received
                    ),
                    what="page, mail, chat, webhook, topic",
                )
                trigger = hook.to("/v2/enqueue")[0].json()
                assert trigger["event_action"] == "trigger" and trigger["payload"]["severity"] == "critical"
                alert_id = trigger["payload"]["custom_details"]["alert_id"]
                (alert,) = await query(
                    database_url, "SELECT dedup_key, rule_id FROM alerts WHERE alert_id = %s", alert_id
                )
                assert trigger["dedup_key"] == alert[0] and alert[1] == "SEAL-001"

                # the webhook is signed over timestamp and body
                web = hook.to("/hook")[0]
                assert web.headers["x-sealguard-signature"] == payloads.sign(
                    SECRET, web.headers["x-sealguard-timestamp"], web.body
                )
                assert web.json()["alerts"][0]["alert"]["alert_id"] == alert_id
                mail = smtp.messages[0]
                assert isinstance(mail, EmailMessage) and "SEAL-001" in str(mail["Subject"])
                assert {p.get_content_type() for p in mail.iter_parts()} == {"text/plain", "text/html"}
                assert received[0]["event"] == "trigger" and received[0]["alert"]["alert_id"] == alert_id

                # the escalation tier is waiting; acknowledging cancels it and tells PagerDuty
                tier1 = "SELECT status FROM outbox WHERE alert_id = %s AND tier = 1"
                assert [r[0] for r in await query(database_url, tier1, alert_id)] == ["pending"]
                other = await token_for(database_url, "globex", "operator", "mallory")
                bot = await token_for(database_url, "acme", "operator", "ticket-bot")
                assert (await post(base, other, f"/api/v1/alerts/{alert_id}/acknowledge")).status_code == 404
                async with (signed_in(base, database_url, "acme", "operator", "alice", "Alice Moreau") as alice,
                            signed_in(base, database_url, "acme", "operator", "alice", "Alice Moreau") as alice2,
                            signed_in(base, database_url, "acme", "operator", "bob", "Bob Okafor") as bob):  # fmt: skip
                    ack = await alice.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"note": "calling the dock"})
                    assert ack.status_code == 200 and ack.json()["alert"]["status"] == "acknowledged"
                    assert [r[0] for r in await query(database_url, tier1, alert_id)] == ["cancelled"]
                    await wait_for(
                        lambda: any(r.json()["event_action"] == "acknowledge" for r in hook.to("/v2/enqueue")),
                        what="PagerDuty acknowledge",
                    )
                    assert (await bob.post(f"/api/v1/alerts/{alert_id}/acknowledge")).status_code == 409

                    # two-person closure counts people: a token is not one, alice in a second browser is
                    # still alice, bob confirms
                    machine = await post(base, bot, f"/api/v1/alerts/{alert_id}/resolve")
                    assert machine.status_code == 403 and "two people" in machine.json()["detail"]
                    first = await alice.post(f"/api/v1/alerts/{alert_id}/resolve", json={"note": "seal re-read"})
                    assert first.status_code == 200 and first.json()["alert"]["status"] == "acknowledged"
                    assert first.json()["recorded"] == ["resolve_requested"]
                    same = await alice2.post(f"/api/v1/alerts/{alert_id}/resolve")
                    assert same.status_code == 409 and "second person" in same.json()["detail"]
                    done = await bob.post(f"/api/v1/alerts/{alert_id}/resolve", json={"note": "confirmed"})
                    assert done.status_code == 200 and done.json()["alert"]["status"] == "resolved"
                    # the answer carries who resolved it and when, as a read of the alert does
                    answered = done.json()["alert"]
                    assert answered["resolved_by"] == "Bob Okafor (bob)" and answered["resolved_at"]
                    read = (await bob.get(f"/api/v1/alerts/{alert_id}")).json()["alert"]
                    assert (read["resolved_by"], read["resolved_at"]) == (
                        answered["resolved_by"],
                        answered["resolved_at"],
                    )
                    await wait_for(
                        lambda: any(r.json()["event_action"] == "resolve" for r in hook.to("/v2/enqueue")),
                        what="PagerDuty resolve",
                    )
                    detail = (await alice.get(f"/api/v1/alerts/{alert_id}")).json()
                actions = [(h["action"], h["actor"]) for h in detail["history"]]
                assert actions == [
                    ("opened", "sealguard"),
                    ("acknowledged", "Alice Moreau (alice)"),
                    ("resolve_requested", "Alice Moreau (alice)"),
                    ("resolved", "Bob Okafor (bob)"),
                ]
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


async def test_receiver_failing_for_a_while_gets_every_notification_once(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    hook = await HttpReceiver(fail_next=5, fail_status=503).start()
    try:
        s = settings(
            tmp_path,
            database_url,
            mqtt_broker,
            alerting=hook_only(tmp_path, hook),
            notify_poll_s=0.1,
            notify_retry_base_s=0.05,
            notify_retry_cap_s=0.5,
        )
        async with running(s) as monitor:
            lines = several_scenarios("acme")
            resp = await post(f"http://{s.http}", monitor.token, "/api/v1/events", [orjson.loads(x) for x in lines])
            assert resp.status_code == 200
            await wait_for(lambda: settled_outbox(database_url), what="outbox drained")
        failed = [r for r in hook.to("/hook") if r.status == 503]
        assert len(failed) == 5
        ok = delivered_ok(hook)
        assert ok and all(n == 1 for n in ok.values()), "a notification was accepted twice"
        assert {r.headers["idempotency-key"] for r in failed} <= set(ok), "a failed delivery was not retried"
        rows = await query(
            database_url,
            "SELECT batch_id::text, alert_id::text, status FROM outbox WHERE due_at < now() + interval '5 minutes'",
        )  # later repeats of critical pages
        assert {st for _, _, st in rows} <= {"sent", "cancelled"}
        sent_alerts = {(key, alert) for key, alert, st in rows if st == "sent"}
        got = {
            (r.headers["idempotency-key"], a["alert"]["alert_id"])
            for r in hook.to("/hook")
            if r.status == 200
            for a in r.json()["alerts"]
        }
        assert sent_alerts == got
        await every_alert_sent_or_cleared(database_url, {a for _, a, st in rows if st == "sent"})
    finally:
        await hook.stop()


async def test_notifier_killed_mid_delivery_resumes_without_loss(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    hook = await HttpReceiver(hold=True).start()
    port = free_port()
    env = {
        **os.environ,
        "SEALGUARD_DATABASE_URL": database_url,
        "SEALGUARD_MQTT_URL": mqtt_broker.url,
        "SEALGUARD_MQTT_PROTOCOL": mqtt_broker.protocol,
        "SEALGUARD_HTTP": f"127.0.0.1:{port}",
        "SEALGUARD_DATA_DIR": str(tmp_path / "data"),
        "SEALGUARD_ALERTING": str(hook_only(tmp_path, hook)),
        "SEALGUARD_NOTIFY_LEASE_S": "1",
        "SEALGUARD_NOTIFY_POLL_S": "0.1",
        "SEALGUARD_MQTT_CLIENT_ID": "sg-nk-" + uuid.uuid4().hex[:6],
        "SEALGUARD_LOG_LEVEL": "WARNING",
    }

    def start() -> subprocess.Popen[bytes]:
        return start_up(env, tmp_path / "monitor.log")

    proc = start()
    try:
        await wait_for(ready(port), what="monitor ready")
        token = (tmp_path / "data" / "admin-token").read_text().strip()
        lines = several_scenarios("acme")
        resp = await post(f"http://127.0.0.1:{port}", token, "/api/v1/events", [orjson.loads(x) for x in lines])
        assert resp.status_code == 200
        await wait_for(lambda: hook.to("/hook"), what="a delivery in flight")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        # The deliveries cut by the kill are the batches the database still shows as being sent. (Which of
        # them the receiver recorded before the kill is a race: a request already in its socket may be
        # recorded a moment later, so the database, not the receiver, says what was cut.)
        cut = {r[0] for r in await query(database_url, "SELECT DISTINCT batch_id::text FROM outbox"
                                         " WHERE status = 'sending'")}  # fmt: skip
        assert cut
        held = {r.headers["idempotency-key"] for r in hook.to("/hook")}
        assert held <= cut, "a delivery reached the receiver without being claimed"
        hook.hold = False
        proc = start()
        await wait_for(lambda: settled_outbox(database_url), what="outbox drained after restart")
        keys = Counter(r.headers["idempotency-key"] for r in hook.to("/hook"))
        assert all(keys[k] >= 2 for k in held), "a delivery cut by the kill was not sent again"
        assert all(keys[k] >= 1 for k in cut), "a delivery cut by the kill was lost"
        assert all(n == 1 for k, n in keys.items() if k not in cut), "a settled delivery was sent twice"
        rows = await query(database_url, "SELECT DISTINCT batch_id::text FROM outbox WHERE status = 'sent'")
        assert {r[0] for r in rows} == set(keys)
        await every_alert_sent_or_cleared(
            database_url, {a["alert"]["alert_id"] for r in hook.to("/hook") for a in r.json()["alerts"]}
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        await hook.stop()


async def test_silence_and_inhibition_keep_alerts_but_do_not_page(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    hook = await HttpReceiver().start()
    try:
        s = settings(tmp_path, database_url, mqtt_broker, alerting=hook_only(tmp_path, hook), notify_poll_s=0.1)
        async with running(s) as monitor:
            base = f"http://{s.http}"
            admin = await token_for(database_url, "acme", "admin", "ada")
            operator = await token_for(database_url, "acme", "operator", "otto")
            stranger = await token_for(database_url, "globex", "admin", "gil")
            body = {
                "matchers": ['conveyance_id="TRL-1002"'],
                "reason": "trailer in the repair shop",
                "duration_minutes": 60,
            }
            assert (await post(base, operator, "/api/v1/silences", body)).status_code == 403
            bad = await post(base, admin, "/api/v1/silences", {**body, "matchers": ["colour=red"]})
            assert bad.status_code == 422 and "unknown label" in bad.text
            created = await post(base, admin, "/api/v1/silences", body)
            assert created.status_code == 201 and created.json()["created_by"] == "ada"
            silence_id = created.json()["silence_id"]

            # a tamper alarm during the unscheduled stop: SEAL-003 and the correlation COMP-001 together
            alarm = {
                "event_id": f"alarm-{uuid.uuid4().hex[:6]}",
                "kind": "seal.alarm",
                "tenant": "acme",
                "occurred_at": "2026-11-02T08:50:00Z",
                "conveyance_id": "TRL-1003",
                "trip_id": "T-3",
                "seal_number": "SG123456",
                "alarm": "tamper",
            }
            lines = merged("seal-mismatch-at-dock", "unscheduled-stop", extra=[orjson.dumps(alarm)])
            assert (
                await post(base, monitor.token, "/api/v1/events", [orjson.loads(x) for x in lines])
            ).status_code == 200
            await wait_for(lambda: settled_outbox(database_url), what="outbox drained")
            rows = await query(
                database_url,
                "SELECT a.rule_id, o.status, o.reason FROM outbox o JOIN alerts a"
                " USING (alert_id) WHERE o.kind = 'trigger' AND o.due_at < now() + interval '5 minutes'",
            )
            by_rule = {rule: (status, reason) for rule, status, reason in rows}
            assert by_rule["SEAL-001"] == ("silenced", f"silence {silence_id}")
            (comp_id,) = await query(database_url, "SELECT alert_id::text FROM alerts WHERE rule_id = 'COMP-001'")
            assert by_rule["SEAL-003"] == ("inhibited", f"alert {comp_id[0]} is open for the same trip")
            assert by_rule["COMP-001"][0] == "sent"
            # still stored and shown
            stored = {r[0] for r in await query(database_url, "SELECT rule_id FROM alerts WHERE tenant = 'acme'")}
            assert {"SEAL-001", "SEAL-003", "COMP-001"} <= stored

            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {operator}"}) as c:
                listed = (await c.get(f"{base}/api/v1/silences", params={"active": "true"})).json()["silences"]
            assert [x["silence_id"] for x in listed] == [silence_id]
            async with httpx.AsyncClient() as c:
                gone = await c.delete(
                    f"{base}/api/v1/silences/{silence_id}", headers={"Authorization": f"Bearer {stranger}"}
                )
                assert gone.status_code == 404
                expired = await c.delete(
                    f"{base}/api/v1/silences/{silence_id}", headers={"Authorization": f"Bearer {admin}"}
                )
                assert expired.status_code == 200 and expired.json()["expired_at"] is not None
    finally:
        await hook.stop()


async def test_kafka_alert_topic(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker, kafka_broker: KafkaBroker
) -> None:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    suffix = uuid.uuid4().hex[:8]
    topics = (f"events-{suffix}", f"alerts-{suffix}")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, num_partitions=1, replication_factor=1) for t in topics])
    finally:
        await admin.close()
    config = {
        "receivers": [{"name": "bus", "topic": {"transport": "kafka", "topic": topics[1]}}],
        "route": {"receiver": "bus", "group_wait": "0s"},
    }
    path = tmp_path / "alerting.yaml"
    path.write_text(yaml.safe_dump(config))
    s = settings(
        tmp_path,
        database_url,
        mqtt_broker,
        alerting=path,
        notify_poll_s=0.1,
        kafka_bootstrap=kafka_broker.bootstrap,
        kafka_topic=topics[0],
        kafka_group=f"g-{suffix}",
    )
    consumer = AIOKafkaConsumer(
        topics[1],
        bootstrap_servers=kafka_broker.bootstrap,
        auto_offset_reset="earliest",
        group_id=f"reader-{suffix}",
        metadata_max_age_ms=5000,
    )
    await consumer.start()
    try:
        async with running(s) as monitor:
            lines = tenant_lines("seal-mismatch-at-dock", "acme")
            resp = await post(f"http://{s.http}", monitor.token, "/api/v1/events", [orjson.loads(x) for x in lines])
            assert resp.status_code == 200
            record = await asyncio.wait_for(consumer.getone(), timeout=60)
        message = orjson.loads(record.value or b"{}")
        assert message["event"] == "trigger" and message["alert"]["rule_id"] == "SEAL-001"
        assert record.key == message["alert"]["dedup_key"].encode()
    finally:
        await consumer.stop()
