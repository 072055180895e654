"""People, their browser sessions, and OpenID Connect sign-ins in flight.

A session's cookie holds a random secret; only its SHA-256 is stored, so a copy of the table signs
nobody in. A session ends at its expiry, after ``idle`` without use, when the person signs out, or
when the person is disabled (every session of theirs stops within the web layer's one-second cache)."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from sealguard.store.tokens import ROLES, Principal, Role

Conn = psycopg.AsyncConnection[Any]


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    username: str
    display_name: str
    tenant: str
    role: Role
    facility: str | None
    password_hash: str | None
    totp_secret: str | None
    totp_last_step: int
    failed_logins: int
    locked_until: datetime | None
    disabled_at: datetime | None

    @property
    def actor(self) -> str:
        """How the person is named in the history: the name, with the unique username to tell two
        people of the same name apart (the two-person rule compares these)."""
        return f"{self.display_name} ({self.username})"

    def principal(self) -> Principal:
        return Principal(self.tenant, self.role, self.facility, self.actor, 0, person_id=self.id)


_COLUMNS = ("id, username, display_name, tenant, role, facility, password_hash, totp_secret, totp_last_step,"
            " failed_logins, locked_until, disabled_at")  # fmt: skip


def _person(row: dict[str, Any] | None) -> Person | None:
    return Person(**row) if row else None


async def add(conn: Conn, username: str, display_name: str, tenant: str, role: Role, *, facility: str | None = None,
              password_hash: str | None = None) -> int:  # fmt: skip
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    cur = await conn.execute(
        "INSERT INTO people (username, display_name, tenant, role, facility, password_hash)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (username, display_name, tenant, role, facility, password_hash),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def oidc_subject(conn: Conn, person_id: int) -> str | None:
    cur = await conn.execute("SELECT oidc_subject FROM people WHERE id = %s", (person_id,))
    row = await cur.fetchone()
    return str(row[0]) if row and row[0] is not None else None


async def by_username(conn: Conn, username: str) -> Person | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {_COLUMNS} FROM people WHERE lower(username) = lower(%s)", (username,))
    return _person(await cur.fetchone())


async def list_people(conn: Conn) -> list[Person]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {_COLUMNS} FROM people ORDER BY tenant, username")
    return [Person(**r) for r in await cur.fetchall()]


async def assignable(conn: Conn, tenant: str | None) -> list[tuple[str, str, str]]:
    """The people of ``tenant`` (all: None) who may act on alerts, as (username, display name, role):
    whom an alert can be assigned to. Disabled accounts and scanners are left out."""
    cur = await conn.execute(
        "SELECT username, display_name, role FROM people WHERE disabled_at IS NULL AND role <> 'scanner'"
        " AND (%s::text IS NULL OR tenant = %s) ORDER BY display_name, username LIMIT 2000",
        (tenant, tenant),
    )
    return [(str(r[0]), str(r[1]), str(r[2])) for r in await cur.fetchall()]


async def update(conn: Conn, username: str, **fields: Any) -> bool:
    """Set some of password_hash, totp_secret, role, tenant, facility, display_name, disabled_at. Anything
    a session rests on (the password, the second factor on or off, the role, tenant or facility, being
    enabled) ends the person's sessions at once: they sign in again under the new terms."""
    allowed = {"password_hash", "totp_secret", "role", "tenant", "facility", "display_name", "disabled_at"}
    if not fields or set(fields) - allowed:
        raise ValueError(f"can set only {', '.join(sorted(allowed))}")
    sets = ", ".join(f"{k} = %s" for k in fields)
    extra = ", totp_last_step = 0" if "totp_secret" in fields else ""
    cur = await conn.execute(
        f"UPDATE people SET {sets}{extra}, failed_logins = 0, locked_until = NULL"
        " WHERE lower(username) = lower(%s) RETURNING id",
        (*fields.values(), username),
    )
    row = await cur.fetchone()
    if row is None:
        return False
    if {"password_hash", "totp_secret", "disabled_at", "role", "tenant", "facility"} & set(fields):
        await end_sessions(conn, int(row[0]))
    return True


async def use_totp_step(conn: Conn, person_id: int, step: int) -> bool:
    """Claim ``step`` as used; False when it (or a later one) was used already, by a racing sign-in too."""
    cur = await conn.execute(
        "UPDATE people SET totp_last_step = %s WHERE id = %s AND totp_last_step < %s RETURNING id",
        (step, person_id, step),
    )
    return await cur.fetchone() is not None


