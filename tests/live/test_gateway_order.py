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
from sealguard.roles import gateway as gateway_module
from sealguard.roles.gateway import Gateway, barriers
from sealguard.roles.monitor import migrate_url, open_pool
from sealguard.schemas.decode import InvalidEvent
from sealguard.stream.admission import admit_all
from sealguard.stream.log import PgLog
from tests.helpers import Stream, circle
from tests.live.servers import query, wait_for


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


async def test_a_facility_is_stored_before_anything_after_it_reaches_the_log(
    gateway: Gateway, database_url: str
) -> None:
    acme, other = Stream("TRL-A", tenant="acme"), Stream("TRL-B", tenant="acme")
    facility = acme.add("facility.registered", 0, place=circle("DC-1", 50.1, 8.1, radius=300))
    async with await psycopg.AsyncConnection.connect(database_url) as blocker:
        await blocker.execute("INSERT INTO reference_events (tenant, event_id, kind, occurred_at, payload)"
                              " VALUES ('acme', 'dc-1', 'facility.registered', now(), '{}')")  # fmt: skip
        stored = await gateway.submit(_inbound(facility, "dc-1"))
        later = await gateway.submit(_inbound(other.fix(1, 27.5), "later-fix"))
        with pytest.raises(TimeoutError):  # a worker judging this fix's stop must know the facility
            await asyncio.wait_for(asyncio.shield(later), 1.0)
        assert await _log_order(database_url, "acme:TRL-B") == []
        await blocker.rollback()
    assert (await asyncio.wait_for(stored, 30)).status == "accepted"
    assert (await asyncio.wait_for(later, 30)).status == "accepted"
    assert await query(database_url, "SELECT tenant FROM reference_events WHERE event_id = 'dc-1'") == [("acme",)]


async def test_a_seal_issue_holds_the_tenants_later_affixes_and_nothing_else(
    gateway: Gateway, database_url: str
) -> None:
    """Only a seal affix reads the inventory (SEAL-005): it waits for the issues before it, and its
    conveyance's later events wait for it. A fix, or another tenant's affix, goes on while an issue waits
    on the database; issues arriving meanwhile are stored together in the next round."""
    acme, b, theirs = Stream("TRL-A", tenant="acme"), Stream("TRL-B", tenant="acme"), Stream("TRL-C", tenant="other")
    async with await psycopg.AsyncConnection.connect(database_url) as blocker:
        await blocker.execute("INSERT INTO reference_events (tenant, event_id, kind, occurred_at, payload)"
                              " VALUES ('acme', 'issue-1', 'seal.issued', now(), '{}')")  # fmt: skip
        stored = await gateway.submit(
            _inbound(acme.add("seal.issued", 0, seal_number="SG1", facility_id="F"), "issue-1")
        )
        await wait_for(gateway.queue.empty, what="the gateway taking the held issue")
        await asyncio.sleep(0.2)  # its round is storing (and waits on the blocker's row)
        more = [await gateway.submit(_inbound(acme.add("seal.issued", 0, seal_number=f"SG{i}", facility_id="F"),
                                              f"issue-{i}")) for i in range(2, 6)]  # fmt: skip
        affix = await gateway.submit(_inbound(b.affix(1), "b-affix"))
        b_fix = await gateway.submit(_inbound(b.fix(2, 27.5), "b-fix"))  # after its own affix: waits too
        fix = await gateway.submit(_inbound(acme.fix(1, 27.5), "a-fix"))
        their_affix = await gateway.submit(_inbound(theirs.affix(1), "c-affix"))
        assert (await asyncio.wait_for(fix, 30)).status == "accepted"
        assert (await asyncio.wait_for(their_affix, 30)).status == "accepted"
        assert await _log_order(database_url, "acme:TRL-A") == ["a-fix"]
        with pytest.raises(TimeoutError):  # a worker judging this affix must find its seal issued
            await asyncio.wait_for(asyncio.shield(affix), 1.0)
        assert not b_fix.done() and not any(m.done() for m in more)
        assert await _log_order(database_url, "acme:TRL-B") == []
        await blocker.rollback()
    assert (await asyncio.wait_for(stored, 30)).status == "accepted"
    assert [a.status for a in await asyncio.wait_for(asyncio.gather(*more), 30)] == ["accepted"] * 4
    assert (await asyncio.wait_for(affix, 30)).status == "accepted"
    assert (await asyncio.wait_for(b_fix, 30)).status == "accepted"
    assert await _log_order(database_url, "acme:TRL-B") == ["b-affix", "b-fix"]
    rows = await query(database_url, "SELECT event_id, xmin::text FROM reference_events ORDER BY event_id")
    assert [r[0] for r in rows] == [f"issue-{i}" for i in range(1, 6)]
    assert len({r[1] for r in rows[1:]}) == 1 and rows[0][1] != rows[1][1]  # the later four: one round


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


