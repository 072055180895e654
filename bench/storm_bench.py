"""``make bench`` (alert storm): what a batch that opens, then resolves, a thousand alerts costs to write.

A tenant's clock that jumps (a feed back after an outage, the first event of a new fleet) fires every
timer due meanwhile in one batch, and everything behind that batch waits for it to commit. This writes
``--alerts`` alerts opened in one transaction, then resolved in the next, through
``stream.alert_changes.apply_changes`` with a paging configuration, on embedded PostgreSQL, and prints
each transaction's wall time (best and worst of ``--rounds``). Printed, never asserted; no goal of its own.
"""

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from sealguard.alerts.book import AlertBook
from sealguard.alerts.config import AlertingConfig
from sealguard.embedded.servers import EmbeddedPostgres
from sealguard.rules.findings import Action, Finding
from sealguard.store.migrate import migrate
from sealguard.stream.alert_changes import apply_changes

ALERTING = AlertingConfig.model_validate(
    {"receivers": [{"name": "ops", "webhook": {"url": "http://127.0.0.1:9/ops"}}], "route": {"receiver": "ops"}}
)
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)


def _finding(action: Action, i: int, round_no: int) -> Finding:
    trip = f"T{i}-{round_no}"
    return Finding(action, "TRK-003", "high", "acme", f"C{i}", trip, 1_790_000_000.0 + round_no, "silent",
                   "MSC 5.15", (f"e{i}",), f"acme:TRK-003:C{i}:{trip}")  # fmt: skip


async def run(alerts: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="sealguard-bench-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg").start()
        try:
            async with await psycopg.AsyncConnection.connect(pg.url) as conn:
                await migrate(conn)
                book = AlertBook(retain=False)
                opened: list[float] = []
                resolved: list[float] = []
                steps: list[tuple[Action, list[float]]] = [("raise", opened), ("resolve", resolved)]
                for k in range(rounds):
                    for action, took in steps:
                        changes = [book.apply(_finding(action, i, k)) for i in range(alerts)]
                        started = time.perf_counter()
                        async with conn.transaction():
                            await apply_changes(conn, [(c, r) for c, r in changes if r is not None], NOW, ALERTING)
                        took.append((time.perf_counter() - started) * 1000)
            for name, took in (("opened", opened), ("resolved", resolved)):
                print(f"alert storm: {alerts:,} alerts {name} in one batch: {min(took):,.0f}-{max(took):,.0f} ms"
                      f" to write ({rounds} rounds)")  # fmt: skip
        finally:
            pg.stop("immediate")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    asyncio.run(run(args.alerts, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
