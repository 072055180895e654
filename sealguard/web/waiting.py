"""Every write through the API waits for the pipeline's commit; a database that stays away is a 503."""

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import HTTPException

T = TypeVar("T")
STORE_TIMEOUT_S = 30.0


async def stored(pending: Awaitable[T], timeout: float = STORE_TIMEOUT_S) -> T:
    """The result once committed. Retrying after the 503 is safe: duplicates are ignored."""
    try:
        async with asyncio.timeout(timeout):
            return await pending
    except TimeoutError:
        raise HTTPException(503, "not stored yet (database unavailable); retry: duplicates are ignored",
                            {"Retry-After": "5"}) from None  # fmt: skip