async def _queued_behind_a_held_reference(gateway: Gateway, blocker: psycopg.AsyncConnection[Any],
                                          events: list[tuple[dict[str, Any], str]]) -> list[Any]:  # fmt: skip
    """Submit ``events`` while a facility (stored in line) waits on a row ``blocker`` holds, so that they
    are all queued when it goes on; then let it go on."""
    acme = Stream("TRL-0", tenant="acme")
    await blocker.execute("INSERT INTO reference_events (tenant, event_id, kind, occurred_at, payload)"
                          " VALUES ('acme', 'held', 'facility.registered', now(), '{}')")  # fmt: skip
    held = await gateway.submit(_inbound(acme.add("facility.registered", 0, place=circle("DC-0", 50.0, 8.0)), "held"))
    await wait_for(gateway.queue.empty, what="the gateway taking the held reference event")
    answers = [await gateway.submit(_inbound(event, event_id)) for event, event_id in events]
    assert gateway.queue.qsize() == len(events)  # all queued behind the held one
    await blocker.rollback()
    assert (await asyncio.wait_for(held, 30)).status == "accepted"
    return answers


async def test_reference_data_queued_together_is_stored_in_one_transaction_and_each_answered(
    gateway: Gateway, database_url: str
) -> None:
    """A fleet registers its facilities and issues its seals together: each in its own transaction held
    every input behind it for a commit. Queued one behind another, they are stored in one: the seal
    issues in a round beside the queue, the facilities in line."""
    s, fix_stream = Stream("TRL-A", tenant="acme"), Stream("TRL-B", tenant="acme")
    issued = [(s.add("seal.issued", 0, seal_number=f"SG10000{i}", facility_id="F"), f"issue-{i}") for i in range(5)]
    facilities = [(s.add("facility.registered", 0, place=circle(f"DC-{i}", 50.1, 8.1 + i / 100)), f"dc-{i}")
                  for i in range(3)]  # fmt: skip
    events = [*issued, (issued[2][0], "issue-2"), *facilities, (fix_stream.fix(1, 27.5), "after")]
    async with await psycopg.AsyncConnection.connect(database_url) as blocker:
        answers = await _queued_behind_a_held_reference(gateway, blocker, events)
    statuses = [a.status for a in await asyncio.wait_for(asyncio.gather(*answers), 30)]
    assert statuses == ["accepted"] * 5 + ["duplicate"] + ["accepted"] * 4
    rows = await query(database_url, "SELECT event_id, xmin::text FROM reference_events WHERE event_id <> 'held'")
    by_transaction: dict[str, list[str]] = {}
    for event_id, xmin in rows:
        by_transaction.setdefault(xmin, []).append(event_id)
    assert sorted(sorted(ids) for ids in by_transaction.values()) == [
        ["dc-0", "dc-1", "dc-2"],
        ["issue-0", "issue-1", "issue-2", "issue-3", "issue-4"],
    ]
    stored = await query(database_url, "SELECT event_id FROM events WHERE seq < 0 AND event_id <> 'held'")
    assert sorted(r[0] for r in stored) == sorted([*(f"issue-{i}" for i in range(5)), "dc-0", "dc-1", "dc-2"])
    assert await _log_order(database_url, "acme:TRL-B") == ["after"]


