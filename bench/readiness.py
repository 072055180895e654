"""What the benchmarks that start ``sealguard up`` as a process share: starting it on free ports in a data
directory of its own, waiting for its ``/readyz``, and stopping it."""

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from sealguard.embedded.servers import free_port


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


@dataclass(frozen=True, slots=True)
class UpProcess:
    proc: "subprocess.Popen[bytes]"
    http: int
    mqtt: int  # the embedded broker's port
    token: str  # the admin token it made
    url: str  # its embedded PostgreSQL

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http}"


@contextlib.asynccontextmanager
async def running_up(name: str, **env: str) -> AsyncIterator[UpProcess]:
    """``sealguard up`` on its embedded servers, ready, with ``SEALGUARD_*`` settings ``env`` besides the
    ports and data directory; stopped and its data removed on the way out."""
    data = Path(tempfile.mkdtemp(prefix=f"sealguard-bench-{name}-"))
    http, mqtt = free_port(), free_port()
    full = {**os.environ, "SEALGUARD_MQTT_EMBEDDED_PORT": str(mqtt), "SEALGUARD_HTTP": f"127.0.0.1:{http}",
            "SEALGUARD_DATA_DIR": str(data), "SEALGUARD_LOG_LEVEL": "WARNING", **env}  # fmt: skip
    with (data / "monitor.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "sealguard.cli", "up"], env=full, stdout=log, stderr=log)
    try:
        await until_ready(http)
        token = (data / "admin-token").read_text().strip()
        url = (data / "postgres.url").read_text().strip()
        yield UpProcess(proc, http, mqtt, token, url)
    finally:
        proc.terminate()
        proc.wait(60)
        shutil.rmtree(data, ignore_errors=True)
