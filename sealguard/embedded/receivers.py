"""Local stand-ins for on-call tools: an HTTP receiver (webhook, PagerDuty Events v2 and Slack formats)
and an SMTP server. ``make demo`` points its alerting at them; tests use them as real receivers.

``sealguard receivers`` runs both on their own, printing what arrives, to point any monitor at.
"""

import asyncio
import contextlib
import email
import email.policy
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller

from sealguard.embedded.servers import free_port

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0  # what the receiver answered (0: never answered)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Records every request. ``fail_next`` answers that many with ``fail_status``; while ``hold`` is set,
    requests wait for it to clear (to kill a sender mid-delivery)."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    fail_next: int = 0
    fail_status: int = 503
    hold: bool = False
    on_request: Callable[[Request], None] | None = None
    _server: uvicorn.Server | None = None
    _task: "asyncio.Task[None] | None" = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the sender died mid-body: nothing was delivered, as a real receiver would see it
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        req = Request(scope["path"], headers, body)
        self.requests.append(req)
        if self.on_request is not None:
            self.on_request(req)
        while self.hold:
            await asyncio.sleep(0.05)
        status = 202 if scope["path"].endswith("/enqueue") else 200
        if self.fail_next > 0:
            self.fail_next -= 1
            status = self.fail_status
        req.status = status
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b'{"status":"success"}' if status < 300 else b"{}"})

    async def start(self) -> "HttpReceiver":
        self.port = self.port or free_port()
        config = uvicorn.Config(self, host=self.host, port=self.port, log_level="warning", lifespan="off",
                                access_log=False)  # fmt: skip
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = False  # type: ignore[attr-defined]
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)
        return self

    async def stop(self) -> None:
        self.hold = False
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5)


class _Mailbox:
    def __init__(self, on_message: Callable[[EmailMessage], None] | None) -> None:
        self.messages: list[EmailMessage] = []
        self.on_message = on_message

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        if self.on_message is not None:
            self.on_message(msg)
        return "250 OK"


class SmtpReceiver:
    """An aiosmtpd server on 127.0.0.1 (its own thread), keeping every message."""

    def __init__(self, port: int = 0, on_message: Callable[[EmailMessage], None] | None = None) -> None:
        self.port = port or free_port()
        self.mailbox = _Mailbox(on_message)
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[EmailMessage]:
        return self.mailbox.messages

    def start(self) -> "SmtpReceiver":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


def describe_request(req: Request) -> str:
    """One line for a received notification, whatever its format."""
    try:
        body = req.json()
    except ValueError:
        return f"{req.path}: {len(req.body)} bytes (not JSON)"
    if isinstance(body, dict) and "event_action" in body:
        return f"PAGE ({body['event_action']}) {body.get('payload', {}).get('summary', body.get('dedup_key'))}"
    if isinstance(body, dict) and "alerts" in body:
        names = ", ".join(
            f"{a['labels'].get('alertname')} {a['labels'].get('conveyance_id', '')}" for a in body["alerts"]
        )
        return f"WEBHOOK ({body.get('event')}) {names}"
    if isinstance(body, dict) and "blocks" in body:
        return f"CHAT {str(body.get('text', ''))[:160]}"
    return f"{req.path}: {str(body)[:160]}"


async def serve_forever(http_port: int, smtp_port: int) -> None:
    hook = HttpReceiver(port=http_port, on_request=lambda r: print(describe_request(r), flush=True))
    await hook.start()
    smtp = SmtpReceiver(smtp_port, on_message=lambda m: print(f"MAIL to {m['To']}: {m['Subject']}", flush=True))
    smtp.start()
    print(f"receiving: webhook {hook.url}/hook, PagerDuty {hook.url}/v2/enqueue, Slack {hook.url}/slack,"
          f" SMTP 127.0.0.1:{smtp_port}", flush=True)  # fmt: skip
    try:
        await asyncio.Event().wait()
    finally:
        smtp.stop()
        await hook.stop()