async def test_a_reference_event_the_database_refuses_fails_alone_in_its_run(
    gateway: Gateway, database_url: str
) -> None:
    s = Stream("TRL-A", tenant="acme")
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        await admin.execute(
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.event_id = 'poison' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
        )
        await admin.execute("CREATE TRIGGER refuse_poison BEFORE INSERT ON reference_events FOR EACH ROW"
                            " EXECUTE FUNCTION refuse_poison()")  # fmt: skip
    events = [(s.add("seal.issued", 0, seal_number=f"SG20000{i}", facility_id="F"), name)
              for i, name in enumerate(["good-1", "poison", "good-2"])]  # fmt: skip
    async with await psycopg.AsyncConnection.connect(database_url) as blocker:
        good_1, poison, good_2 = await _queued_behind_a_held_reference(gateway, blocker, events)
    assert (await asyncio.wait_for(good_1, 30)).status == "accepted"
    assert (await asyncio.wait_for(good_2, 30)).status == "accepted"
    with pytest.raises(psycopg.Error):  # unanswered: its sender delivers it again
        await asyncio.wait_for(poison, 30)
    rows = await query(database_url, "SELECT event_id FROM reference_events WHERE event_id <> 'held' ORDER BY id")
    assert [r[0] for r in rows] == ["good-1", "good-2"]


def test_what_waits_for_what() -> None:
    s = Stream("TRL-A", tenant="acme")
    ((fix,),) = [admit_all([_inbound(s.fix(1, 27.5), "f")], None)]
    ((plan,),) = [admit_all([_inbound(s.plan(0), "p")], None)]
    ((issued,),) = [admit_all([_inbound(s.add("seal.issued", 0, seal_number="SG1", facility_id="F"), "i")], None)]
    ((facility,),) = [admit_all([_inbound(s.add("facility.registered", 0, place=circle("DC", 50, 8)), "d")], None)]
    ((affix,),) = [admit_all([_inbound(s.affix(1), "a")], None)]
    conveyance = [("conveyance", "acme", "TRL-A")]
    assert barriers(fix, True) == (conveyance, conveyance, False)
    trip = [*conveyance, ("trip", "acme", "T-1")]
    assert barriers(plan, True) == (trip, trip, True)
    assert barriers(facility, True) == ([], [], False)  # in line: everything after it waits
    seals = [("seals", "acme")]
    assert barriers(issued, True) == (seals, seals, True)  # beside, in rounds: the tenant's later affixes wait
    assert barriers(affix, True) == ([*conveyance, *seals], conveyance, False)
    # A whole engine reads the log (``up``): trips and reference data go in line, as any event.
    assert barriers(plan, False) == (conveyance, conveyance, False)
    assert barriers(InvalidEvent("bad"), True) == ([], [], True)


