"""The MQTT broker's credentials, kept in step with the API tokens.

The monitor has its own MQTT user (``sealguard-monitor``) whose password is generated once and kept in
``{data_dir}/mqtt-monitor.secret`` (0600); its client id is derived from that password, so nobody else
can name (and so take over or wipe) its persistent session. From the live tokens it writes:

- for Mosquitto: ``password_file`` and ``acl_file`` (``ingest.mqtt_acl``), reloaded with SIGHUP;
- for the embedded amqtt broker: the credentials document its plugins read (``sealguard.broker_auth``).

``sealguard mqtt sync`` writes the same Mosquitto files for a broker the operator runs.
"""

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from ingest.mqtt_acl import MONITOR_USER, MqttUser, acl_file, password_file
from sealguard.broker_auth import credentials_document
from sealguard.servers import write_private
from store import tokens


@dataclass(frozen=True, slots=True)
class MonitorLogin:
    username: str
    password: str

    @property
    def client_id(self) -> str:
        return "sealguard-monitor-" + hashlib.sha256(f"client-id:{self.password}".encode()).hexdigest()[:20]

    @property
    def mosquitto_hash(self) -> str:
        # A salt derived from the password keeps the file unchanged from one sync to the next.
        salt = hashlib.sha256(f"salt:{self.password}".encode()).digest()[:12]
        return tokens.mosquitto_hash(self.password, salt)


def monitor_login(secret_file: Path) -> MonitorLogin:
    """The monitor's MQTT login, generated on first use and kept in ``secret_file`` (0600)."""
    if secret_file.exists():
        password = secret_file.read_text().strip()
    else:
        password = secrets.token_urlsafe(32)
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        write_private(secret_file, password + "\n")
    return MonitorLogin(MONITOR_USER, password)


def users_of(live: list[tokens.LiveToken]) -> list[MqttUser]:
    return [MqttUser(t.id, t.tenant, t.role, t.sha256, t.mqtt_hash) for t in live]


@dataclass(frozen=True, slots=True)
class CredentialFiles:
    """Where a broker reads its credentials: Mosquitto's two files and amqtt's document."""

    folder: Path

    @property
    def password_file(self) -> Path:
        return self.folder / "passwd"

    @property
    def acl_file(self) -> Path:
        return self.folder / "acl"

    @property
    def document(self) -> Path:
        return self.folder / "credentials.json"

    def write(self, monitor: MonitorLogin, users: list[MqttUser]) -> bool:
        """Write all three; True when anything changed (the broker then reloads)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        changed = False
        for path, content in (
            (self.password_file, password_file(users, monitor.mosquitto_hash, monitor.username).encode()),
            (self.acl_file, acl_file(users, monitor.username).encode()),
            (self.document, credentials_document(monitor.password, users)),
        ):
            if not path.exists() or path.read_bytes() != content:
                tmp = path.with_suffix(".tmp")
                write_private(tmp, content.decode())
                tmp.replace(path)  # atomic: a broker never reads half a file
                changed = True
        return changed


def write_mosquitto_files(password_path: Path, acl_path: Path, monitor: MonitorLogin, users: list[MqttUser]) -> bool:
    """``sealguard mqtt sync`` for a Mosquitto the operator runs; True when a file changed."""
    changed = False
    for path, text in ((password_path, password_file(users, monitor.mosquitto_hash, monitor.username)),
                       (acl_path, acl_file(users, monitor.username))):  # fmt: skip
        if not path.exists() or path.read_text() != text:
            tmp = path.with_name(f".{path.name}.tmp")
            write_private(tmp, text)
            tmp.replace(path)
            changed = True
    return changed


async def sync(conn: psycopg.AsyncConnection[Any], files: CredentialFiles, monitor: MonitorLogin) -> bool:
    return files.write(monitor, users_of(await tokens.live_tokens(conn)))
