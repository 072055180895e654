"""Delivery to receivers. Each channel either returns (delivered) or raises ``DeliveryError`` saying
whether trying again can help: 5xx, 408, 429, timeouts and connection errors can; other 4xx cannot."""

import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import aiosmtplib
import httpx
import orjson

from sealguard.alerts import payloads
from sealguard.alerts.config import AlertingConfig, Receiver
from sealguard.errors import SealguardError

Doc = Mapping[str, Any]
USER_AGENT = "sealguard/1"


class DeliveryError(SealguardError):
    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


class TopicSink(Protocol):
    """Publishes machine-readable alert changes (the monitor's MQTT broker or Kafka cluster)."""

    async def publish(self, topic: str, key: str, payload: bytes) -> None: ...

    async def close(self) -> None: ...


def _check(response: httpx.Response, what: str) -> None:
    code = response.status_code
    if 200 <= code < 300:
        return
    retryable = code >= 500 or code in (408, 425, 429)
    raise DeliveryError(f"{what} answered {code}: {response.text[:200]}", retryable=retryable)


class Channels:
    def __init__(self, config: AlertingConfig, http: httpx.AsyncClient,
                 topics: Mapping[str, TopicSink] | None = None) -> None:  # fmt: skip
        self.config = config
        self.http = http
        self.topics = dict(topics or {})

    async def send(self, receiver: Receiver, kind: str, group_key: str, alerts: Sequence[Doc], key: str) -> None:
        try:
            await getattr(self, f"_{receiver.channel}")(receiver, kind, group_key, alerts, key)
        except DeliveryError:
            raise
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused) as exc:
            code = getattr(exc, "code", 500)
            raise DeliveryError(f"SMTP refused: {exc}", retryable=400 <= code < 500) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from exc

    async def _webhook(self, r: Receiver, kind: str, group_key: str, alerts: Sequence[Doc], key: str) -> None:
        assert r.webhook is not None
        body = orjson.dumps(payloads.webhook_body(r.name, kind, group_key, alerts, self.config.public_url, key))
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "Idempotency-Key": key,
                   "X-Sealguard-Timestamp": stamp}  # fmt: skip
        if r.webhook.secret:
            headers["X-Sealguard-Signature"] = payloads.sign(r.webhook.secret, stamp, body)
        resp = await self.http.post(r.webhook.url, content=body, headers=headers, timeout=r.webhook.timeout)
        _check(resp, "webhook")

    async def _pagerduty(self, r: Receiver, kind: str, group_key: str, alerts: Sequence[Doc], key: str) -> None:
        assert r.pagerduty is not None
        for alert in alerts:  # PagerDuty deduplicates per dedup_key, so a retried batch cannot double a page
            body = payloads.pagerduty_body(r.pagerduty, kind, alert, self.config.public_url)
            resp = await self.http.post(r.pagerduty.url, json=body, timeout=r.pagerduty.timeout,
                                        headers={"User-Agent": USER_AGENT, "Idempotency-Key": key})  # fmt: skip
            _check(resp, "PagerDuty")

    async def _slack(self, r: Receiver, kind: str, group_key: str, alerts: Sequence[Doc], key: str) -> None:
        assert r.slack is not None
        body = payloads.slack_body(kind, alerts, self.config.public_url, r.slack.channel)
        resp = await self.http.post(r.slack.url, json=body, timeout=r.slack.timeout,
                                    headers={"User-Agent": USER_AGENT, "Idempotency-Key": key})  # fmt: skip
        _check(resp, "Slack")

    async def _email(self, r: Receiver, kind: str, group_key: str, alerts: Sequence[Doc], key: str) -> None:
        cfg = r.email
        assert cfg is not None
        msg = payloads.email_message(cfg, kind, alerts, self.config.public_url, key)
        await aiosmtplib.send(msg, hostname=cfg.host, port=cfg.port, start_tls=cfg.starttls, use_tls=cfg.use_tls,
                              username=cfg.username, password=cfg.password, timeout=cfg.timeout)  # fmt: skip

    async def _topic(self, r: Receiver, kind: str, group_key: str, alerts: Sequence[Doc], key: str) -> None:
        assert r.topic is not None
        sink = self.topics.get(r.topic.transport)
        if sink is None:
            raise DeliveryError(f"no {r.topic.transport} connection is configured", retryable=False)
        for alert in alerts:
            default = f"sealguard/v1/{alert['tenant']}/alerts" if r.topic.transport == "mqtt" else "sealguard.alerts"
            topic = (r.topic.topic or default).replace("{tenant}", str(alert["tenant"]))
            message = {"event": kind, "idempotency_key": f"{key}:{alert['alert_id']}", "alert": dict(alert)}
            try:
                await sink.publish(topic, str(alert["dedup_key"]), orjson.dumps(message))
            except Exception as exc:  # aiomqtt and aiokafka errors: the sink reconnects on the next try
                raise DeliveryError(f"{r.topic.transport} publish failed: {exc!r}", retryable=True) from exc
