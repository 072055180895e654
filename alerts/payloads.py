"""Notification bodies for each channel, built from alert documents (the API's alert JSON). Pure.

The webhook body is Alertmanager's webhook v4 shape (so existing Alertmanager consumers read it) with
the full sealguard alert beside the labels; PagerDuty gets Events API v2 bodies keyed by our dedup key.
"""

import hashlib
import hmac
import html
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any

from sealguard.alerts.config import EmailConfig, PagerDutyConfig

Doc = Mapping[str, Any]
_PD_SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}
_AM_STATUS = {"trigger": "firing", "acknowledge": "firing", "resolve": "resolved"}
LABEL_KEYS = ("tenant", "rule_id", "severity", "conveyance_id", "trip_id", "facility_id")


def link(public_url: str, alert: Doc) -> str:
    return f"{public_url.rstrip('/')}/alerts/{alert['alert_id']}"


def labels(alert: Doc) -> dict[str, str]:
    out = {"alertname": str(alert["rule_id"])}
    out.update({k: str(alert[k]) for k in LABEL_KEYS if alert.get(k) is not None})
    return out


def summary(alert: Doc) -> str:
    where = f" on {alert['conveyance_id']}" if alert.get("conveyance_id") else ""
    return f"[{str(alert['severity']).upper()}] {alert['rule_id']}{where}: {alert['message']}"


def webhook_body(
    receiver: str, kind: str, group_key: str, alerts: Sequence[Doc], public_url: str, key: str
) -> dict[str, Any]:
    items = []
    for a in alerts:
        lab = labels(a)
        items.append(
            {
                "status": _AM_STATUS[kind],
                "labels": lab,
                "annotations": {"summary": summary(a), "criterion": str(a["criterion"])},
                "startsAt": a["occurred_at"],
                "endsAt": a.get("resolved_at") or "0001-01-01T00:00:00Z",
                "generatorURL": link(public_url, a),
                "fingerprint": hashlib.sha256(str(a["dedup_key"]).encode()).hexdigest()[:16],
                "alert": dict(a),
            }
        )
    common = {k: v for k, v in items[0]["labels"].items() if all(i["labels"].get(k) == v for i in items)}
    return {
        "receiver": receiver,
        "status": "resolved" if kind == "resolve" else "firing",
        "event": kind,
        "alerts": items,
        "groupLabels": {k: v for k, v in common.items() if k != "severity"},
        "commonLabels": common,
        "commonAnnotations": {"summary": items[0]["annotations"]["summary"]} if len(items) == 1 else {},
        "externalURL": public_url,
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "idempotencyKey": key,
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``{timestamp}.{body}``: the timestamp is signed too, so an old
    request cannot be replayed with a fresh timestamp."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def pagerduty_body(cfg: PagerDutyConfig, kind: str, alert: Doc, public_url: str) -> dict[str, Any]:
    """Events API v2: trigger, acknowledge or resolve, deduplicated on sealguard's own dedup key."""
    return {
        "routing_key": cfg.routing_key,
        "event_action": kind,
        "dedup_key": alert["dedup_key"],
        "payload": {
            "summary": summary(alert)[:1024],
            "source": str(alert.get("conveyance_id") or alert["tenant"]),
            "severity": _PD_SEVERITY[str(alert["severity"])],
            "timestamp": alert["occurred_at"],
            "component": "seal" if str(alert["rule_id"]).startswith(("SEAL", "ESEAL")) else "conveyance",
            "group": str(alert["tenant"]),
            "class": str(alert["rule_id"]),
            "custom_details": {
                "alert_id": alert["alert_id"],
                "criterion": alert["criterion"],
                "evidence": alert["evidence"],
                "trip_id": alert.get("trip_id"),
                "facility_id": alert.get("facility_id"),
                "status": alert["status"],
            },
        },
        "client": "sealguard",
        "client_url": link(public_url, alert),
        "links": [{"href": link(public_url, alert), "text": "Open in sealguard"}],
    }


def slack_body(kind: str, alerts: Sequence[Doc], public_url: str, channel: str | None) -> dict[str, Any]:
    verb = {"trigger": "Alert", "acknowledge": "Acknowledged", "resolve": "Resolved"}[kind]
    blocks: list[dict[str, Any]] = []
    for a in alerts[:20]:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": f"{verb}: {a['rule_id']}"[:150]}})
        fields = [
            ("Severity", a["severity"]),
            ("Conveyance", a.get("conveyance_id") or "-"),
            ("Trip", a.get("trip_id") or "-"),
            ("Since", a["occurred_at"]),
            ("Criterion", a["criterion"]),
            ("Status", a["status"]),
        ]
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _slack_escape(str(a["message"]))},
                "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{_slack_escape(str(v))}"} for k, v in fields],
            }
        )
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open alert"}, "url": link(public_url, a)}
                ],
            }
        )
    body: dict[str, Any] = {"text": "\n".join(summary(a) for a in alerts)[:3000], "blocks": blocks}
    if channel:
        body["channel"] = channel
    return body


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def email_message(cfg: EmailConfig, kind: str, alerts: Sequence[Doc], public_url: str, key: str) -> EmailMessage:
    """Plain text and HTML alternatives; the Message-ID carries the idempotency key."""
    verb = {"trigger": "", "acknowledge": "Acknowledged: ", "resolve": "Resolved: "}[kind]
    first = alerts[0]
    more = f" (+{len(alerts) - 1} more)" if len(alerts) > 1 else ""
    msg = EmailMessage()
    msg["Subject"] = f"{verb}{summary(first)}{more}"[:250]
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(cfg.to)
    msg["Message-ID"] = f"<{key}@sealguard>"
    msg["X-Sealguard-Idempotency-Key"] = key
    text = []
    rows = []
    for a in alerts:
        facts = [
            ("Rule", a["rule_id"]),
            ("Severity", a["severity"]),
            ("Conveyance", a.get("conveyance_id")),
            ("Trip", a.get("trip_id")),
            ("Since", a["occurred_at"]),
            ("Status", a["status"]),
            ("Criterion", a["criterion"]),
            ("Evidence", ", ".join(a["evidence"])),
        ]
        text.append(
            f"{a['message']}\n" + "".join(f"  {k}: {v or '-'}\n" for k, v in facts) + f"  {link(public_url, a)}\n"
        )
        cells = "".join(f"<tr><th align='left'>{k}</th><td>{html.escape(str(v or '-'))}</td></tr>" for k, v in facts)
        rows.append(
            f"<h3>{html.escape(str(a['message']))}</h3><table>{cells}</table>"
            f"<p><a href='{html.escape(link(public_url, a))}'>Open the alert</a></p>"
        )
    msg.set_content("\n".join(text))
    msg.add_alternative(f"<html><body>{''.join(rows)}</body></html>", subtype="html")
    return msg