async def upsert_oidc(conn: Conn, issuer: str, subject: str, username: str, display_name: str, tenant: str,
                      role: Role, facility: str | None) -> Person:  # fmt: skip
    """The person an IdP identity is: found by issuer and subject (never by name: a name at the IdP may
    be reused), created on first sign-in, with role, tenant and name refreshed from the claims each time.
    A username already taken by someone else gets the subject's digest appended."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {_COLUMNS} FROM people WHERE oidc_issuer = %s AND oidc_subject = %s FOR UPDATE",
                      (issuer, subject))  # fmt: skip
    found = _person(await cur.fetchone())
    if found is None:
        taken = await by_username(conn, username)
        if taken is not None:
            username = f"{username}#{hashlib.sha256(f'{issuer} {subject}'.encode()).hexdigest()[:6]}"
        await cur.execute(
            "INSERT INTO people (username, display_name, tenant, role, facility, oidc_issuer, oidc_subject)"
            f" VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
            (username, display_name, tenant, role, facility, issuer, subject),
        )
    else:
        if (found.tenant, found.role, found.facility) != (tenant, role, facility):
            await end_sessions(conn, found.id)
        await cur.execute(
            "UPDATE people SET display_name = %s, tenant = %s, role = %s, facility = %s"
            f" WHERE id = %s RETURNING {_COLUMNS}",
            (display_name, tenant, role, facility, found.id),
        )
    person = _person(await cur.fetchone())
    assert person is not None
    return person


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    person: Person
    csrf: str
    expires_at: datetime
    last_seen_at: datetime
    method: str = "password"
    checked_at: datetime | None = None  # single sign-on: when the provider last confirmed the person
    oidc_access_token: str | None = None
    oidc_refresh_token: str | None = None


async def start_session(conn: Conn, person_id: int, method: str, now: datetime, lasts: timedelta,
                        client: str | None, *, access_token: str | None = None,
                        refresh_token: str | None = None) -> tuple[str, str]:  # fmt: skip
    """A new session: the cookie's secret (shown once, to the browser) and its CSRF token. A single
    sign-on session keeps the provider's tokens, to ask it again later whether the person still may."""
    secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO web_sessions (secret_hash, person_id, csrf, method, created_at, last_seen_at, expires_at, client,"
        " oidc_access_token, oidc_refresh_token, checked_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (secret_hash(secret), person_id, csrf, method, now, now, now + lasts, client, access_token, refresh_token,
         now),
    )  # fmt: skip
    return secret, csrf


async def session_checked(conn: Conn, session_id: int, now: datetime, *, access_token: str | None = None,
                          refresh_token: str | None = None) -> None:  # fmt: skip
    """The provider confirmed the person now (with new tokens, when it gave any)."""
    await conn.execute(
        "UPDATE web_sessions SET checked_at = %s, oidc_access_token = COALESCE(%s, oidc_access_token),"
        " oidc_refresh_token = COALESCE(%s, oidc_refresh_token) WHERE id = %s",
        (now, access_token, refresh_token, session_id),
    )


async def end_session_by_id(conn: Conn, session_id: int, now: datetime) -> None:
    await conn.execute("UPDATE web_sessions SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
                       (now, session_id))  # fmt: skip


