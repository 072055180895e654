"""``sealguard backtest``: what a policy change would have done to the alerts of a past window, from the
stored events, without touching the live engine (``stream/backtest.py``)."""

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

EXIT_OK, EXIT_FAIL = 0, 1


def _when(text: str) -> datetime:
    from sealguard.cli import _timestamp  # RFC 3339 with an offset, as every command reads time

    return datetime.fromtimestamp(_timestamp(text), UTC)


def add_commands(sub: Any) -> None:
    bp = sub.add_parser("backtest", help="replay a stored window under a new policy and the current one; the diff")
    bp.add_argument("--policy", required=True, type=Path, help="the proposed policy YAML")
    bp.add_argument("--current", type=Path, help="the current policy YAML (default: SEALGUARD_POLICY, else defaults)")
    bp.add_argument("--since", required=True, type=_when, help="start of the window (RFC 3339)")
    bp.add_argument("--until", required=True, type=_when, help="end of the window (RFC 3339)")
    bp.add_argument("--tenant", help="only this tenant's events")
    bp.add_argument("--warmup-hours", type=float, default=48.0,
                    help="hours replayed before --since, so open trips and their timers are known")  # fmt: skip
    bp.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    from sealguard.config import Settings
    from sealguard.rules.policy import Policy

    if args.until <= args.since:
        print("backtest: --until must be after --since", file=sys.stderr)
        return EXIT_FAIL
    proposed = Policy.load(args.policy)
    current_path = args.current or Settings().policy
    current = Policy.load(current_path) if current_path else Policy()
    doc = asyncio.run(backtest(current, proposed, args.tenant, args.since, args.until,
                               timedelta(hours=args.warmup_hours)))  # fmt: skip
    if args.json:
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
    else:
        from sealguard.stream.backtest import render

        print(render(doc))
    return EXIT_OK


async def backtest(current: Any, proposed: Any, tenant: str | None, since: datetime, until: datetime,
                   warmup: timedelta) -> dict[str, Any]:  # fmt: skip
    import psycopg

    from sealguard.cli.live import _database
    from sealguard.store.backtest import events
    from sealguard.store.incident import one_moment
    from sealguard.stream.backtest import Backtest
    from sealguard.stream.partitioned import REFERENCE_KINDS

    run = Backtest(current, proposed, since.timestamp(), until.timestamp())
    async with (
        _database() as url,
        await psycopg.AsyncConnection.connect(url, options="-c timezone=UTC") as conn,
        conn.transaction(),
    ):
        await one_moment(conn)  # a window of one snapshot, read only: nothing live is disturbed
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        async for raw in events(conn, tenant, epoch, until, kinds=REFERENCE_KINDS):
            run.feed(raw, reference=True)
        async for raw in events(conn, tenant, since - warmup, until, skip_kinds=REFERENCE_KINDS):
            run.feed(raw)
    return run.finish()
