"""API tokens: random secrets shown once, stored only as SHA-256 hashes.

Each token also has a public numeric id, so it can be listed and revoked without its secret. A revoked
token stops working for new requests and open streams within a second (the web layer's cache)."""

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg

Conn = psycopg.AsyncConnection[Any]
Role = Literal["scanner", "operator", "admin"]
ROLES: tuple[Role, ...] = ("scanner", "operator", "admin")
ALL_TENANTS = "*"  # the bootstrap admin token: every tenant
MOSQUITTO_ITERATIONS = 101  # mosquitto_passwd's own count; the secrets are 256-bit random tokens


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: str
    role: Role
    facility: str | None
    label: str
    token_id: int = 0  # the public id: rate limits and revocation are per token, not per label
    person_id: int | None = None  # a person signed in (a browser session), not a token

    @property
    def key(self) -> str:
        """Whose budget a request spends (rate limits): one per token, one per person."""
        return f"person:{self.person_id}" if self.person_id is not None else f"token:{self.token_id}"

    @property
    def bound_facility(self) -> str | None:
        """The facility a scanner (token or person) reports for, whatever door it uses; None: any."""
        return self.facility if self.role == "scanner" else None

    @property
    def identity(self) -> str | None:
        """Who a person is, whatever their name (``person:{id}``); None for a token, which is no person."""
        return f"person:{self.person_id}" if self.person_id is not None else None

    def may_see(self, tenant: str) -> bool:
        return self.tenant in (ALL_TENANTS, tenant)

    def at_least(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mosquitto_hash(secret: str, salt: bytes | None = None, iterations: int = MOSQUITTO_ITERATIONS) -> str:
    """The ``$7$`` form mosquitto_passwd writes: PBKDF2-HMAC-SHA512 with a 12-byte salt."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


@dataclass(frozen=True, slots=True)
class LiveToken:
    """A token that is not revoked, as a broker's credentials need it (no secret)."""

    id: int
    tenant: str
    role: str
    sha256: str
    mqtt_hash: str | None
    facility: str | None = None


async def create(conn: Conn, tenant: str, role: Role, *, facility: str | None = None, label: str = "") -> str:
    token, _ = await create_with_id(conn, tenant, role, facility=facility, label=label)
    return token


async def create_with_id(
    conn: Conn, tenant: str, role: Role, *, facility: str | None = None, label: str = ""
) -> tuple[str, int]:
    """A new token and its public id. Its MQTT (Mosquitto) hash is stored too: only now is the secret
    known."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = "sg_" + secrets.token_urlsafe(32)
    cur = await conn.execute(
        "INSERT INTO api_tokens (token_hash, tenant, role, facility, label, mqtt_hash)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (token_hash(token), tenant, role, facility, label or f"{role}@{tenant}", mosquitto_hash(token)),
    )
    row = await cur.fetchone()
    assert row is not None
    return token, int(row[0])


async def ensure_mqtt_hash(conn: Conn, token: str) -> None:
    """Give a token made before MQTT credentials existed its Mosquitto hash (the bootstrap admin's)."""
    await conn.execute(
        "UPDATE api_tokens SET mqtt_hash = %s WHERE token_hash = %s AND mqtt_hash IS NULL",
        (mosquitto_hash(token), token_hash(token)),
    )


async def live_tokens(conn: Conn) -> list[LiveToken]:
    """Every token that is not revoked."""
    cur = await conn.execute(
        "SELECT id, tenant, role, token_hash, mqtt_hash, facility FROM api_tokens WHERE revoked_at IS NULL ORDER BY id"
    )
    return [LiveToken(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in await cur.fetchall()]


async def fingerprint(conn: Conn) -> tuple[Any, ...]:
    """Changes whenever a token is created or revoked: the cue to rewrite the broker's credentials."""
    cur = await conn.execute("SELECT count(*), max(id), count(revoked_at), max(revoked_at) FROM api_tokens")
    row = await cur.fetchone()
    return tuple(row) if row else ()


async def lookup(conn: Conn, token: str) -> Principal | None:
    cur = await conn.execute(
        "SELECT tenant, role, facility, label, id FROM api_tokens WHERE token_hash = %s AND revoked_at IS NULL",
        (token_hash(token),),
    )
    row = await cur.fetchone()
    return Principal(row[0], row[1], row[2], row[3], int(row[4])) if row else None


async def sender_of(conn: Conn, token_id: int) -> tuple[str, str | None] | None:
    """The tenant of a live token by its id (an MQTT user ``sg-{id}``), and the facility it is bound to
    when it is a facility-bound scanner; None when unknown or revoked."""
    cur = await conn.execute("SELECT tenant, role, facility FROM api_tokens WHERE id = %s AND revoked_at IS NULL",
                             (token_id,))  # fmt: skip
    row = await cur.fetchone()
    return (str(row[0]), row[2] if row[1] == "scanner" else None) if row else None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    tenant: str
    role: str
    facility: str | None
    label: str
    created_at: datetime
    revoked_at: datetime | None


async def list_tokens(conn: Conn, *, include_revoked: bool = False) -> list[TokenInfo]:
    cur = await conn.execute(
        "SELECT id, tenant, role, facility, label, created_at, revoked_at FROM api_tokens"
        " WHERE %s OR revoked_at IS NULL ORDER BY id",
        (include_revoked,),
    )
    return [TokenInfo(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6]) for r in await cur.fetchall()]


async def revoke(conn: Conn, *, token_id: int | None = None, label: str | None = None) -> list[int]:
    """Revoke by id or by label (every live token with that label); returns the ids revoked."""
    if (token_id is None) == (label is None):
        raise ValueError("revoke one token by id, or the tokens of one label")
    cur = await conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND (id = %s OR label = %s) RETURNING id",
        (token_id, label),
    )
    return sorted(int(r[0]) for r in await cur.fetchall())