async def test_seal_issues_waiting_on_the_database_are_bounded(
    gateway: Gateway, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flood of seal issues while the database is slow: at most ``MAX_BESIDE`` wait in rounds, and then
    the queue waits, as it did when they were stored in line (memory stays bounded)."""
    monkeypatch.setattr(gateway_module, "MAX_BESIDE", 3)
    acme = Stream("TRL-A", tenant="acme")
    async with await psycopg.AsyncConnection.connect(database_url) as blocker:
        await blocker.execute("INSERT INTO reference_events (tenant, event_id, kind, occurred_at, payload)"
                              " VALUES ('acme', 'issue-0', 'seal.issued', now(), '{}')")  # fmt: skip
        answers = [await gateway.submit(_inbound(acme.add("seal.issued", 0, seal_number=f"SG{i}", facility_id="F"),
                                                 f"issue-{i}")) for i in range(10)]  # fmt: skip
        await asyncio.sleep(1.0)
        assert gateway._issues.waiting == 3 and gateway.queue.qsize() >= 6  # the rest wait in the queue
        await blocker.rollback()
    assert [a.status for a in await asyncio.wait_for(asyncio.gather(*answers), 30)] == ["accepted"] * 10
    assert gateway._issues.waiting == 0


async def _dead_letter_reasons(url: str) -> dict[str, str]:
    return {str(e): str(r) for e, r in await query(url, "SELECT event_id, reason FROM dead_letters")}


async def test_trip_plans_arriving_while_a_round_waits_are_decided_together_in_order(
    gateway: Gateway, database_url: str
) -> None:
    """A fleet's morning of plans: each was its own transaction, four at a time, and a burst held plans
    (and their trucks' fixes) for hundreds of milliseconds. Plans arriving while a round is stored are
    decided in the next round, in one transaction, each answered as if decided alone and in turn."""
    first = Stream("TRL-0")
    trucks = [Stream(f"TRL-{i}") for i in range(1, 6)]
    async with await psycopg.AsyncConnection.connect(database_url) as blocker:
        await blocker.execute("INSERT INTO trip_owners (tenant, trip_id, conveyance_id) VALUES ('default', 'T-0', 'X')")
        held = await gateway.submit(_inbound(first.plan(0, trip_id="T-0"), "plan-0"))
        await wait_for(gateway.queue.empty, what="the gateway taking the held plan")
        await asyncio.sleep(0.2)  # its round is deciding (and waits on the blocker's row)
        answers = {}
        for i, truck in enumerate(trucks, start=1):
            answers[f"plan-{i}"] = await gateway.submit(_inbound(truck.plan(0, trip_id=f"T-{i}"), f"plan-{i}"))
            answers[f"fix-{i}"] = await gateway.submit(_inbound(truck.fix(1, 27.5), f"fix-{i}"))
        # Within the round: TRL-1's trip claimed by TRL-2, TRL-3 closing its trip and planning it again.
        answers["steal"] = await gateway.submit(_inbound(trucks[1].plan(2, trip_id="T-1"), "steal"))
        answers["close-3"] = await gateway.submit(_inbound(trucks[2].add("trip.closed", 3, trip_id="T-3"), "close-3"))
        answers["again-3"] = await gateway.submit(_inbound(trucks[2].plan(4, trip_id="T-3"), "again-3"))
        await asyncio.sleep(0.5)
        assert not held.done() and not any(a.done() for a in answers.values())  # all behind the held round
        await blocker.rollback()
    assert (await asyncio.wait_for(held, 30)).status == "accepted"
    statuses = {k: (await asyncio.wait_for(a, 30)).status for k, a in answers.items()}
    assert statuses == {**{k: "accepted" for k in answers}, "steal": "rejected", "again-3": "rejected"}
    reasons = await _dead_letter_reasons(database_url)
    assert reasons == {
        "steal": "trip_id: trip T-1 belongs to conveyance TRL-1",
        "again-3": "trip_id: trip T-3 is closed and cannot be planned again",
    }
    for i in range(1, 6):
        expected = [f"plan-{i}", f"fix-{i}"] + (["close-3"] if i == 3 else [])
        assert await _log_order(database_url, f"default:TRL-{i}") == expected
    rows = await query(
        database_url, "SELECT trip_id, conveyance_id, closed, xmin::text FROM trip_owners ORDER BY trip_id"
    )
    assert [r[:3] for r in rows] == [("T-0", "TRL-0", False)] + [(f"T-{i}", f"TRL-{i}", i == 3) for i in range(1, 6)]
    # The five plans: one round. TRL-3's close follows its fix, which waits for that round, so the close
    # (and the refused plan after it) are decided in the round after, which wrote T-3's row last.
    plans = {r[0]: r[3] for r in rows}
    assert len({plans[t] for t in ("T-1", "T-2", "T-4", "T-5")}) == 1
    assert len({plans["T-0"], plans["T-1"], plans["T-3"]}) == 3


async def test_a_plan_behind_an_affix_behind_seal_issues_opens_a_round_of_its_own(
    gateway: Gateway, database_url: str
) -> None:
    """TRL-A's plan is in a round held on the database; its affix waits for that round and for a seal
    issue held too; its second plan must follow the affix. Had the second plan joined a round the affix
    waits for, each would wait for the other forever: it opens a round that waits for the affix."""
    a, b = Stream("TRL-A", tenant="acme"), Stream("TRL-B", tenant="acme")
    async with (
        await psycopg.AsyncConnection.connect(database_url) as trips,
        await psycopg.AsyncConnection.connect(database_url) as seals,
    ):
        await trips.execute("INSERT INTO trip_owners (tenant, trip_id, conveyance_id) VALUES ('acme', 'T-1', 'X')")
        await seals.execute("INSERT INTO reference_events (tenant, event_id, kind, occurred_at, payload)"
                            " VALUES ('acme', 'issue', 'seal.issued', now(), '{}')")  # fmt: skip
        plan_1 = await gateway.submit(_inbound(a.plan(0), "plan-1"))
        await wait_for(gateway.queue.empty, what="the gateway taking the held plan")
        await asyncio.sleep(0.2)
        issue = await gateway.submit(
            _inbound(b.add("seal.issued", 0, seal_number="SG123456", facility_id="F"), "issue")
        )
        affix = await gateway.submit(_inbound(a.affix(1), "affix"))
        plan_2 = await gateway.submit(_inbound(a.plan(2, trip_id="T-2"), "plan-2"))
        b_plan = await gateway.submit(_inbound(b.plan(0, trip_id="T-9"), "b-plan"))
        b_fix = await gateway.submit(_inbound(b.fix(1, 27.5), "b-fix"))
        await asyncio.sleep(0.5)
        assert not any(f.done() for f in (plan_1, issue, affix, plan_2, b_plan, b_fix))
        await trips.rollback()
        assert (await asyncio.wait_for(plan_1, 30)).status == "accepted"
        with pytest.raises(TimeoutError):  # the affix still waits for the seal issue
            await asyncio.wait_for(asyncio.shield(affix), 1.0)
        assert not plan_2.done()
        await seals.rollback()
    for answer in (issue, affix, plan_2, b_plan, b_fix):
        assert (await asyncio.wait_for(answer, 30)).status == "accepted"
    assert await _log_order(database_url, "acme:TRL-A") == ["plan-1", "affix", "plan-2"]
    assert await _log_order(database_url, "acme:TRL-B") == ["b-plan", "b-fix"]


async def test_a_trip_id_taken_by_another_gateway_meanwhile_is_judged_against_its_owner(
    gateway: Gateway, database_url: str
) -> None:
    """Between the round's look and its insert another gateway gives the trip id to another truck: the
    round's insert waits for that transaction, finds the trip id taken, and decides the round again."""
    a, c = Stream("TRL-A"), Stream("TRL-C")
    async with await psycopg.AsyncConnection.connect(database_url) as other_gateway:
        await other_gateway.execute(
            "INSERT INTO trip_owners (tenant, trip_id, conveyance_id) VALUES ('default', 'T-1', 'TRL-B')"
        )
        planned = await gateway.submit(_inbound(a.plan(0), "a-plan"))
        own = await gateway.submit(_inbound(c.plan(0, trip_id="T-7"), "c-plan"))  # the same round
        await asyncio.sleep(0.5)
        assert not planned.done() and not own.done()
        await other_gateway.commit()
    answer = await asyncio.wait_for(planned, 30)
    assert (answer.status, answer.reason) == ("rejected", "trip_id: trip T-1 belongs to conveyance TRL-B")
    assert (await asyncio.wait_for(own, 30)).status == "accepted"
    assert await query(database_url, "SELECT trip_id, conveyance_id FROM trip_owners ORDER BY trip_id") == [
        ("T-1", "TRL-B"),
        ("T-7", "TRL-C"),
    ]
    assert await _log_order(database_url, "default:TRL-A") == []
