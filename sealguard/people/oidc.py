"""OpenID Connect, authorization code flow with PKCE (RFC 7636): the steps that need no I/O.

The relying party's part is: make a state, a nonce and a code verifier; send the browser to the
provider with the state, the nonce and the S256 challenge; on the way back, check the state against the
browser's cookie, trade the code and the verifier for tokens, check the ID token (signature, issuer,
audience, expiry, nonce), and map its claims to a person. This module holds the making, the URL, the
claim checks and the mapping; ``sealguard.web.signin`` does the HTTP."""

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from sealguard.store.tokens import ROLES, Role

CLOCK_SKEW_S = 120


@dataclass(frozen=True, slots=True)
class Attempt:
    """One sign-in in flight: ``state`` goes to the browser (cookie) and the provider; ``verifier`` and
    ``nonce`` stay on the server until the provider sends the browser back."""

    state: str
    verifier: str
    nonce: str

    @property
    def challenge(self) -> str:
        return challenge_of(self.verifier)


def new_attempt() -> Attempt:
    # 32 random bytes -> 43 characters: the verifier's minimum length in RFC 7636 is 43
    return Attempt(secrets.token_urlsafe(32), secrets.token_urlsafe(48), secrets.token_urlsafe(24))


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorization_url(endpoint: str, *, client_id: str, redirect_uri: str, scopes: str, attempt: Attempt) -> str:
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scopes,
             "state": attempt.state, "nonce": attempt.nonce, "code_challenge": attempt.challenge,
             "code_challenge_method": "S256"}  # fmt: skip
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path on this site only (``/console?x``), never another host
    (``//evil.example``, ``/\\evil``, ``https://...``): an open redirect would lend our name to phishing."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path or any(c < " " for c in path):
        return "/"
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return "/"
    return path


class ClaimsRefused(ValueError):
    """The ID token or the claims do not admit a person; the message says why, for the person and the log."""


def check_id_token(claims: dict[str, Any], *, issuer: str, client_id: str, nonce: str, now: float) -> None:
    """OpenID Connect Core 3.1.3.7, after the signature: issuer, audience, authorized party, expiry,
    issue time and nonce."""
    if claims.get("iss") != issuer:
        raise ClaimsRefused(f"the ID token's issuer is {claims.get('iss')!r}, not {issuer!r}")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if client_id not in audiences:
        raise ClaimsRefused("the ID token is not meant for this application (aud)")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise ClaimsRefused("the ID token names several audiences and its azp is not this application")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or exp + CLOCK_SKEW_S < now:
        raise ClaimsRefused("the ID token has expired")
    if not isinstance(iat, int | float) or iat - CLOCK_SKEW_S > now:
        raise ClaimsRefused("the ID token was issued in the future")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise ClaimsRefused("the ID token has no subject")
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise ClaimsRefused("the ID token's nonce does not match this sign-in (a replayed token?)")


@dataclass(frozen=True, slots=True)
class ClaimNames:
    """Which claims carry what; a site whose IdP has one tenant may fix it instead (``tenant``)."""

    role: str = "sealguard_role"
    tenant: str = "sealguard_tenant"
    facility: str = "sealguard_facility"
    fixed_tenant: str | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    issuer: str
    subject: str
    username: str
    display_name: str
    tenant: str
    role: Role
    facility: str | None


def _text(value: Any, limit: int = 200) -> str | None:
    return value.strip()[:limit] if isinstance(value, str) and value.strip() else None


def identity(claims: dict[str, Any], issuer: str, names: ClaimNames) -> Identity:
    """The person the claims describe. Role and tenant must come from the IdP (or the site's fixed
    tenant): a person the IdP gives no sealguard role to is refused, not let in as a reader. A role may
    come as a string or a list of them (groups); the highest sealguard role in it counts."""
    raw_role = claims.get(names.role)
    offered = raw_role if isinstance(raw_role, list) else [raw_role]
    granted = [r for r in ROLES if r in offered]
    if not granted:
        raise ClaimsRefused(f"the identity provider gives this person no sealguard role (claim {names.role!r})")
    tenant = names.fixed_tenant or _text(claims.get(names.tenant), 100)
    if tenant is None:
        raise ClaimsRefused(f"the identity provider names no tenant for this person (claim {names.tenant!r})")
    subject = str(claims["sub"])
    username = _text(claims.get("preferred_username"), 100) or _text(claims.get("email"), 100) or subject
    name = _text(claims.get("name")) or username
    return Identity(issuer, subject, username, name, tenant, granted[-1], _text(claims.get(names.facility), 100))
