"""A batch's alert changes written in waves (``stream.alert_changes.apply_changes``) leave the rows that
writing each change alone leaves: the alerts, their pages, cancellations and follow-ups, and the history
chain. The waves exist for storms (a clock move that fires a thousand timers); this checks they change
nothing but the number of statements, and the one thing changed on purpose: an alert opened and made
worse in one batch pages once, not twice."""

from datetime import UTC, datetime
from typing import Any

import psycopg

from sealguard.alerts.audit import verify
from sealguard.alerts.book import AlertBook, AlertRecord, Change
from sealguard.alerts.config import AlertingConfig
from sealguard.rules.findings import Action, Finding
from sealguard.store import alerts as alert_rows
from sealguard.store.migrate import migrate
from sealguard.stream.alert_changes import act, apply_changes, waves

NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)
ALERTING = AlertingConfig.model_validate({
    "receivers": [{"name": "ops", "webhook": {"url": "http://127.0.0.1:9/ops"}},
                  {"name": "pager", "webhook": {"url": "http://127.0.0.1:9/pager"}},
                  {"name": "escalate", "webhook": {"url": "http://127.0.0.1:9/escalate"}}],
    "route": {"receiver": "ops", "group_wait": "0s", "routes": [
        {"matchers": ['severity="critical"'], "continue": True,
         "escalation": [{"after": "0s", "receivers": ["pager"]}, {"after": "1h", "receivers": ["escalate"]}]}]},
})  # fmt: skip


def _finding(action: Action, tenant: str, conveyance: str, severity: str = "medium", at: float = 1_790_000_000.0,
             ) -> Finding:  # fmt: skip
    return Finding(action, "SEAL-003", severity, tenant, conveyance, f"T-{conveyance}", at,
                   f"{severity} on {conveyance}", "MSC 6.1", (f"e-{conveyance}-{severity}",),
                   f"{tenant}:SEAL-003:{conveyance}:T-{conveyance}")  # fmt: skip


async def _snapshot(conn: psycopg.AsyncConnection[Any]) -> dict[str, list[Any]]:
    """Every row the changes may write, without the outbox's serial ids (a rolled-back sequence moves on);
    each alert's pages in the order they were written."""
    out = {}
    for name, sql in {
        "alerts": "SELECT to_jsonb(a) FROM alerts a ORDER BY alert_id",
        "outbox": "SELECT to_jsonb(o) - 'id' FROM outbox o ORDER BY alert_id, id",
        "history": "SELECT to_jsonb(h) FROM alert_history h ORDER BY tenant, chain_seq",
    }.items():
        cur = await conn.execute(sql.encode())
        out[name] = [r[0] for r in await cur.fetchall()]
    return out


def test_waves_keep_each_alerts_changes_in_order() -> None:
    book = AlertBook()
    a = [book.apply(_finding("raise", "acme", "A")), book.apply(_finding("raise", "acme", "A", "critical")),
         book.apply(_finding("resolve", "acme", "A"))]  # fmt: skip
    b = book.apply(_finding("raise", "acme", "B"))
    changes = [(c, r) for c, r in [a[0], b, a[1], a[2]] if r is not None]
    assert [[c for c, _ in wave] for wave in waves(changes)] == [["opened", "opened"], ["escalated"], ["resolved"]]
    assert waves([]) == []


async def test_a_batch_of_changes_writes_what_each_change_alone_writes(database_url: str) -> None:
    book = AlertBook()

    def raised(*args: Any, **kwargs: Any) -> tuple[Change, AlertRecord]:
        change, record = book.apply(_finding(*args, **kwargs))
        assert record is not None
        return change, record

    async with await psycopg.AsyncConnection.connect(database_url, options="-c timezone=UTC") as conn:
        await migrate(conn)
        # Before the batch: B paged (its triggers sent), C acknowledged by a person, D stored.
        earlier = [raised("raise", "acme", "B", "critical"), raised("raise", "acme", "C"), raised("raise", "acme", "D")]
        async with conn.transaction():
            await apply_changes(conn, earlier, NOW, ALERTING)
            await conn.execute("UPDATE outbox SET status = 'sent' WHERE alert_id = %s", (earlier[0][1].alert_id,))
            decision, _ = await act(conn, ALERTING, earlier[1][1].alert_id, "acme", "acknowledge", "olga", NOW,
                                    identity="person:1")  # fmt: skip
            assert decision.error is None
        batch = [
            raised("raise", "acme", "A"),  # A: opened, made worse and resolved in the one batch
            raised("raise", "other", "E", "critical"),  # another tenant's chain
            raised("raise", "acme", "A", "critical"),
            raised("resolve", "acme", "B"),  # paged earlier: told of the resolution
            raised("raise", "acme", "C", "critical"),  # acknowledged: worse, it pages its first tier only
            earlier[2],  # D again, as a replayed batch writes it: stored already, no second page
            raised("raise", "acme", "F"),
            raised("resolve", "acme", "F"),
            raised("resolve", "acme", "A"),
            raised("raise", "acme", "G"),  # G: opened and made worse, left open
            raised("raise", "acme", "G", "high"),
            raised("raise", "acme", "G", "critical"),
        ]
        assert [c for c, _ in batch] == ["opened", "opened", "escalated", "resolved", "escalated", "opened", "opened",
                                         "resolved", "resolved", "opened", "escalated", "escalated"]  # fmt: skip
        async with conn.transaction():
            before = await _snapshot(conn)
            await apply_changes(conn, batch, NOW, ALERTING)
            together = await _snapshot(conn)
            chain_problem = verify(await alert_rows.history(conn))
            raise psycopg.Rollback()
        async with conn.transaction():
            for change in batch:
                await apply_changes(conn, [change], NOW, ALERTING)
            alone = await _snapshot(conn)
            raise psycopg.Rollback()
        by = {r.conveyance_id: r.alert_id for _, r in batch}

        def pages_of(rows: dict[str, list[Any]], conveyance: str) -> list[tuple[str, str, str]]:
            return [(p["kind"], p["receiver"], p["status"]) for p in rows["outbox"]
                    if p["alert_id"] == by[conveyance] and p not in before["outbox"]]  # fmt: skip

        assert together["alerts"] == alone["alerts"] and together["history"] == alone["history"]
        twice = {by["A"], by["G"]}  # opened and made worse in the batch
        assert [p for p in together["outbox"] if p["alert_id"] not in twice] == [
            p for p in alone["outbox"] if p["alert_id"] not in twice
        ]
        # A and G are written as they stand at the batch's end (critical), so their open's pages already
        # reach the critical route's two tiers: each worse repeat wrote them again, once per repeat.
        assert pages_of(alone, "A") == pages_of(together, "A") * 2
        assert pages_of(alone, "G") == pages_of(together, "G") * 3
        # ... and what was written is what the lifecycle asks for (so no comparison is of two nothings).
        assert pages_of(together, "A") == [("trigger", "pager", "cancelled"), ("trigger", "escalate", "cancelled")]
        assert pages_of(together, "G") == [("trigger", "pager", "pending"), ("trigger", "escalate", "pending")]
        assert sorted(pages_of(together, "B")) == [("resolve", "escalate", "pending"), ("resolve", "pager", "pending")]
        assert pages_of(together, "C") == [("trigger", "pager", "pending")]  # acknowledged: the first tier only
        assert pages_of(together, "D") == []
        assert pages_of(together, "E") == [("trigger", "pager", "pending"), ("trigger", "escalate", "pending")]
        assert pages_of(together, "F") == [("trigger", "ops", "cancelled")]
        assert len(together["history"]) == len(before["history"]) + len(batch)
        assert chain_problem is None
