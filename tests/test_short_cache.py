"""The second-long cache in front of the token, session and binding lookups."""

import asyncio

from sealguard.short_cache import ShortCache


def test_kept_for_its_time_then_loaded_again_and_bounded() -> None:
    now = [0.0]
    loads: list[str] = []

    async def run() -> None:
        cache: ShortCache[str, int] = ShortCache(1.0, 3, clock=lambda: now[0])

        def loader(key: str) -> "asyncio.Future[int]":
            loads.append(key)
            done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            done.set_result(len(loads))
            return done

        assert await cache.get("a", lambda: loader("a")) == 1
        assert await cache.get("a", lambda: loader("a")) == 1  # kept
        now[0] = 1.5
        assert await cache.get("a", lambda: loader("a")) == 2  # expired: loaded again
        cache.forget("a")
        assert await cache.get("a", lambda: loader("a")) == 3  # forgotten: loaded again
        for key in "bcdef":
            await cache.get(key, lambda key=key: loader(key))  # type: ignore[misc]
        assert len(cache._entries) <= 3

    asyncio.run(run())
    assert loads[:4] == ["a", "a", "a", "b"]
