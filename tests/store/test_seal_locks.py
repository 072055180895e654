"""The seal stage's locks (``store.seal_facts.lock_seals``), taken in one statement: still one per seal and
still in sorted order, so two workers touching the same seals never wait on each other in a cycle."""

import asyncio

import psycopg

from sealguard.roles.monitor import migrate_url
from sealguard.store import seal_facts

_HELD = (
    "SELECT l.granted, k.k FROM pg_locks l JOIN unnest(%s::text[]) AS k(k)"
    " ON ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(k.k, 5361)"
    " WHERE l.locktype = 'advisory' AND l.pid = %s"
)


async def test_locks_are_taken_in_sorted_order_and_wait_at_the_first_held_one(database_url: str) -> None:
    await migrate_url(database_url)
    seals = [("acme", f"SEAL-{i:03d}") for i in range(20)]
    keys = [f"{t}\x1f{s}" for t, s in seals]
    async with (
        await psycopg.AsyncConnection.connect(database_url) as holder,
        await psycopg.AsyncConnection.connect(database_url) as writer,
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as watcher,
    ):
        await seal_facts.lock_seals(holder, [seals[10]])  # another writer holds the eleventh seal
        # handed over shuffled and repeated: sorted and deduplicated inside
        taking = asyncio.create_task(seal_facts.lock_seals(writer, list(reversed(seals)) + seals[:3]))
        try:
            for _ in range(200):
                cur = await watcher.execute(_HELD, (keys, writer.info.backend_pid))
                rows = await cur.fetchall()
                if any(not granted for granted, _ in rows):
                    break
                await asyncio.sleep(0.02)
            still_waiting = not taking.done()
        finally:
            await holder.rollback()  # the other writer finishes, pass or fail: the rest are taken
        held = sorted(k for granted, k in rows if granted)
        waiting = [k for granted, k in rows if not granted]
        assert held == keys[:10]  # every seal before the held one, none after
        assert waiting == [keys[10]]
        assert still_waiting
        await asyncio.wait_for(taking, 10)
        cur = await watcher.execute(_HELD, (keys, writer.info.backend_pid))
        assert sorted(k for granted, k in await cur.fetchall() if granted) == keys
        await writer.rollback()
        await seal_facts.lock_seals(writer, [])  # nothing to lock: no statement, no transaction
        assert writer.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
