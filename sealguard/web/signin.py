"""Signing in as a person: a local account (password, and a one-time code when the person has turned the
second factor on) or single sign-on through any OpenID Connect provider (authorization code with PKCE).

Either way the browser gets a session cookie (HttpOnly, SameSite=Lax, Secure on https), and the page gets
the session's CSRF token from ``GET /api/v1/session``. The pure steps (hashing, codes, PKCE, claim
checks) are in ``sealguard.people``; this module does the HTTP: the endpoints, and the calls to the
provider (discovery, keys, the code exchange, userinfo)."""

import asyncio
import hmac
import html
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

import httpx
import psycopg_pool
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, Field, ValidationError

from sealguard.people import oidc, passwords, throttle, totp
from sealguard.people.oidc import ClaimNames, ClaimsRefused
from sealguard.people.throttle import ThrottleLimits
from sealguard.store import people
from sealguard.store.tokens import Principal
from sealguard.web.auth import COOKIE, SECURE_COOKIE, TokenCache, principal, same_origin, session_cookie
from sealguard.web.bodies import Text, read_limited
from sealguard.web.ratelimit import RateLimiter

log = logging.getLogger(__name__)
API = "/api/v1"
STATE_COOKIE = "sg_oidc_state"
DEVICE_COOKIE = "sg_device"  # a browser that has signed in to an account before (OWASP's device cookie)
DEVICE_LASTS = timedelta(days=180)
ATTEMPT_S = 600  # a sign-in at the provider must come back within ten minutes
SIGNING_ALGS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


