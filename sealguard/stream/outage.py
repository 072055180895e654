"""A database outage and how the application waits it out.

``RETRYABLE`` are the errors that mean "the database is away" (not "it refused this"): whoever meets one
holds its work, unacknowledged, and tries again. ``until_answered`` is that wait, shared by the pipeline
of ``up`` and the workers."""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import psycopg
import psycopg_pool

from sealguard.retry import Backoff

log = logging.getLogger("sealguard.stream.outage")
RETRYABLE = (psycopg.OperationalError, psycopg_pool.PoolTimeout, OSError)


async def until_answered(action: Callable[..., Any], *args: Any, on_state: Callable[[bool], None],
                         who: str = "sealguard") -> None:  # fmt: skip
    """Run ``action(*args)`` until the database answers, backing off up to 5 s between tries, telling
    ``on_state`` whether it is up after each try."""
    backoff = Backoff(base=0.2, cap=5.0)
    while True:
        try:
            await action(*args)
            on_state(True)
            return
        except RETRYABLE as exc:
            on_state(False)
            delay = backoff.next()
            log.warning("%s: database unavailable (%s); retrying in %.1f s", who, exc, delay)
            await asyncio.sleep(delay)
