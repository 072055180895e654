"""``make bench`` (compliance part): a year of a 400-trailer fleet (about 40,000 trips with their plans,
inspections, seals, GPS fixes, arrival checks and alerts) stored in the embedded PostgreSQL, then the
compliance figures of several periods and groupings timed as the API computes them. The goal, printed
beside each figure: any period's figures in under 2 s on this machine. Printed, never asserted.
"""

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from sealguard.cli.backtest import backtest
from sealguard.embedded.servers import EmbeddedPostgres
from sealguard.rules.policy import Policy
from sealguard.sim.fleet_year import generate, load, year_start
from sealguard.store import compliance
from sealguard.store.migrate import migrate

GOAL_S = 2.0


async def run(trailers: int, days: int, gps: int, repeats: int) -> None:
    start = year_start(2025)
    with tempfile.TemporaryDirectory() as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg")
        pg.start()
        try:
            async with await psycopg.AsyncConnection.connect(pg.url) as conn:
                await migrate(conn)
            t0 = time.perf_counter()
            year = generate("acme", trailers, start, days, gps_per_trip=gps)
            made = time.perf_counter() - t0
            async with await psycopg.AsyncConnection.connect(pg.url) as conn:
                t0 = time.perf_counter()
                await load(conn, year)
                await conn.commit()
                await conn.set_autocommit(True)
                await conn.execute("VACUUM ANALYZE")
                loaded = time.perf_counter() - t0
                print(
                    f"compliance: {len(year.trips):,} trips, {len(year.events):,} events, {len(year.alerts):,}"
                    f" alerts of {trailers} trailers over {days} days (generated {made:.1f} s, stored {loaded:.1f} s)"
                )
                periods = {"year": (start, start + timedelta(days=days)),
                           "quarter": (start + timedelta(days=90), start + timedelta(days=181)),
                           "month": (start + timedelta(days=181), start + timedelta(days=212)),
                           "week": (start + timedelta(days=300), start + timedelta(days=307))}  # fmt: skip
                for name, (since, until) in periods.items():
                    for by in ("facility", "carrier", "lane"):
                        times = []
                        for _ in range(repeats):
                            t0 = time.perf_counter()
                            async with conn.transaction():
                                trips = await compliance.trip_counts(conn, "acme", since, until, by)
                                await compliance.alert_counts(conn, "acme", since, until, by, ["SEAL-001", "SEAL-003"])
                            times.append(time.perf_counter() - t0)
                        total = next(t for t in trips if t.group is None)
                        best, median = min(times), statistics.median(times)
                        verdict = "met" if median < GOAL_S else "MISSED"
                        print(f"compliance {name:7} by {by:8}: {total.trips:6,} trips, median {median * 1000:6.0f} ms,"
                              f" best {best * 1000:6.0f} ms (goal < {GOAL_S:.0f} s: {verdict})")  # fmt: skip
            await _backtest(pg.url, start)
        finally:
            pg.stop()


async def _backtest(url: str, start: datetime) -> None:
    """``sealguard backtest`` over a month of the same fleet: TRK-003's silence window from 15 to 60 minutes."""
    os.environ["SEALGUARD_DATABASE_URL"] = url
    since, until = start + timedelta(days=181), start + timedelta(days=212)
    t0 = time.perf_counter()
    doc = await backtest(Policy(), Policy.parse("rules:\n  TRK-003:\n    window: 60m\n"), "acme", since, until,
                         timedelta(hours=48))  # fmt: skip
    seconds = time.perf_counter() - t0
    e = doc["events"]
    print(f"backtest month: {e['replayed']:,} events replayed ({e['in_window']:,} in the window) through two engines"
          f" in {seconds:.1f} s ({e['replayed'] / seconds:,.0f} events/s); alerts {doc['alerts']['current']:,} now,"
          f" {doc['alerts']['proposed']:,} proposed")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trailers", type=int, default=400)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--gps", type=int, default=24, help="GPS fixes per trip")
    parser.add_argument("--repeats", type=int, default=3)
    a = parser.parse_args()
    asyncio.run(run(a.trailers, a.days, a.gps, a.repeats))


if __name__ == "__main__":
    main()
