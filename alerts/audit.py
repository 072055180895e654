"""The tamper-evident alert history: one hash chain per tenant. Pure.

Each row's hash covers its own content and the previous row's hash, so rewriting any row (say, who
acknowledged an alert, or when) breaks every hash after it; ``verify`` names the first broken row.
"""

import hashlib
from collections.abc import Iterable
from typing import Any

import orjson

from sealguard.schemas.history import HistoryRow

GENESIS = "0" * 64


def row_body(row: HistoryRow) -> bytes:
    """The bytes a row's hash is the SHA-256 of: a JSON array of its fields, keys sorted, no spaces
    (docs/evidence.md: a package holds these bytes per row, so ``sha256sum`` checks a row by hand)."""
    return orjson.dumps(
        [row.tenant, row.chain_seq, row.alert_id, row.action, row.actor, row.note, row.at, row.detail, row.prev_hash],
        option=orjson.OPT_SORT_KEYS,
    )


def row_hash(row: HistoryRow) -> str:
    return hashlib.sha256(row_body(row)).hexdigest()


def chain(
    tenant: str, head: tuple[int, str] | None, entries: Iterable[tuple[str, str, str, str | None, str, dict[str, Any]]]
) -> list[HistoryRow]:
    """Append ``(tenant, alert_id, action, actor, note, at, detail)`` entries after ``head``."""
    seq, prev = head if head is not None else (0, GENESIS)
    rows = []
    for alert_id, action, actor, note, at, detail in entries:
        seq += 1
        row = HistoryRow(tenant, seq, alert_id, action, actor, note, at, detail, prev)
        row = HistoryRow(**{**_fields(row), "hash": row_hash(row)})
        rows.append(row)
        prev = row.hash
    return rows


def _fields(row: HistoryRow) -> dict[str, Any]:
    return {f: getattr(row, f) for f in HistoryRow.__slots__}


def verify(rows: Iterable[HistoryRow]) -> str | None:
    """None when every tenant's chain is intact, else a sentence naming the first broken row."""
    expected: dict[str, tuple[int, str]] = {}
    for row in rows:
        seq, prev = expected.get(row.tenant, (0, GENESIS))
        where = f"tenant {row.tenant!r} history row {row.chain_seq} (alert {row.alert_id}, {row.action})"
        if row.chain_seq != seq + 1:
            return f"{where}: expected row {seq + 1} next; a row is missing or out of order"
        if row.prev_hash != prev:
            return f"{where}: its previous-hash does not match row {seq}'s hash"
        if row_hash(row) != row.hash:
            return f"{where}: its content does not match its hash (the row was changed)"
        expected[row.tenant] = (row.chain_seq, row.hash)
    return None
