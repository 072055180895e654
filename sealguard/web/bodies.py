"""Request bodies read within limits, so no client can make the process hold more than it allows.

Two limits, both checked before anything is parsed: the size in bytes, and the number of JSON objects
and arrays (``{`` and ``[``, counted at C speed; a brace inside a string counts too, which only errs on
the safe side). The second matters because a small body can parse into a great many objects: 5 MiB of
``{},`` is 1.7 million dicts, and an answer naming each of them."""

from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request


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
