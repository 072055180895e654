"""Session servers for the live tests (imported here so every test folder can use them), and a private
temporary root for the whole run.

pytest's shared root (``/tmp/pytest-of-USER``) is reset to mode 0700 by every pytest run that starts,
which locks the embedded PostgreSQL (running as its own unprivileged user) out of data directories
another run created there. Each run therefore gets a root of its own, which no other run touches, and
removes it at the end: two ``make test`` runs on one machine do not disturb each other.
"""

import contextlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from tests.live.servers import database_url, kafka_broker, mqtt_broker, postgres

__all__ = ["database_url", "kafka_broker", "mqtt_broker", "postgres"]

_OWN_ROOT = pytest.StashKey[str]()

# Which servers a test needs, from the fixtures it asks for and the helpers its module uses; each becomes
# a marker, and `server` marks them all, so `pytest -m "not server"` (make check) runs what needs none.
_FIXTURE_SERVERS = {"postgres": "postgres", "database_url": "postgres", "timescale": "postgres",
                    "mqtt_broker": "mqtt", "kafka_broker": "kafka"}  # fmt: skip
_MODULE_SERVERS = {"launch": "browser", "oidc_provider": "idp", "PROMETHEUS": "prometheus"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        needs = {server for name, server in _FIXTURE_SERVERS.items() if name in getattr(item, "fixturenames", ())}
        module = getattr(item, "module", None)
        needs |= {server for name, server in _MODULE_SERVERS.items() if hasattr(module, name)}
        if "/tests/live/" in str(item.path):  # starts a monitor, its database and broker itself
            needs.add("live")
        for server in sorted(needs):
            item.add_marker(server)
        if needs:
            item.add_marker("server")


def pytest_configure(config: pytest.Config) -> None:
    if config.option.basetemp is None:
        root = tempfile.mkdtemp(prefix="sealguard-tests-")
        config.option.basetemp = root
        config.stash[_OWN_ROOT] = root


def pytest_unconfigure(config: pytest.Config) -> None:
    root = config.stash.get(_OWN_ROOT, None)
    if root is not None:
        _stop_leftovers(root)
        shutil.rmtree(root, ignore_errors=True)


def _stop_leftovers(root: str) -> None:
    """Servers a failed test left running in this run's folder (a killed monitor's orphans that a test
    could not clean up) are stopped, so nothing outlives the run."""
    mine = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if root.encode() in cmdline:
                mine.append(int(proc.name))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in mine:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while mine and time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in mine):
            time.sleep(0.05)