@dataclass(frozen=True, kw_only=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str | None = None
    scopes: str = "openid profile email"
    claims: ClaimNames = field(default_factory=ClaimNames)
    label: str = "Single sign-on"


@dataclass(frozen=True, kw_only=True)
class SignInConfig:
    public_url: str
    lasts: timedelta = timedelta(hours=12)
    idle: timedelta = timedelta(hours=1)
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    oidc: OidcConfig | None = None
    throttle: ThrottleLimits = field(default_factory=ThrottleLimits)
    recheck: timedelta = timedelta(minutes=5)  # a single sign-on session asks the provider again this often

    def secure(self, request: Request) -> bool:
        if self.cookie_secure != "auto":
            return self.cookie_secure == "always"
        return self.public_url.startswith("https:") or request.url.scheme == "https"


def signin_of(s: Any) -> SignInConfig:
    """The sign-in configuration from the settings (``sealguard.config.Settings``)."""
    configured = None
    if s.oidc_issuer and s.oidc_client_id:
        configured = OidcConfig(
            issuer=s.oidc_issuer.rstrip("/"), client_id=s.oidc_client_id,
            client_secret=s.oidc_client_secret.get_secret_value() if s.oidc_client_secret else None,
            scopes=s.oidc_scopes, label=s.oidc_label,
            claims=ClaimNames(s.oidc_role_claim, s.oidc_tenant_claim, s.oidc_facility_claim, s.oidc_tenant),
        )  # fmt: skip
    return SignInConfig(public_url=(s.public_url or f"http://{s.http}").rstrip("/"),
                        lasts=timedelta(hours=s.session_hours), idle=timedelta(minutes=s.session_idle_minutes),
                        cookie_secure=s.cookie_secure, oidc=configured,
                        recheck=timedelta(minutes=s.oidc_recheck_minutes),
                        throttle=ThrottleLimits(pair=s.signin_failures_per_account_and_address,
                                                account=s.signin_failures_per_account,
                                                address=s.signin_failures_per_address,
                                                device=s.signin_failures_per_browser,
                                                lock_for=timedelta(minutes=s.signin_lock_minutes)))  # fmt: skip


class ProviderError(RuntimeError):
    """The identity provider did not answer as OpenID Connect says it must (``status``: its HTTP answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NoLongerVouched(ProviderError):
    """The provider no longer answers for the session's person: its access token is refused and it
    cannot be refreshed. The person signs in again (at the provider, often without typing anything)."""


class OidcClient:
    """The relying party's calls to the provider; its discovery document is kept an hour and its keys
    until a token names a key id they lack (a key rotation), re-read at most once a minute."""

    def __init__(self, cfg: OidcConfig) -> None:
        self.cfg = cfg
        self._meta: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, KeySet] | None = None

    async def _get(self, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
                resp = await client.get(url, **kwargs)
        except httpx.HTTPError as exc:
            raise ProviderError(f"the identity provider did not answer ({type(exc).__name__})") from exc
        if resp.status_code != 200:
            raise ProviderError(f"the identity provider answered {resp.status_code} for {url}", resp.status_code)
        body = resp.json()
        if not isinstance(body, dict):
            raise ProviderError(f"the identity provider's answer for {url} is not a JSON object")
        return body

    async def metadata(self) -> dict[str, Any]:
        if self._meta is not None and self._meta[0] > time.monotonic():
            return self._meta[1]
        meta = await self._get(f"{self.cfg.issuer}/.well-known/openid-configuration")
        if str(meta.get("issuer", "")).rstrip("/") != self.cfg.issuer:  # OIDC Discovery 4.3
            raise ProviderError(f"the discovery document names issuer {meta.get('issuer')!r}, not {self.cfg.issuer!r}")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(meta.get(key), str):
                raise ProviderError(f"the discovery document has no {key}")
        self._meta = (time.monotonic() + 3600, meta)
        return meta

    async def keys(self, *, refresh: bool = False) -> KeySet:
        if self._keys is not None and (not refresh or self._keys[0] > time.monotonic()):
            return self._keys[1]
        meta = await self.metadata()
        keys = KeySet.import_key_set(await self._get(meta["jwks_uri"]))  # type: ignore[arg-type]
        self._keys = (time.monotonic() + 60, keys)
        return keys

    async def redeem(self, code: str, verifier: str, redirect_uri: str,
                     nonce: str) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
        """The code and the verifier traded for tokens; the ID token checked; its claims, with userinfo's
        added when the provider has that endpoint (role and tenant claims are often only there), and the
        tokens (kept with the session, to ask again later)."""
        meta = await self.metadata()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": verifier, "client_id": self.cfg.client_id}  # fmt: skip
        auth: tuple[str, str] | None = None
        if self.cfg.client_secret is not None:
            methods = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
            if "client_secret_basic" in methods:  # RFC 6749 2.3.1: form-encoded, then Basic
                auth = (quote(self.cfg.client_id, safe=""), quote(self.cfg.client_secret, safe=""))
            else:
                form["client_secret"] = self.cfg.client_secret
        try:
            async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
                resp = await client.post(meta["token_endpoint"], data=form, auth=auth or httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as exc:
            raise ProviderError(f"the token endpoint did not answer ({type(exc).__name__})") from exc
        if resp.status_code != 200:
            raise ProviderError(f"the identity provider refused the code ({resp.status_code}: {resp.text[:200]})")
        tokens = resp.json()
        id_token = tokens.get("id_token") if isinstance(tokens, dict) else None
        if not isinstance(id_token, str):
            raise ProviderError("the identity provider sent no ID token")
        claims = await self._verified(id_token, meta)
        oidc.check_id_token(claims, issuer=self.cfg.issuer, client_id=self.cfg.client_id, nonce=nonce,
                            now=time.time())  # fmt: skip
        access = tokens.get("access_token")
        if isinstance(meta.get("userinfo_endpoint"), str) and isinstance(access, str):
            info = await self._get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {access}"})
            if info.get("sub") != claims["sub"]:  # OIDC Core 5.3.2: else the answer is not this person's
                raise ProviderError("userinfo describes another subject than the ID token")
            claims = {**info, **claims}
        return claims, tokens

    async def current(self, subject: str, access: str | None,
                      refresh: str | None) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
        """What the provider says of the person now (userinfo), and any new tokens: with the access token
        kept, or, once that is refused, with a fresh one from the refresh token."""
        meta = await self.metadata()
        endpoint = meta.get("userinfo_endpoint")
        if not isinstance(endpoint, str):
            raise ProviderError("the identity provider has no userinfo endpoint to ask again")
        fresh: dict[str, Any] = {}
        for attempt in range(2):
            if access is not None:
                try:
                    info = await self._get(endpoint, headers={"Authorization": f"Bearer {access}"})
                except ProviderError as exc:
                    if exc.status != 401:  # RFC 6750: the token is expired or revoked; anything else is not
                        raise
                else:
                    if info.get("sub") != subject:
                        raise NoLongerVouched("userinfo describes another subject than the session's")
                    return info, fresh
            if attempt or refresh is None:
                break
            fresh = await self._refreshed(meta, refresh)
            access = fresh.get("access_token") if isinstance(fresh.get("access_token"), str) else None
        raise NoLongerVouched("the identity provider no longer accepts this session's tokens")

    async def _refreshed(self, meta: dict[str, Any], refresh: str) -> dict[str, Any]:
        form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": self.cfg.client_id}
        auth: tuple[str, str] | None = None
        if self.cfg.client_secret is not None:
            auth = (quote(self.cfg.client_id, safe=""), quote(self.cfg.client_secret, safe=""))
        try:
            async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
                resp = await client.post(meta["token_endpoint"], data=form, auth=auth or httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as exc:
            raise ProviderError(f"the token endpoint did not answer ({type(exc).__name__})") from exc
        if resp.status_code in (400, 401):
            raise NoLongerVouched(f"the identity provider refused the refresh token ({resp.status_code})")
        if resp.status_code != 200:
            raise ProviderError(f"the token endpoint answered {resp.status_code}")
        body = resp.json()
        return body if isinstance(body, dict) else {}

    async def _verified(self, id_token: str, meta: dict[str, Any]) -> dict[str, Any]:
        offered = set(meta.get("id_token_signing_alg_values_supported") or ["RS256"])
        algorithms = sorted(offered & SIGNING_ALGS)  # never "none", never a shared-secret HS*
        if not algorithms:
            raise ProviderError("the identity provider signs ID tokens with no algorithm accepted here")
        for refresh in (False, True):
            try:
                token = jwt.decode(id_token, await self.keys(refresh=refresh), algorithms=algorithms)
            except (JoseError, ValueError) as exc:
                if refresh:
                    raise ClaimsRefused(f"the ID token's signature does not verify ({type(exc).__name__})") from exc
                continue
            return dict(token.claims)
        raise AssertionError("unreachable")


class LoginBody(BaseModel):
    username: Annotated[Text, Field(min_length=1, max_length=200)]
    password: Annotated[str, Field(min_length=1, max_length=passwords.MAX_LENGTH)]
    code: Annotated[str | None, Field(max_length=12)] = None


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _failure_page(message: str, status: int) -> HTMLResponse:
    body = (
        "<!doctype html><meta charset=utf-8><title>Sign-in failed</title>"
        "<link rel=stylesheet href=/static/style.css><main class=narrow><h1>Sign-in failed</h1>"
        f"<p id=why>{html.escape(message)}</p><p><a href=/>Try again</a></p></main>"
    )
    return HTMLResponse(body, status_code=status)


def router(cfg: SignInConfig, pool: psycopg_pool.AsyncConnectionPool[Any], tokens_cache: TokenCache) -> APIRouter:
    signin = APIRouter(tags=["sign-in"])
    starts = RateLimiter(2, 30)  # each single sign-on start stores a row: no flood of them
    provider = OidcClient(cfg.oidc) if cfg.oidc else None

    async def still_vouched(s: people.Session) -> bool:
        """A single sign-on session asks the provider again every ``cfg.recheck``: a person it no longer
        gives a sealguard role (or whose role, tenant or facility changed, or whose tokens it refuses) is
        signed out. An unreachable provider leaves the session as it was until the next round."""
        if s.method != "oidc" or provider is None or cfg.oidc is None:
            return True
        now = datetime.now(UTC)
        if s.checked_at is not None and now - s.checked_at < cfg.recheck:
            return True
        subject = await _subject_of(s.person.id)
        try:
            if subject is None:
                raise NoLongerVouched("the person has no identity at this provider")
            info, fresh = await provider.current(subject, s.oidc_access_token, s.oidc_refresh_token)
            who = oidc.identity(info, cfg.oidc.issuer, cfg.oidc.claims)
            if (who.tenant, who.role, who.facility) != (s.person.tenant, s.person.role, s.person.facility):
                raise ClaimsRefused("the identity provider changed this person's role, tenant or facility")
        except (NoLongerVouched, ClaimsRefused) as exc:
            log.warning("single sign-on session of person %d ended: %s", s.person.id, exc)
            async with pool.connection() as conn:
                await people.end_session_by_id(conn, s.id, now)
            return False
        except ProviderError as exc:
            log.warning("could not re-check a single sign-on session (%s); it goes on until the next round", exc)
            fresh = {}
        async with pool.connection() as conn:
            await people.session_checked(conn, s.id, now, access_token=_str(fresh.get("access_token")),
                                         refresh_token=_str(fresh.get("refresh_token")))  # fmt: skip
        return True

    async def _subject_of(person_id: int) -> str | None:
        async with pool.connection() as conn:
            return await people.oidc_subject(conn, person_id)

    tokens_cache.recheck = still_vouched

    def cookie_name(request: Request) -> str:
        return SECURE_COOKIE if cfg.secure(request) else COOKIE

    async def begin(request: Request, response: Response, person: people.Person, method: str, *,
                    access_token: str | None = None, refresh_token: str | None = None) -> dict[str, Any]:  # fmt: skip
        """A new session (never the one the browser had: no session fixation), its cookie set."""
        now = datetime.now(UTC)
        async with pool.connection() as conn:
            old = session_cookie(request)
            if old is not None:
                await people.end_session(conn, old, now)
            secret, csrf = await people.start_session(conn, person.id, method, now, cfg.lasts, _client(request),
                                                      access_token=access_token,
                                                      refresh_token=refresh_token)  # fmt: skip
        response.set_cookie(cookie_name(request), secret, max_age=int(cfg.lasts.total_seconds()), path="/",
                            httponly=True, samesite="lax", secure=cfg.secure(request))  # fmt: skip
        return {"person": _shown(person.principal(), person.username), "csrf": csrf}

    @signin.get("/auth/methods")
    async def methods() -> dict[str, Any]:
        """How people may sign in here: always a local account; single sign-on when configured."""
        return {"local": True, "oidc": {"label": cfg.oidc.label} if cfg.oidc else None}

    @signin.post("/auth/login", openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": LoginBody.model_json_schema()}}}})  # fmt: skip
    async def login(request: Request, response: Response) -> Any:
        """Sign in with a local account. Failures are throttled per account and address, per account, per
        address and per trusted browser (``sealguard.people.throttle``); a name that is no account is
        answered exactly as one that is, and in about the same time."""
        if not same_origin(request):  # login CSRF: another site signing this browser in as someone else
            raise HTTPException(403, "sign in from this site's own page")
        try:  # read within a small limit: nobody signs in with megabytes
            body = LoginBody.model_validate_json(await read_limited(request, 16 * 1024))
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False, include_input=False)
            raise HTTPException(422, errors) from None
        now = datetime.now(UTC)
        name = body.username.strip()
        device = request.cookies.get(DEVICE_COOKIE)
        async with pool.connection() as conn:
            person = await people.by_username(conn, name)
            trusted = await people.trusted_device(conn, device, now) if device else None
            known = device is not None and person is not None and trusted == person.id
            keys = throttle.counters(cfg.throttle, name, _client(request), people.secret_hash(device) if known
                                     and device else None)  # fmt: skip
            until = await people.locked_until(conn, [k for k, _ in keys], now)
        if until is not None:
            raise HTTPException(429, "too many failed sign-ins; try again later",
                                {"Retry-After": str(int((until - now).total_seconds()) + 1)})  # fmt: skip
        stored = person.password_hash if person is not None and person.disabled_at is None else None
        good = await asyncio.to_thread(passwords.verify_password, body.password, stored)
        if person is None or not good:
            async with pool.connection() as conn:
                await people.count_failure(conn, keys, now, cfg.throttle.lock_for)
            raise HTTPException(401, "wrong username or password")
        step: int | None = None
        if person.totp_secret is not None:
            if not body.code:
                return JSONResponse({"detail": "enter the code from your authenticator app", "needs": "code"}, 401)
            step = totp.matching_step(person.totp_secret, body.code, time.time(), person.totp_last_step)
            async with pool.connection() as conn:
                if step is None or not await people.use_totp_step(conn, person.id, step):
                    await people.count_failure(conn, keys, now, cfg.throttle.lock_for)
                    return JSONResponse({"detail": "wrong or already used code", "needs": "code"}, 401)
        async with pool.connection() as conn:
            await people.clear_failures(conn, throttle.cleared_by_success(keys))
            fresh = await people.trust_device(conn, person.id, device if known else None, now, DEVICE_LASTS)
        response.set_cookie(DEVICE_COOKIE, fresh, max_age=int(DEVICE_LASTS.total_seconds()), path="/auth/login",
                            httponly=True, samesite="strict", secure=cfg.secure(request))  # fmt: skip
        return await begin(request, response, person, "password+totp" if step is not None else "password")

    @signin.post("/auth/logout", status_code=204)
    async def logout(request: Request, who: Annotated[Principal, Depends(principal)]) -> Response:
        """End this browser's session (a CSRF-checked request, so another site cannot sign you out)."""
        secret = session_cookie(request)
        response = Response(status_code=204)
        if secret is not None:
            async with pool.connection() as conn:
                await people.end_session(conn, secret, datetime.now(UTC))
            cache: TokenCache = request.app.state.tokens
            cache.forget(("session", secret))
        for name in (COOKIE, SECURE_COOKIE):
            response.delete_cookie(name, path="/")
        return response

    @signin.get(f"{API}/session")
    async def whoami(request: Request, who: Annotated[Principal, Depends(principal)]) -> dict[str, Any]:
        """Who this request is: a person (with the CSRF token their page must send on changes) or a token."""
        return {**_shown(who, None), "csrf": getattr(request.state, "csrf", None)}

    @signin.get("/auth/oidc/start")
    async def oidc_start(request: Request, next: str | None = None) -> Response:
        """Send the browser to the identity provider, with a fresh state, nonce and PKCE challenge."""
        if provider is None or cfg.oidc is None:
            raise HTTPException(404, "single sign-on is not configured here")
        wait = starts.take(f"ip:{_client(request)}")
        if wait > 0:
            raise HTTPException(429, "too many sign-in attempts; retry shortly", {"Retry-After": str(int(wait) + 1)})
        attempt = oidc.new_attempt()
        try:
            meta = await provider.metadata()
        except ProviderError as exc:
            return _failure_page(str(exc), 502)
        async with pool.connection() as conn:
            await people.save_attempt(conn, attempt.state, attempt.verifier, attempt.nonce, oidc.safe_next(next),
                                      datetime.now(UTC) + timedelta(seconds=ATTEMPT_S))  # fmt: skip
        url = oidc.authorization_url(meta["authorization_endpoint"], client_id=cfg.oidc.client_id,
                                     redirect_uri=f"{cfg.public_url}/auth/oidc/callback", scopes=cfg.oidc.scopes,
                                     attempt=attempt)  # fmt: skip
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(STATE_COOKIE, attempt.state, max_age=ATTEMPT_S, path="/auth/oidc", httponly=True,
                            samesite="lax", secure=cfg.secure(request))  # fmt: skip
        return response

    @signin.get("/auth/oidc/callback")
    async def oidc_callback(request: Request, code: str | None = None, state: str | None = None,
                            error: str | None = None, error_description: str | None = None) -> Response:  # fmt: skip
        """Where the provider sends the browser back: the state must be this browser's and unused, the
        code is traded with the verifier, the ID token checked, and the person signed in."""
        if provider is None or cfg.oidc is None:
            raise HTTPException(404, "single sign-on is not configured here")
        if error is not None:
            return _failure_page(f"the identity provider said: {error_description or error}", 403)
        mine = request.cookies.get(STATE_COOKIE)
        if not code or not state or mine is None or not hmac.compare_digest(mine, state):
            return _failure_page("this sign-in did not start in this browser (or its cookie expired)", 400)
        now = datetime.now(UTC)
        async with pool.connection() as conn:
            taken = await people.take_attempt(conn, state, now)
        if taken is None:
            return _failure_page("this sign-in has expired or was used already; start again", 400)
        verifier, nonce, next_path = taken
        try:
            claims, tokens = await provider.redeem(code, verifier, f"{cfg.public_url}/auth/oidc/callback", nonce)
            who = oidc.identity(claims, cfg.oidc.issuer, cfg.oidc.claims)
        except ProviderError as exc:
            log.warning("single sign-on failed: %s", exc)
            return _failure_page(str(exc), 502)
        except ClaimsRefused as exc:
            log.warning("single sign-on refused: %s", exc)
            return _failure_page(str(exc), 403)
        async with pool.connection() as conn, conn.transaction():
            person = await people.upsert_oidc(conn, who.issuer, who.subject, who.username, who.display_name,
                                              who.tenant, who.role, who.facility)  # fmt: skip
        if person.disabled_at is not None:
            return _failure_page("this person is disabled here", 403)
        response = RedirectResponse(next_path, status_code=303)
        await begin(request, response, person, "oidc", access_token=_str(tokens.get("access_token")),
                    refresh_token=_str(tokens.get("refresh_token")))  # fmt: skip
        response.delete_cookie(STATE_COOKIE, path="/auth/oidc")
        return response

    return signin


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _shown(who: Principal, username: str | None) -> dict[str, Any]:
    return {"kind": "person" if who.person_id is not None else "token", "name": who.label, "role": who.role,
            "tenant": who.tenant, "facility": who.facility, **({"username": username} if username else {})}  # fmt: skip
