"""Token authentication and topic ACLs for the embedded amqtt broker, as amqtt plugins.

The broker runs in its own process (``sealguard.embedded.servers.MqttBroker``) and loads these classes by name.
They read the credentials file the monitor keeps current (``sealguard.embedded.mqtt_access``): SHA-256 hashes
of the live API tokens with their tenant and role, and the monitor's own. The file is re-read when it
changes, so a new or revoked token counts within a second; a revoked token's open connection can still
hold its socket, but every publish it makes after that is refused. The rules themselves are the pure
ones of ``ingest.mqtt_acl``.

amqtt deletes a clean-session client's old session before it authenticates the new connection, so the
monitor's client id is a secret too (derived from its password): nobody who does not hold it can name
the monitor's session, let alone take it over.
"""

import hashlib
import os
import time
from dataclasses import dataclass
from typing import Any

import orjson
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from sealguard.ingest.mqtt_acl import MONITOR_USER, MqttUser, may_publish, may_subscribe, owntracks_topic, topic_role

RELOAD_CHECK_S = 0.5
Who = MqttUser | str  # a token's user, or MONITOR_USER


class Credentials:
    """The credentials file, re-read when its modification time changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._mtime: float | None = None
        self._checked = 0.0
        self.monitor_sha256 = ""
        self.tokens: dict[str, MqttUser] = {}

    def current(self) -> "Credentials":
        now = time.monotonic()
        if now - self._checked < RELOAD_CHECK_S and self._mtime is not None:
            return self
        self._checked = now
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            self.tokens, self.monitor_sha256 = {}, ""  # no file: nobody gets in
            return self
        if mtime != self._mtime:
            data = orjson.loads(open(self.path, "rb").read())  # noqa: SIM115 - a small file, read whole
            self.monitor_sha256 = data["monitor"]["sha256"]
            self.tokens = {t["sha256"]: MqttUser(t["id"], t["tenant"], t["role"], t["sha256"], None,
                                                 t.get("facility")) for t in data["tokens"]}  # fmt: skip
            self._mtime = mtime
        return self

    def who(self, username: str | None, password: str | None) -> Who | None:
        """The monitor, a token's user, or None. A token is the password (any user name), or the user
        name when the password is empty."""
        if username == MONITOR_USER:
            return MONITOR_USER if password and _sha256(password) == self.monitor_sha256 else None
        secret = password or username
        return self.tokens.get(_sha256(secret)) if secret else None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


_SHARED: dict[str, Credentials] = {}


def credentials_at(path: str) -> Credentials:
    """The credentials document at ``path``, shared by every reader in this process and re-read on change."""
    if path not in _SHARED:
        _SHARED[path] = Credentials(path)
    return _SHARED[path].current()


class _ReadsCredentials:
    """What both plugins are configured with: the path of the credentials document."""

    @dataclass
    class Config:
        credentials: str = ""

    def credentials(self) -> Credentials:
        option = getattr(self, "_get_config_option")  # noqa: B009 - amqtt's, found through the MRO
        return credentials_at(str(option("credentials", "")))


class TokenAuthPlugin(_ReadsCredentials, BaseAuthPlugin):  # type: ignore[misc]
    """Authenticates every connection by API token (or the monitor's own password); no anonymous use."""

    async def authenticate(self, *, session: Session) -> bool | None:
        who = self.credentials().who(session.username, session.password)
        if who is None:
            self.context.logger.info("MQTT login refused for client %s", session.client_id)
            return False
        return True


class TopicAclPlugin(_ReadsCredentials, BaseTopicPlugin):  # type: ignore[misc]
    """Confines each token to its tenant's events topics (as its role allows) and keeps everyone but the
    monitor from reading events."""

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        if session is None or topic is None:
            return False
        who = self.credentials().who(session.username, session.password)
        if who is None:
            return False  # revoked since it connected
        if who == MONITOR_USER:
            return True
        assert isinstance(who, MqttUser)
        if action == Action.PUBLISH:
            return may_publish(who, topic)
        if action == Action.SUBSCRIBE:
            return may_subscribe(who, topic)
        # RECEIVE: never an events topic
        return topic_role(topic) is None and owntracks_topic(topic) is None and may_subscribe(who, topic)


def credentials_document(monitor_password: str, users: list[MqttUser]) -> bytes:
    """The file the plugins read (written by the monitor)."""
    doc: dict[str, Any] = {
        "monitor": {"sha256": _sha256(monitor_password)},
        "tokens": [
            {"id": u.token_id, "tenant": u.tenant, "role": u.role, "sha256": u.sha256, "facility": u.facility}
            for u in users
        ],
    }
    return orjson.dumps(doc)
