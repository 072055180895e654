"""Dead letters: what could not be read or was refused, kept for an investigator within bounds.

A sender may send megabytes of garbage as fast as its rate allows, so a letter keeps a bounded prefix of
what came (``keep_bytes``) with the whole input's size and SHA-256 (enough to match it against a
sender's own copy), the reason and the source. Each tenant and sender (its token, its person, or its
transport) has a daily quota of letters and of kept bytes; past it, letters are counted in
``dead_letter_usage`` and not stored one by one. Old letters are pruned after the retention
(``prune``)."""

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import orjson
import psycopg

from sealguard.store.events import DeadLetter, _text

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class DeadLetterLimits:
    keep_bytes: int = 64 * 1024  # of each input, the prefix stored
    quota_letters: int = 100_000  # letters stored per tenant and sender per UTC day
    quota_bytes: int = 256 * 1024 * 1024  # kept bytes per tenant and sender per UTC day
    retention: timedelta = timedelta(days=90)


DEFAULT_LIMITS = DeadLetterLimits()


def sender_of(origin: dict[str, Any], source: str) -> str:
    """Whose quota a letter counts against: the token or the person that sent it, else its transport."""
    for key, kind in (("token_id", "token"), ("person_id", "person")):
        if isinstance(origin.get(key), int):
            return f"{kind}:{origin[key]}"
    user = origin.get("user")
    return f"{source}:{user}"[:200] if isinstance(user, str) else source


def claimed_tenant(raw: bytes, limit: int) -> str | None:
    """The tenant an input names itself (an all-tenants token's letter records it), when it can be read."""
    if len(raw) > limit or not raw.lstrip().startswith(b"{"):
        return None
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    tenant = parsed.get("tenant") if isinstance(parsed, dict) else None
    return tenant if isinstance(tenant, str) and 0 < len(tenant) <= 64 and "\x00" not in tenant else None


async def write_dead_letters(conn: Conn, letters: list[DeadLetter], limits: DeadLetterLimits = DEFAULT_LIMITS) -> None:
    """Store ``letters`` within their senders' quotas, in the caller's transaction."""
    if not letters:
        return
    groups: dict[tuple[date, str, str], list[tuple[DeadLetter, str | None]]] = defaultdict(list)
    for d in letters:
        tenant = d.tenant or claimed_tenant(d.raw, limits.keep_bytes)
        groups[(d.received_at.date(), tenant or "", sender_of(d.origin, d.source))].append((d, tenant))
    rows = []
    for (day, tenant_key, sender), group in sorted(groups.items()):
        cur = await conn.execute(
            "INSERT INTO dead_letter_usage (day, tenant, sender, letters, kept_bytes) VALUES (%s, %s, %s, 0, 0)"
            " ON CONFLICT (day, tenant, sender) DO UPDATE SET letters = dead_letter_usage.letters"
            " RETURNING letters, kept_bytes",
            (day, tenant_key, sender),
        )
        used = await cur.fetchone()
        assert used is not None
        letters_used, bytes_used = int(used[0]), int(used[1])
        stored = dropped = stored_bytes = 0
        for d, tenant in group:
            size = min(len(d.raw), limits.keep_bytes)
            if letters_used + stored >= limits.quota_letters or bytes_used + stored_bytes + size > limits.quota_bytes:
                dropped += 1
                continue
            stored += 1
            stored_bytes += size
            rows.append((d.received_at, d.source, orjson.dumps(d.origin).decode(), _text(tenant), _text(d.event_id),
                         _text(d.reason), d.raw[: limits.keep_bytes], len(d.raw), hashlib.sha256(d.raw).hexdigest(),
                         sender))  # fmt: skip
        await conn.execute(
            "UPDATE dead_letter_usage SET letters = letters + %s, kept_bytes = kept_bytes + %s, dropped = dropped + %s"
            " WHERE day = %s AND tenant = %s AND sender = %s",
            (stored, stored_bytes, dropped, day, tenant_key, sender),
        )
    if not rows:
        return
    cur = conn.cursor()
    async with cur.copy(
        "COPY dead_letters (received_at, source, origin, tenant, event_id, reason, raw, raw_size, raw_sha256, sender)"
        " FROM STDIN"
    ) as copy:
        for row in rows:
            await copy.write_row(row)


async def prune(conn: Conn, now: datetime, retention: timedelta) -> int:
    """Delete letters (and daily counts) older than ``retention``; the number of letters deleted."""
    cur = await conn.execute("DELETE FROM dead_letters WHERE received_at < %s", (now - retention,))
    await conn.execute("DELETE FROM dead_letter_usage WHERE day < %s", ((now - retention).date(),))
    return cur.rowcount
