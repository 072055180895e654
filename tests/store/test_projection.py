"""The conveyance projection written in one statement per batch (``store.projection.upsert``): each view
lands whole and exactly, a later view of the same conveyance wins, other rows are left alone, and the
ids and texts a sender chose travel as data."""

from datetime import UTC, datetime
from typing import Any

import psycopg

from sealguard.roles.monitor import migrate_url
from sealguard.store import projection

NOW = datetime(2026, 12, 6, 8, tzinfo=UTC)


def _view(tenant: str, cid: str, **extra: Any) -> dict[str, Any]:
    return {"tenant": tenant, "conveyance_id": cid, "trip": None, "seals_on": [], **extra}


async def test_views_land_whole_the_later_wins_and_others_stay(database_url: str) -> None:
    await migrate_url(database_url)
    odd = "TRK-'); DROP TABLE conveyance_state; --"
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await projection.upsert(conn, [], NOW)  # nothing to write: no statement
        await projection.upsert(conn, [("other", "T-1", _view("other", "T-1", note="theirs"))], NOW)
        first = [
            ("acme", "B", _view("acme", "B", position={"lon": -97.74, "lat": 30.27, "speed_kph": 81.5})),
            ("acme", odd, _view("acme", odd, note='quote " backslash \\ tab \t, é, 漢字, 🚚')),
            ("acme", "A", _view("acme", "A", seals_on=["ABC1234567"])),
            ("acme", "B", _view("acme", "B", note="later")),  # the same conveyance again: the later view
        ]
        await projection.upsert(conn, first, NOW)
        got = {v["conveyance_id"]: v for v in await projection.views(conn, "acme", geometry=False)}
        assert got == {"A": first[2][2], "B": first[3][2], odd: first[1][2]}
        # a second batch replaces A only
        await projection.upsert(conn, [("acme", "A", _view("acme", "A", seals_on=[]))], NOW)
        got = {v["conveyance_id"]: v for v in await projection.views(conn, "acme", geometry=False)}
        assert got["A"]["seals_on"] == [] and got["B"] == first[3][2]
        assert await projection.views(conn, "other", geometry=False) == [_view("other", "T-1", note="theirs")]
        cur = await conn.execute("SELECT count(*), min(updated_at) FROM conveyance_state")
        assert await cur.fetchone() == (4, NOW)
