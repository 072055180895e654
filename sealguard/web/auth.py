"""Who makes a request: a machine with a bearer API token, or a person with a session cookie from
signing in (``web/signin.py``). Both are looked up through a one-second cache, so the hot event path does
not query per request and a revoked token or ended session stops working within a second (open streams
re-check it as often).

A cookie is sent by the browser on its own, so a request that changes something and comes with a session
cookie must also carry the session's CSRF token in ``X-CSRF-Token`` (the pages read it from
``GET /api/v1/session``), and its ``Origin``, when the browser sends one, must be this site. A bearer
token is never sent on its own, so it needs neither."""

import hmac
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import psycopg
import psycopg_pool
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sealguard.short_cache import ShortCache
from sealguard.store import people, tokens
from sealguard.store.tokens import Principal, Role

_bearer = HTTPBearer(auto_error=False, description="an API token from `sealguard token create`")
CACHE_S = 1.0
COOKIE = "sg_session"
SECURE_COOKIE = "__Host-sg_session"  # the prefix makes browsers refuse it unless Secure, path /, no domain
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Credential = tuple[Literal["token", "session"], str]


class TokenCache:
    """Tokens and sessions to principals, each answer kept for a second."""

    def __init__(self, pool: psycopg_pool.AsyncConnectionPool[Any], idle: timedelta = timedelta(hours=1)) -> None:
        self.pool = pool
        self.idle = idle
        self._cache: ShortCache[Credential, Any] = ShortCache(CACHE_S, 10_000)
        # asks whether a session still stands on what it was given for (single sign-on: the provider)
        self.recheck: Callable[[people.Session], Awaitable[bool]] | None = None

    async def _query(self, load: Callable[[Any], Awaitable[Any]]) -> Any:
        try:
            async with self.pool.connection() as conn:
                return await load(conn)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout):
            raise HTTPException(503, "database unavailable; retry shortly", headers={"Retry-After": "5"}) from None

    async def _cached(self, key: Credential, load: Callable[[Any], Awaitable[Any]]) -> Any:
        return await self._cache.get(key, lambda: self._query(load))

    async def principal(self, token: str) -> Principal | None:
        found: Principal | None = await self._cached(("token", token), lambda conn: tokens.lookup(conn, token))
        return found

    async def session(self, secret: str) -> tuple[Principal, str] | None:
        """The person a session cookie signs in, and the session's CSRF token."""

        async def load(conn: Any) -> people.Session | None:
            return await people.session(conn, secret, datetime.now(UTC), self.idle)

        async def checked() -> tuple[Principal, str] | None:
            found: people.Session | None = await self._query(load)
            if found is None or (self.recheck is not None and not await self.recheck(found)):
                return None
            return found.person.principal(), found.csrf

        hit: tuple[Principal, str] | None = await self._cache.get(("session", secret), checked)
        return hit

    async def still_valid(self, credential: Credential) -> bool:
        kind, value = credential
        return (await (self.principal(value) if kind == "token" else self.session(value))) is not None

    def forget(self, credential: Credential) -> None:
        self._cache.forget(credential)


def session_cookie(request: Request) -> str | None:
    return request.cookies.get(SECURE_COOKIE) or request.cookies.get(COOKIE)


def same_origin(request: Request) -> bool:
    """The browser's ``Origin`` is this site's: its scheme, host and port (an https page of the same host
    is another origin than the http site, and the other way round). The site is the configured public
    URL, and the scheme and host the request came to (as a trusted proxy forwards them)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not every browser sends it on same-origin requests; the CSRF token still must match
    given = urlsplit(origin)
    theirs = (given.scheme.lower(), given.netloc.lower())
    ours = {(request.url.scheme.lower(), request.headers.get("host", "").lower())}
    public = getattr(getattr(getattr(request.app.state, "rt", None), "signin", None), "public_url", None)
    if isinstance(public, str) and public:
        site = urlsplit(public)
        ours.add((site.scheme.lower(), site.netloc.lower()))
    return theirs in ours


async def principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if creds is not None and creds.scheme.lower() == "bearer":
        found = await holder(request, creds.credentials)
        request.state.credential = ("token", creds.credentials)  # streams re-check it while they run
        return found
    secret = session_cookie(request)
    if secret is None:
        raise HTTPException(401, "sign in, or send a bearer token (Authorization: Bearer <token>)",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    cache: TokenCache = request.app.state.tokens
    hit = await cache.session(secret)
    if hit is None:
        raise HTTPException(401, "your session has ended; sign in again", headers={"WWW-Authenticate": "Bearer"})
    who, csrf = hit
    if request.method not in SAFE_METHODS:
        given = request.headers.get("x-csrf-token", "")
        if not same_origin(request) or not hmac.compare_digest(given.encode(), csrf.encode()):
            raise HTTPException(403, "this request needs the page's CSRF token (X-CSRF-Token) and this site's origin")
    request.state.credential = ("session", secret)
    request.state.csrf = csrf  # GET /api/v1/session hands it to the page
    return who


async def holder(request: Request, token: str) -> Principal:
    """Who holds ``token`` (through the app's one-second cache); 401 when nobody does."""
    cache: TokenCache = request.app.state.tokens
    found = await cache.principal(token)
    if found is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return found


def origin_of(who: Principal, client: str | None) -> dict[str, Any]:
    """Who sent an event over HTTP, as its source record keeps it: the token (a device or a machine) or
    the person signed in (the dock page)."""
    if who.person_id is not None:
        return {"client": client, "person": who.label, "person_id": who.person_id}
    return {"client": client, "token": who.label, "token_id": who.token_id}


def require(role: Role) -> Any:
    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.at_least(role):
            held = "you have" if who.person_id is not None else "the token has"
            raise HTTPException(403, f"this needs the {role} role; {held} {who.role}")
        return who

    return Depends(check)


def tenant_scope(who: Principal, tenant: str | None) -> str | None:
    """The tenant a query may read: the principal's own; an all-tenants token may name one or none."""
    if who.tenant == tokens.ALL_TENANTS:
        return tenant
    if tenant is not None and tenant != who.tenant:
        raise HTTPException(403, f"you belong to tenant {who.tenant!r}, not {tenant!r}")
    return who.tenant
