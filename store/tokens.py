"""API tokens: random secrets shown once, stored only as SHA-256 hashes."""

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

Conn = psycopg.AsyncConnection[Any]
Role = Literal["scanner", "operator", "admin"]
ROLES: tuple[Role, ...] = ("scanner", "operator", "admin")
ALL_TENANTS = "*"  # the bootstrap admin token: every tenant


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: str
    role: Role
    facility: str | None
    label: str

    def may_see(self, tenant: str) -> bool:
        return self.tenant in (ALL_TENANTS, tenant)

    def at_least(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(conn: Conn, tenant: str, role: Role, *, facility: str | None = None, label: str = "") -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = "sg_" + secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO api_tokens (token_hash, tenant, role, facility, label) VALUES (%s, %s, %s, %s, %s)",
        (token_hash(token), tenant, role, facility, label or f"{role}@{tenant}"),
    )
    return token


async def lookup(conn: Conn, token: str) -> Principal | None:
    cur = await conn.execute(
        "SELECT tenant, role, facility, label FROM api_tokens WHERE token_hash = %s AND revoked_at IS NULL",
        (token_hash(token),),
    )
    row = await cur.fetchone()
    return Principal(row[0], row[1], row[2], row[3]) if row else None
