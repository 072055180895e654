"""Who may do what on the MQTT broker, and the files that tell a broker so. Pure: no I/O.

Every token of a tenant may publish to that tenant's events topic ``sealguard/v1/{tenant}/events``;
what it may say there is what its role may say (``ingest.admit.KIND_ROLES``). A broker cannot tell the
monitor who published a message, so the role travels in the topic and the broker's ACL confines it:

======================================  ==========================================
topic                                   who may publish (and so the role it carries)
======================================  ==========================================
``sealguard/v1/{tenant}/events``        every token of the tenant but facility-bound scanners: scanner kinds
``sealguard/v1/{tenant}/facility/{f}/events``  a scanner bound to facility ``f`` (percent-encoded), only
``sealguard/v1/{tenant}/events/operator``  operator and admin tokens: trips too
``sealguard/v1/{tenant}/events/admin``     admin tokens: facilities too
``sealguard/v1/{tenant}/owntracks/+/+``    every token of the tenant: OwnTracks messages
``owntracks/sg-{id}/+``                    the token ``{id}`` itself: OwnTracks' default topic
``sealguard/refused/sg-{id}/#``            the token ``{id}`` itself: what it may not publish elsewhere
======================================  ==========================================

A scanner token bound to a facility reports for that facility only, at every door: on MQTT its events
go on its facility's topic (the embedded broker's front door moves them there from the plain one), which
tells the monitor the facility to hold them to (``ingest.admit``), and it has no tenant-wide topic.

MQTT 3.1.1 has no way to refuse a PUBLISH: a broker acknowledges one its ACL denies and drops it. So the
embedded broker's front door (``sealguard.embedded.mqtt_front``) passes a publish its sender may not make on to
``sealguard/refused/sg-{id}/{topic}`` instead, where the monitor reads it and dead-letters it with the
reason: acknowledged, but never lost.

Nobody but the monitor may subscribe to an events topic; operators and admins may read their tenant's
alert topics. The monitor has its own user, whose password only its data directory holds; a broker that
forces client ids to user names (Mosquitto ``use_username_as_clientid``, the embedded amqtt plugin's
reserved id) keeps anyone else from taking over its persistent session.

Mosquitto's ``password_file`` is keyed by user name, so a token's broker user is ``sg-{id}``. Devices of
the embedded broker may log in with any user name all the same: its login front
(``sealguard.embedded.mqtt_front``) checks the token and logs in to the broker as ``sg-{id}`` for them.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote

MONITOR_USER = "sealguard-monitor"
ROLE_TOPICS = {"": "scanner", "operator": "operator", "admin": "admin"}
ALL_TENANTS = "*"


@dataclass(frozen=True, slots=True)
class MqttUser:
    """A live API token as the broker sees it."""

    token_id: int
    tenant: str
    role: str
    sha256: str  # of the token, as the API stores it
    mosquitto_hash: str | None  # PBKDF2-SHA512 in mosquitto's $7$ form; None for tokens made before it
    facility: str | None = None  # a scanner bound to one facility

    @property
    def bound_facility(self) -> str | None:
        return self.facility if self.role == "scanner" else None

    @property
    def username(self) -> str:
        return user_name(self.token_id)


def user_name(token_id: int) -> str:
    return f"sg-{token_id}"


def topic_role(topic: str) -> tuple[str, str] | None:
    """``(tenant, role)`` of an events topic; None for any other topic."""
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[:2] != ["sealguard", "v1"] or parts[3] != "events" or not parts[2]:
        return None
    if parts[2] in ("+", "#"):
        return None
    role = ROLE_TOPICS.get(parts[4] if len(parts) == 5 else "")
    return (parts[2], role) if role is not None else None


def facility_topic(tenant: str, facility: str) -> str:
    """Where a scanner bound to ``facility`` publishes (the facility percent-encoded: one topic level)."""
    return f"sealguard/v1/{tenant}/facility/{quote(facility, safe='')}/events"


def topic_facility(topic: str) -> tuple[str, str] | None:
    """``(tenant, facility)`` of a facility events topic; None for any other topic."""
    parts = topic.split("/")
    if len(parts) != 6 or parts[:2] != ["sealguard", "v1"] or parts[3] != "facility" or parts[5] != "events":
        return None
    if parts[2] in ("", "+", "#") or parts[4] in ("", "+", "#"):
        return None
    return parts[2], unquote(parts[4])


def owntracks_topic(topic: str) -> tuple[str | None, str, str] | None:
    """``(tenant, user, device)`` of an OwnTracks topic; None for any other topic.

    Two forms: the app's default ``owntracks/{user}/{device}``, where the broker lets the MQTT user
    ``sg-{id}`` publish only as ``{user}`` = ``sg-{id}`` and the tenant is that token's (None here: the
    application looks it up); and ``sealguard/v1/{tenant}/owntracks/{user}/{device}`` (the app's topic
    base set so), confined to the tenant like the events topics."""
    parts = topic.split("/")
    if len(parts) == 3 and parts[0] == "owntracks":
        tenant, user, device = None, parts[1], parts[2]
    elif len(parts) == 6 and parts[:2] == ["sealguard", "v1"] and parts[3] == "owntracks":
        tenant, user, device = parts[2], parts[4], parts[5]
        if tenant in ("", "+", "#"):
            return None
    else:
        return None
    if any(p in ("", "+", "#") for p in (user, device)):
        return None
    return tenant, user, device


def owntracks_token(user: str) -> int | None:
    """The token id of an OwnTracks topic's user ``sg-{id}``; None for any other name."""
    digits = user.removeprefix("sg-")
    return int(digits) if user.startswith("sg-") and digits.isdigit() and len(digits) < 19 else None


