"""Channel bodies, checked against the bodies Alertmanager really sends (tests/fixtures/interop/alertmanager,
vendored from the spec's interop samples with their licence)."""

import hashlib
import hmac
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sealguard.alerts import dispatch, payloads
from sealguard.alerts.config import EmailConfig, InhibitRule, PagerDutyConfig
from sealguard.schemas.outbox import OutboxRow

CAPTURED = Path(__file__).parents[1] / "fixtures" / "interop" / "alertmanager" / "captured-alertmanager-0.25.0-debian"
ALERT = {
    "alert_id": "0b7f4c1e-2a8f-5f0e-9c61-0d1b2c3d4e5f",
    "rule_id": "SEAL-003",
    "severity": "critical",
    "tenant": "acme",
    "conveyance_id": "MSCU1234565",
    "trip_id": "T-1",
    "occurred_at": "2026-11-22T06:16:56Z",
    "message": "seal 133534 reported tamper outside an authorised place",
    "criterion": "MSC 6.1",
    "evidence": ["e-1", "e-2"],
    "dedup_key": "acme:SEAL-003:MSCU1234565:T-1:133534",
    "status": "open",
    "resolved_at": None,
    "facility_id": None,
}


def test_webhook_body_has_alertmanagers_shape() -> None:
    theirs = json.loads((CAPTURED / "01-webhook.json").read_text())
    ours = payloads.webhook_body("ops", "trigger", "root#0:{}", [ALERT], "http://sg", "key-1")
    assert set(theirs) <= set(ours)
    assert set(theirs["alerts"][0]) <= set(ours["alerts"][0])
    assert ours["status"] == "firing" and ours["version"] == theirs["version"] == "4"
    assert ours["alerts"][0]["labels"]["alertname"] == "SEAL-003"
    assert ours["alerts"][0]["endsAt"] == theirs["alerts"][0]["endsAt"]  # Go's zero time while firing
    resolved = payloads.webhook_body(
        "ops",
        "resolve",
        "k",
        [{**ALERT, "status": "resolved", "resolved_at": "2026-11-22T07:00:00Z"}],
        "http://sg",
        "key-2",
    )
    assert resolved["status"] == json.loads((CAPTURED / "03-webhook.json").read_text())["status"] == "resolved"
    assert resolved["alerts"][0]["endsAt"] == "2026-11-22T07:00:00Z"


def test_pagerduty_body_matches_events_v2() -> None:
    theirs = json.loads((CAPTURED / "02-v2_enqueue.json").read_text())
    ours = payloads.pagerduty_body(PagerDutyConfig(routing_key="r" * 32), "trigger", ALERT, "http://sg")
    assert set(theirs) <= set(ours)
    assert set(theirs["payload"]) - {"custom_details"} <= set(ours["payload"])
    assert ours["dedup_key"] == ALERT["dedup_key"] and ours["event_action"] == "trigger"
    assert ours["payload"]["severity"] in ("critical", "error", "warning", "info")
    assert ours["payload"]["custom_details"]["evidence"] == ["e-1", "e-2"]
    high = payloads.pagerduty_body(PagerDutyConfig(routing_key="r"), "resolve", {**ALERT, "severity": "high"}, "x")
    assert high["payload"]["severity"] == "error" and high["event_action"] == "resolve"


def test_signature_covers_timestamp_and_body() -> None:
    body = b'{"a":1}'
    sig = payloads.sign("s3cret", "1700000000", body)
    expected = hmac.new(b"s3cret", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert sig == "sha256=" + expected
    assert payloads.sign("s3cret", "1700000001", body) != sig


def test_slack_and_email() -> None:
    slack = payloads.slack_body("trigger", [ALERT], "http://sg", "#ops")
    assert slack["channel"] == "#ops" and "SEAL-003" in slack["text"]
    assert slack["blocks"][2]["elements"][0]["url"] == f"http://sg/alerts/{ALERT['alert_id']}"
    msg = payloads.email_message(EmailConfig(to=["a@x"]), "trigger", [ALERT, ALERT], "http://sg", "k1")
    assert msg["Subject"].startswith("[CRITICAL] SEAL-003 on MSCU1234565") and "(+1 more)" in msg["Subject"]
    assert {p.get_content_type() for p in msg.iter_parts()} == {"text/plain", "text/html"}


NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def row(i: int, alert: str = "a1", **kw: object) -> OutboxRow:
    base: dict[str, object] = dict(
        id=i,
        tenant="acme",
        alert_id=alert,
        receiver="ops",
        channel="webhook",
        kind="trigger",
        tier=0,
        route="0",
        group_key="g",
        group_interval=60.0,
        repeat_interval=None,
        batch_id=None,
        attempts=0,
        due_at=NOW,
        created_at=NOW,
        deadline_at=NOW,
    )
    base.update(kw)
    return OutboxRow(**base)  # type: ignore[arg-type]


def doc(alert_id: str, **kw: object) -> dict[str, object]:
    return {**ALERT, "alert_id": alert_id, **kw}


def test_dispatch_stages() -> None:
    docs = {
        "a1": doc("a1"),
        "a2": doc("a2"),
        "res": doc("res", status="resolved"),
        "sil": doc("sil", rule_id="TRK-004"),
        "inh": doc("inh", rule_id="TRK-002"),
        "comp": doc("comp", rule_id="COMP-001"),
    }
    rows = [
        row(1, "a1"),
        row(2, "a2"),
        row(3, "res"),
        row(4, "sil"),
        row(5, "inh"),
        row(6, "a1", kind="resolve"),
        row(7, "a1", batch_id="b-1", attempts=2),
        row(8, "a1", receiver="gone"),
    ]
    out = dispatch.plan(
        rows,
        docs,
        {"acme": [("s-1", ['rule_id="TRK-004"'])]},
        [docs["comp"]],
        {},
        [InhibitRule(source_rules=["COMP-001"], target_rules=["TRK-002"])],
        {"ops"},
        NOW,
    )
    assert sorted(out.skip) == [
        (3, "cancelled", "alert resolved before it was sent"),
        (4, "silenced", "silence s-1"),
        (5, "inhibited", "alert comp is open for the same trip"),
        (8, "cancelled", "receiver no longer configured"),
    ]
    assert sorted([r.id for r in b] for b in out.batches) == [[1, 2], [6], [7]]  # same group; its own kind; a retry


def test_group_interval_defers_new_alerts_of_a_group_that_just_sent() -> None:
    last = {("ops", "g"): NOW - timedelta(seconds=20)}
    out = dispatch.plan([row(1)], {"a1": doc("a1")}, {}, [], last, [], {"ops"}, NOW)
    assert out.defer == [(1, NOW + timedelta(seconds=40))] and not out.batches
    later = dispatch.plan([row(1)], {"a1": doc("a1")}, {}, [], last, [], {"ops"}, NOW + timedelta(seconds=41))
    assert [[r.id for r in b] for b in later.batches] == [[1]]


def test_retry_backoff_grows_with_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    waits = [(dispatch.retry_at(n, NOW, 2.0, 60.0, rng) - NOW).total_seconds() for n in range(8)]
    for n, w in enumerate(waits):
        ceiling = min(60.0, 2.0 * 2**n)
        assert ceiling / 2 <= w <= ceiling
