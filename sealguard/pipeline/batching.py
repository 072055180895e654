"""Batching: what is waiting in the queue, up to ``batch_max`` items, so one transaction carries many
inputs under load and a lone input goes at once."""

import asyncio

from sealguard.pipeline.items import Item


async def next_batch(queue: "asyncio.Queue[Item | None]", batch_max: int) -> tuple[list[Item], bool]:
    """Wait for the first item, then take what else is already queued. Returns the batch and whether the
    end marker (None) was reached; an empty batch only comes with the end marker."""
    first = await queue.get()
    if first is None:
        return [], True
    items = [first]
    while len(items) < batch_max and not queue.empty():
        nxt = queue.get_nowait()
        if nxt is None:
            return items, True
        items.append(nxt)
    return items, False