def topic_for(tenant: str, kind: str, kind_roles: dict[str, str]) -> str:
    """Where a sender publishes an event of ``kind``: the events topic of the least role that may send it."""
    role = kind_roles.get(kind, "scanner")
    suffix = "" if role == "scanner" else f"/{role}"
    return f"sealguard/v1/{tenant}/events{suffix}"


def publish_topics(tenant: str, role: str, facility: str | None = None) -> list[str]:
    """The topics a token may publish to (``+`` for an all-tenants token); a scanner bound to a facility
    only its facility's."""
    level = "+" if tenant == ALL_TENANTS else tenant
    if facility is not None and role == "scanner":
        return [facility_topic(level, facility)]
    base = f"sealguard/v1/{level}/events"
    order = ["scanner", "operator", "admin"]
    roles = [f"{base}/{r}" for r in ("operator", "admin") if order.index(role) >= order.index(r)]
    return [base, *roles, f"sealguard/v1/{level}/owntracks/+/+"]


def read_topics(tenant: str, role: str) -> list[str]:
    if role == "scanner":
        return []
    level = "+" if tenant == ALL_TENANTS else tenant
    return [f"sealguard/v1/{level}/alerts", f"sealguard/v1/{level}/alerts/#"]


def matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic matching (``+`` one level, ``#`` the rest)."""
    f_parts, t_parts = topic_filter.split("/"), topic.split("/")
    for i, f in enumerate(f_parts):
        if f == "#":
            return True
        if i >= len(t_parts) or (f != "+" and f != t_parts[i]):
            return False
    return len(f_parts) == len(t_parts)


REFUSED_FILTER = "sealguard/refused/#"


def refused_topic(username: str, topic: str) -> str:
    """Where the front passes a publish of ``username`` on ``topic`` that it may not make."""
    return f"sealguard/refused/{username}/{topic}"


def refused_of(topic: str) -> tuple[str, str] | None:
    """``(user, topic it was published on)`` of a refused publish; None for any other topic."""
    parts = topic.split("/", 3)
    if len(parts) == 4 and parts[:2] == ["sealguard", "refused"] and parts[2]:
        return parts[2], parts[3]
    return None


def may_publish(user: MqttUser, topic: str) -> bool:
    allowed = [*publish_topics(user.tenant, user.role, user.facility), f"owntracks/{user.username}/+",
               f"sealguard/refused/{user.username}/#"]  # fmt: skip
    return any(matches(a, topic) for a in allowed)


def reaches_events(topic_filter: str) -> bool:
    """Whether a subscription could receive some tenant's events (``$share/group/`` prefixes removed)."""
    if topic_filter.startswith("$share/"):
        topic_filter = topic_filter.split("/", 2)[2] if topic_filter.count("/") >= 2 else ""
    parts = topic_filter.split("/")
    tenant = parts[2] if len(parts) > 2 and parts[2] not in ("+", "#") else "any-tenant"
    probes = [f"sealguard/v1/{tenant}/events"] + [f"sealguard/v1/{tenant}/events/{r}" for r in ("operator", "admin")]
    probes += [
        f"sealguard/v1/{tenant}/owntracks/user/device",
        "owntracks/sg-1/device",
        "sealguard/refused/sg-1/x",
        f"sealguard/v1/{tenant}/facility/f/events",
    ]
    return any(matches(topic_filter, probe) for probe in probes)


def may_subscribe(user: MqttUser, topic_filter: str) -> bool:
    if reaches_events(topic_filter):
        return False
    allowed = read_topics(user.tenant, user.role)
    return any(_covers(a, topic_filter) for a in allowed)


def _covers(allowed: str, requested: str) -> bool:
    """Whether every topic ``requested`` can match is matched by ``allowed`` (a conservative check)."""
    a_parts, r_parts = allowed.split("/"), requested.split("/")
    for i, a in enumerate(a_parts):
        if a == "#":
            return True
        if i >= len(r_parts):
            return False
        r = r_parts[i]
        if r == "#" or (r == "+" and a != "+") or a not in ("+", r):
            return False
    return len(a_parts) == len(r_parts)


def password_file(users: Iterable[MqttUser], monitor_hash: str, monitor_user: str = MONITOR_USER) -> str:
    """Mosquitto ``password_file``: the monitor, then every token that has a mosquitto hash."""
    lines = [f"{monitor_user}:{monitor_hash}"]
    lines += [f"{u.username}:{u.mosquitto_hash}" for u in users if u.mosquitto_hash]
    return "\n".join(lines) + "\n"


def acl_file(users: Iterable[MqttUser], monitor_user: str = MONITOR_USER) -> str:
    """Mosquitto ``acl_file``: the monitor may use every topic; each token writes its own tenant's events
    topics (as its role allows) and operators read their alert topics."""
    # The monitor reads every events topic and writes alerts wherever alerting.yaml sends them.
    out = ["# generated by sealguard: do not edit; regenerate instead", "", f"user {monitor_user}",
           "topic readwrite #", ""]  # fmt: skip
    for u in users:
        if not u.mosquitto_hash:
            continue
        out.append(f"user {u.username}")
        out += [f"topic write {t}" for t in publish_topics(u.tenant, u.role, u.facility)]
        out.append(f"topic write owntracks/{u.username}/+")
        out.append(f"topic write sealguard/refused/{u.username}/#")
        out += [f"topic read {t}" for t in read_topics(u.tenant, u.role)]
        out.append("")
    return "\n".join(out)