async def session(conn: Conn, secret: str, now: datetime, idle: timedelta) -> Session | None:
    """The live session a cookie names, its use recorded (at most once a minute); None when unknown,
    expired, idle too long, signed out, or its person disabled."""
    cur = conn.cursor(row_factory=dict_row)
    cols = ", ".join(f"p.{c.strip()}" for c in _COLUMNS.split(","))
    await cur.execute(
        f"SELECT s.id AS session_id, s.csrf, s.expires_at, s.last_seen_at, s.method, s.checked_at,"
        f" s.oidc_access_token, s.oidc_refresh_token, {cols} FROM web_sessions s"
        " JOIN people p ON p.id = s.person_id WHERE s.secret_hash = %s AND s.revoked_at IS NULL"
        " AND s.expires_at > %s AND s.last_seen_at > %s AND p.disabled_at IS NULL",
        (secret_hash(secret), now, now - idle),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    sid, csrf, expires, seen = row.pop("session_id"), row.pop("csrf"), row.pop("expires_at"), row.pop("last_seen_at")
    extra = {k: row.pop(k) for k in ("method", "checked_at", "oidc_access_token", "oidc_refresh_token")}
    if now - seen > timedelta(minutes=1):
        await conn.execute("UPDATE web_sessions SET last_seen_at = %s WHERE id = %s", (now, sid))
    return Session(int(sid), Person(**row), csrf, expires, seen, **extra)


async def end_session(conn: Conn, secret: str, now: datetime) -> None:
    await conn.execute("UPDATE web_sessions SET revoked_at = %s WHERE secret_hash = %s AND revoked_at IS NULL",
                       (now, secret_hash(secret)))  # fmt: skip


async def end_sessions(conn: Conn, person_id: int) -> None:
    await conn.execute("UPDATE web_sessions SET revoked_at = now() WHERE person_id = %s AND revoked_at IS NULL",
                       (person_id,))  # fmt: skip


async def save_attempt(conn: Conn, state: str, verifier: str, nonce: str, next_path: str, expires: datetime) -> None:
    await conn.execute("DELETE FROM signin_attempts WHERE expires_at < %s", (expires - timedelta(hours=1),))
    await conn.execute(
        "INSERT INTO signin_attempts (state_hash, code_verifier, nonce, next_path, expires_at)"
        " VALUES (%s, %s, %s, %s, %s)",
        (secret_hash(state), verifier, nonce, next_path, expires),
    )


async def take_attempt(conn: Conn, state: str, now: datetime) -> tuple[str, str, str] | None:
    """The verifier, nonce and next path of a sign-in in flight, used up: a state is good once."""
    cur = await conn.execute(
        "DELETE FROM signin_attempts WHERE state_hash = %s RETURNING code_verifier, nonce, next_path, expires_at",
        (secret_hash(state),),
    )
    row = await cur.fetchone()
    if row is None or row[3] <= now:
        return None
    return str(row[0]), str(row[1]), str(row[2])


# --- sign-in throttling and trusted browsers -------------------------------------------------------------


async def locked_until(conn: Conn, keys: list[str], now: datetime) -> datetime | None:
    """The latest lock among ``keys`` still in force, if any."""
    cur = await conn.execute("SELECT max(locked_until) FROM signin_throttle WHERE key = ANY(%s) AND locked_until > %s",
                             (keys, now))  # fmt: skip
    row = await cur.fetchone()
    return row[0] if row and row[0] is not None else None


async def count_failure(conn: Conn, limits: list[tuple[str, int]], now: datetime, lock_for: timedelta) -> None:
    """One more failure under each key; a key that reaches its limit is locked for ``lock_for`` and its
    count starts again. A lock that has ended leaves nothing behind, and failures further apart than
    ``lock_for`` do not add up: a new lock needs a new run of failures."""
    for key, limit in limits:
        await conn.execute(
            "INSERT INTO signin_throttle AS t (key, failures, locked_until, updated_at)"
            " VALUES (%(key)s, CASE WHEN 1 >= %(limit)s THEN 0 ELSE 1 END,"
            "         CASE WHEN 1 >= %(limit)s THEN %(until)s::timestamptz END, %(now)s)"
            " ON CONFLICT (key) DO UPDATE SET"
            "  failures = CASE WHEN (CASE WHEN t.updated_at < %(stale)s THEN 0 ELSE t.failures END) + 1 >= %(limit)s"
            "             THEN 0 ELSE (CASE WHEN t.updated_at < %(stale)s THEN 0 ELSE t.failures END) + 1 END,"
            "  locked_until = CASE WHEN (CASE WHEN t.updated_at < %(stale)s THEN 0 ELSE t.failures END) + 1"
            "                           >= %(limit)s THEN %(until)s::timestamptz"
            "                      WHEN t.locked_until <= %(now)s THEN NULL ELSE t.locked_until END,"
            "  updated_at = %(now)s",
            {"key": key, "limit": limit, "until": now + lock_for, "now": now, "stale": now - lock_for},
        )


async def clear_failures(conn: Conn, keys: list[str]) -> None:
    """A sign-in went through: the runs of failures under ``keys`` end (their locks too)."""
    await conn.execute("DELETE FROM signin_throttle WHERE key = ANY(%s)", (keys,))


async def trusted_device(conn: Conn, secret: str, now: datetime) -> int | None:
    """The person a device cookie was given to, while it is valid."""
    cur = await conn.execute("SELECT person_id FROM signin_devices WHERE secret_hash = %s AND expires_at > %s",
                             (secret_hash(secret), now))  # fmt: skip
    row = await cur.fetchone()
    return int(row[0]) if row else None


async def trust_device(conn: Conn, person_id: int, old: str | None, now: datetime, lasts: timedelta) -> str:
    """A new device cookie for the person's browser (the one it had, if any, is replaced)."""
    if old is not None:
        await conn.execute("DELETE FROM signin_devices WHERE secret_hash = %s", (secret_hash(old),))
    secret = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO signin_devices (secret_hash, person_id, created_at, expires_at) VALUES (%s, %s, %s, %s)",
        (secret_hash(secret), person_id, now, now + lasts),
    )
    return secret


async def prune_signin_records(conn: Conn, now: datetime) -> None:
    """Counters untouched for a day and not locked, trusted browsers past their time, sessions long over."""
    await conn.execute("DELETE FROM signin_throttle WHERE updated_at < %s AND (locked_until IS NULL"
                       " OR locked_until < %s)", (now - timedelta(days=1), now))  # fmt: skip
    await conn.execute("DELETE FROM signin_devices WHERE expires_at < %s", (now,))
    await conn.execute("DELETE FROM signin_attempts WHERE expires_at < %s", (now,))
