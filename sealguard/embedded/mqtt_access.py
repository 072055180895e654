"""The MQTT broker's credentials, kept in step with the API tokens.

The monitor has its own MQTT user (``sealguard-monitor``) whose password is generated once and kept in
``{data_dir}/mqtt-monitor.secret`` (0600); its client id is derived from that password, so nobody else
can name (and so take over or wipe) its persistent session. From the live tokens it writes:

- for Mosquitto: ``password_file`` and ``acl_file`` (``ingest.mqtt_acl``), reloaded with SIGHUP;
- for the embedded amqtt broker: the credentials document its plugins read (``sealguard.embedded.broker_auth``).

``sealguard mqtt sync`` writes the same Mosquitto files for a broker the operator runs.
"""

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from sealguard.embedded.broker_auth import credentials_document
from sealguard.embedded.servers import write_private
from sealguard.ingest.mqtt_acl import MONITOR_USER, MqttUser, acl_file, password_file
from sealguard.store import tokens


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
    return [MqttUser(t.id, t.tenant, t.role, t.sha256, t.mqtt_hash, t.facility) for t in live]


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
        changed = write_mosquitto_files(self.password_file, self.acl_file, monitor, users)
        return _replace_if_changed(self.document, credentials_document(monitor.password, users).decode()) or changed


def write_mosquitto_files(password_path: Path, acl_path: Path, monitor: MonitorLogin, users: list[MqttUser]) -> bool:
    """Mosquitto's ``password_file`` and ``acl_file`` (the embedded broker's, or one the operator runs, by
    ``sealguard mqtt sync``); True when a file changed."""
    changed = _replace_if_changed(password_path, password_file(users, monitor.mosquitto_hash, monitor.username))
    return _replace_if_changed(acl_path, acl_file(users, monitor.username)) or changed


def _replace_if_changed(path: Path, text: str) -> bool:
    """Write ``path`` (0600) only when its text changes, atomically: a broker never reads half a file."""
    if path.exists() and path.read_text() == text:
        return False
    tmp = path.with_name(f".{path.name}.tmp")
    write_private(tmp, text)
    tmp.replace(path)
    return True


async def sync(conn: psycopg.AsyncConnection[Any], files: CredentialFiles, monitor: MonitorLogin) -> bool:
    return files.write(monitor, users_of(await tokens.live_tokens(conn)))
