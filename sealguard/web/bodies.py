"""Request bodies read within limits, so no client can make the process hold more than it allows.

Two limits, both checked before anything is parsed: the size in bytes, and the number of JSON objects
and arrays (``{`` and ``[``, counted at C speed; a brace inside a string counts too, which only errs on
the safe side). The second matters because a small body can parse into a great many objects: 5 MiB of
``{},`` is 1.7 million dicts, and an answer naming each of them."""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import HTTPException, Request
from pydantic import Field

# Text a request body carries into PostgreSQL, which cannot hold NUL: refused as invalid (422), not a 500.
Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]


@dataclass(frozen=True, kw_only=True)
class HttpLimits:
    """What one request may weigh (the ``http_max_*`` and ``partner_max_*`` settings)."""

    max_body: int = 5 * 1024 * 1024
    max_batch: int = 1000
    max_containers: int = 100_000
    max_item_bytes: int = 256 * 1024
    max_message_bytes: int = 16 * 1024 * 1024


def limits_of(s: Any) -> HttpLimits:
    """The limits from the settings (``sealguard.config.Settings``)."""
    return HttpLimits(max_body=s.http_max_body, max_batch=s.http_max_batch, max_containers=s.http_max_json_containers,
                      max_item_bytes=s.partner_max_item_bytes,
                      max_message_bytes=s.partner_max_message_bytes)  # fmt: skip


def json_containers(body: bytes) -> int:
    """An upper bound of the objects and arrays ``body`` parses into."""
    return body.count(b"{") + body.count(b"[")


async def read_limited(request: Request, limit: int, *, max_containers: int | None = None) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes: a declared length is checked
    first, and a chunked body is counted while it is read, so memory stays bounded by the limit. With
    ``max_containers``, a body that could parse into more JSON objects and arrays is refused too."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise HTTPException(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if max_containers is not None and (found := json_containers(body)) > max_containers:
        raise HTTPException(413, f"a body of up to {found} JSON objects and arrays; at most {max_containers}"
                            " per request (send fewer events per request)")  # fmt: skip
    return body


class BodyLimit:
    """ASGI middleware: no request body of any endpoint may pass ``limit`` bytes (413), whether it declares
    its length or comes in chunks. The endpoints that read bodies themselves set tighter limits; this is
    the floor under every other one (FastAPI reads a JSON body whole before validating it).

    Past the limit the 413 is sent at once (the sender stops sending) and the application is told the
    client has gone; whatever it does then is not sent (an exception raised into it instead would be
    taken for a body it could not parse, a 400)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0
        exceeded = answered = False

        async def limited() -> Any:
            nonlocal seen, exceeded, answered
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    if not started:
                        answered = True
                        await _too_large(send, self.limit)
                    return {"type": "http.disconnect"}
            return message

        started = False

        async def guarded(message: Any) -> None:
            nonlocal started
            if answered:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, guarded)
        except Exception:
            if not answered:
                raise


async def _too_large(send: Any, limit: int) -> None:
    body = f'{{"detail":"body larger than {limit} bytes"}}'.encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
