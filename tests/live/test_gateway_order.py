"""The gateway's order (roles.gateway): an input that waits on the database holds only what must come
after it. Against real PostgreSQL, with a second connection holding the very row the gateway needs, so
the slow commit is a lock, not a timing."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
import pytest

from sealguard.ingest.inbound import Inbound
from sealguard.roles.gateway import Gateway, barriers
from sealguard.roles.monitor import migrate_url, open_pool
from sealguard.schemas.decode import InvalidEvent
from sealguard.stream.admission import admit_all
from sealguard.stream.log import PgLog
from tests.helpers import Stream
from tests.live.servers import query


def _inbound(event: dict[str, Any], event_id: str) -> Inbound:
    return Inbound(orjson.dumps({**event, "event_id": event_id}), "http", {"test": event_id})


@pytest.fixture
async def gateway(database_url: str) -> AsyncIterator[Gateway]:
    await migrate_url(database_url)
    pool = open_pool(database_url)
    await pool.open(wait=True)
    gw = Gateway(pool, PgLog(pool, 4), max_future_skew=None)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()
        await pool.close()


async def _log_order(url: str, key: str) -> list[str]:
    rows = await query(url, 'SELECT value FROM event_log WHERE key = %s ORDER BY "offset"', key.encode())
    return [orjson.loads(bytes(r[0]))["event_id"] for r in rows]


async def test_a_trip_decision_waiting_on_the_database_holds_its_conveyance_not_the_fleet(
    gateway: Gateway, database_url: str
) -> None:
    a, b = Stream("TRL-A"), Stream("TRL-B")
    plan, a_fix, b_fix = a.plan(0), a.fix(1, 27.5), b.fix(1, 27.5)
    async with await psycopg.AsyncConnection.connect(database_url) as blocker:
        # Uncommitted: the gateway's claim of trip T-1 waits on this row until it is rolled back.
        await blocker.execute("INSERT INTO trip_owners (tenant, trip_id, conveyance_id) VALUES ('default', 'T-1', 'X')")
        planned = await gateway.submit(_inbound(plan, "a-plan"))
        a_after = await gateway.submit(_inbound(a_fix, "a-fix"))
        b_meanwhile = await gateway.submit(_inbound(b_fix, "b-fix"))
        assert (await asyncio.wait_for(b_meanwhile, 30)).status == "accepted"  # the fleet goes on
        assert not planned.done() and not a_after.done()  # TRL-A's fix waits behind its plan
        assert await _log_order(database_url, "default:TRL-A") == []
        await blocker.rollback()
    assert (await asyncio.wait_for(planned, 30)).status == "accepted"
    assert (await asyncio.wait_for(a_after, 30)).status == "accepted"
    assert await _log_order(database_url, "default:TRL-A") == ["a-plan", "a-fix"]  # in the order they came


async def test_reference_data_is_stored_before_anything_after_it_reaches_the_log(
    gateway: Gateway, database_url: str
) -> None:
    acme, other = Stream("TRL-A", tenant="acme"), Stream("TRL-B", tenant="acme")
    issued = acme.add("seal.issued", 0, seal_number="SG123456", facility_id="ORIGIN-DC")
    async with await psycopg.AsyncConnection.connect(database_url) as blocker:
        await blocker.execute("INSERT INTO reference_events (tenant, event_id, kind, occurred_at, payload)"
                              " VALUES ('acme', 'issue-1', 'seal.issued', now(), '{}')")  # fmt: skip
        stored = await gateway.submit(_inbound(issued, "issue-1"))
        later = await gateway.submit(_inbound(other.fix(1, 27.5), "later-fix"))
        with pytest.raises(TimeoutError):  # a worker reading this fix must find the seal issued
            await asyncio.wait_for(asyncio.shield(later), 1.0)
        assert await _log_order(database_url, "acme:TRL-B") == []
        await blocker.rollback()
    assert (await asyncio.wait_for(stored, 30)).status == "accepted"
    assert (await asyncio.wait_for(later, 30)).status == "accepted"
    assert await query(database_url, "SELECT tenant FROM reference_events WHERE event_id = 'issue-1'") == [("acme",)]


async def test_a_flood_of_refusals_does_not_hold_good_inputs(gateway: Gateway, database_url: str) -> None:
    s = Stream("TRL-A")
    async with await psycopg.AsyncConnection.connect(database_url) as blocker:
        # The dead-letter quota row of this sender, locked: every refusal's transaction waits on it.
        await blocker.execute("INSERT INTO dead_letter_usage (day, tenant, sender, letters, kept_bytes)"
                              " VALUES (%s, '', 'http', 0, 0)", (datetime.now(UTC).date(),))  # fmt: skip
        refused = [await gateway.submit(Inbound(b"{not json", "http", {"n": i})) for i in range(50)]
        good = await gateway.submit(_inbound(s.fix(1, 27.5), "good"))
        assert (await asyncio.wait_for(good, 30)).status == "accepted"
        assert not any(f.done() for f in refused)
        await blocker.rollback()
    answers = await asyncio.wait_for(asyncio.gather(*refused), 60)
    assert {a.status for a in answers} == {"rejected"}


def test_what_waits_for_what() -> None:
    s = Stream("TRL-A", tenant="acme")
    ((fix,),) = [admit_all([_inbound(s.fix(1, 27.5), "f")], None)]
    ((plan,),) = [admit_all([_inbound(s.plan(0), "p")], None)]
    ((issued,),) = [admit_all([_inbound(s.add("seal.issued", 0, seal_number="SG1", facility_id="F"), "i")], None)]
    conveyance = [("conveyance", "acme", "TRL-A")]
    assert barriers(fix, True) == (conveyance, conveyance, False)
    trip = [*conveyance, ("trip", "acme", "T-1")]
    assert barriers(plan, True) == (trip, trip, True)
    assert barriers(issued, True) == ([], [], False)  # in line: everything after it waits
    # A whole engine reads the log (``up``): trips and reference data go in line, as any event.
    assert barriers(plan, False) == (conveyance, conveyance, False)
    assert barriers(InvalidEvent("bad"), True) == ([], [], True)
