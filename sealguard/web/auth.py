"""Bearer tokens to principals, with a one-second cache so the hot event path does not query per
request, and a revoked token stops working within a second (open streams re-check it as often)."""

import time
from typing import Annotated, Any

import psycopg
import psycopg_pool
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sealguard.store import tokens
from sealguard.store.tokens import Principal, Role

_bearer = HTTPBearer(auto_error=False, description="an API token from `sealguard token create`")
CACHE_S = 1.0


class TokenCache:
    def __init__(self, pool: psycopg_pool.AsyncConnectionPool[Any]) -> None:
        self.pool = pool
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def principal(self, token: str) -> Principal | None:
        hit = self._cache.get(token)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        try:
            async with self.pool.connection() as conn:
                found = await tokens.lookup(conn, token)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout):
            raise HTTPException(503, "database unavailable; retry shortly", headers={"Retry-After": "5"}) from None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (time.monotonic() + CACHE_S, found)
        return found


async def principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(401, "a bearer token is required (Authorization: Bearer <token>)",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    found = await holder(request, creds.credentials)
    request.state.token = creds.credentials  # for streams that must re-check it while they run
    return found


async def holder(request: Request, token: str) -> Principal:
    """Who holds ``token`` (through the app's one-second cache); 401 when nobody does."""
    cache: TokenCache = request.app.state.tokens
    found = await cache.principal(token)
    if found is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return found


def require(role: Role) -> Any:
    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.at_least(role):
            raise HTTPException(403, f"this needs the {role} role; the token has {who.role}")
        return who

    return Depends(check)


def tenant_scope(who: Principal, tenant: str | None) -> str | None:
    """The tenant a query may read: the token's own; an all-tenants token may name one or none."""
    if who.tenant == tokens.ALL_TENANTS:
        return tenant
    if tenant is not None and tenant != who.tenant:
        raise HTTPException(403, f"this token belongs to tenant {who.tenant!r}, not {tenant!r}")
    return who.tenant
