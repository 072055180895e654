"""Serving a process's HTTP side whose lifespan owns its parts: ``up`` and every split role use it.

The lifespan opens the parts (``open_parts`` pushes each one's closing onto an exit stack) before the
first request, and closes them in reverse when the server stops, so intake stops first and what is in
hand is finished. A start that fails (a part raised, the port is taken) raises that error from
``start`` instead of uvicorn's ``sys.exit`` inside a task.
"""

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Protocol

import uvicorn
from fastapi import FastAPI

from sealguard import collector
from sealguard.errors import SealguardError

log = logging.getLogger("sealguard")
OpenParts = Callable[[contextlib.AsyncExitStack], Awaitable[None]]


class HttpStartFailed(SealguardError, RuntimeError):
    """The web server did not start (its port is taken, or a part failed to start)."""


class QuietServer(uvicorn.Server):
    """uvicorn inside our loop: signals are ours (stop consuming first, then HTTP), not uvicorn's."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn ends a failed start (the lifespan raised, the port is taken) with ``sys.exit``, which in
        a task would stop the whole event loop: raise an ordinary error instead."""
        try:
            await super().startup(sockets)
        except SystemExit as exc:
            self.should_exit = True
            raise HttpStartFailed(
                f"the HTTP server could not start on {self.config.host}:{self.config.port}"
                f" (exit status {exc.code}; the reason is logged above)"
            ) from None


class Serving:
    def __init__(self, open_parts: OpenParts) -> None:
        self._open_parts = open_parts
        self._stack: contextlib.AsyncExitStack | None = None
        self._error: BaseException | None = None
        self.server: QuietServer | None = None
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        try:
            stack = self._stack = contextlib.AsyncExitStack()
            await self._open_parts(stack)
        except BaseException as exc:
            self._error = exc
            await self.close_parts()
            raise
        try:
            yield
        finally:
            await self.close_parts()

    async def close_parts(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def start(self, app: FastAPI, host: str, port: int, trusted_proxies: str = "") -> None:
        """Serve ``app`` (built with ``lifespan=self.lifespan``) and return once it listens; raise why not.

        ``X-Forwarded-For`` and ``-Proto`` are believed only from ``trusted_proxies`` (uvicorn would
        believe 127.0.0.1 by default, so any client of a local proxy could choose its own address)."""
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", access_log=False,
                                timeout_graceful_shutdown=5, proxy_headers=bool(trusted_proxies.strip()),
                                forwarded_allow_ips=trusted_proxies.strip() or "")  # fmt: skip
        self.server = QuietServer(config)
        task = self._task = asyncio.create_task(self.server.serve(), name="http")
        while not self.server.started:
            if task.done():
                await self.close_parts()  # the lifespan started, then the port could not be bound
                if self._error is not None:
                    raise self._error
                task.result()  # raises why the server could not start
                raise HttpStartFailed(f"the HTTP server on {host}:{port} stopped while starting")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.server is not None and self._task is not None:
            self.server.should_exit = True
            with contextlib.suppress(BaseException):
                await self._task
        await self.close_parts()  # never started, or its shutdown did not reach the lifespan


async def stop_task(task: "asyncio.Task[Any]", request_stop: Callable[[], None] | None, timeout: float) -> None:
    """Ask a part's task to finish (``request_stop``), wait up to ``timeout``, then cancel it."""
    if request_stop is not None:
        request_stop()
        with contextlib.suppress(TimeoutError, Exception):
            await asyncio.wait_for(asyncio.shield(task), timeout)
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


class Process(Protocol):
    """A process's parts behind its HTTP side: ``up``'s monitor, or one split role."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def banner(self) -> str: ...


async def run_until_signalled(process: Process) -> None:
    """Start ``process``, print its banner, and stop it cleanly on SIGINT or SIGTERM: every process's loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await process.start()
        collector.settle()  # what start-up made lives as long as the process: out of the collector's walks
        print(process.banner(), flush=True)
        await stop.wait()
        log.info("stopping: no new input, answering what is in hand, checkpointing")
    finally:
        await process.stop()
