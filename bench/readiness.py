"""What the benchmarks that start ``sealguard up`` as a process wait for: its ``/readyz``."""

import asyncio

import httpx


async def until_ready(http_port: int, tries: int = 600, pause_s: float = 0.2) -> None:
    """Poll ``/readyz`` until it answers 200 (or ``tries`` polls have passed; the caller's next step fails
    then, with its own message)."""
    async with httpx.AsyncClient() as c:
        for _ in range(tries):
            try:
                if (await c.get(f"http://127.0.0.1:{http_port}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(pause_s)
