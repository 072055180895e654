"""The pure parts of signing in: password hashes, one-time codes (RFC 6238 test vectors), PKCE (RFC 7636
Appendix B), the ID token checks, the claims mapping and the redirect guard."""

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealguard.people import oidc, passwords, totp
from sealguard.people.oidc import ClaimNames, ClaimsRefused

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


def test_rfc6238_sha1_vectors() -> None:
    for t, code in ((59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
                    (1234567890, "89005924"), (2000000000, "69279037"), (20000000000, "65353130")):  # fmt: skip
        assert totp.code_at(RFC_SECRET, totp.step_of(t), digits=8) == code


def test_a_code_is_good_once_and_only_near_its_time() -> None:
    now = 1_800_000_000.0
    code = totp.code_at(RFC_SECRET, totp.step_of(now))
    step = totp.matching_step(RFC_SECRET, code, now, last_step=0)
    assert step == totp.step_of(now)
    assert totp.matching_step(RFC_SECRET, code, now, last_step=step) is None  # replayed
    assert totp.matching_step(RFC_SECRET, code, now + 30, last_step=0) == step  # a step of drift
    assert totp.matching_step(RFC_SECRET, code, now + 90, last_step=0) is None  # too late
    assert totp.matching_step(RFC_SECRET, "12345", now, last_step=0) is None
    assert totp.matching_step(RFC_SECRET, "abcdef", now, last_step=0) is None
    assert totp.provisioning_uri(RFC_SECRET, "lee").startswith("otpauth://totp/sealguard%3Alee?secret=")


def test_password_hashes_verify_and_differ() -> None:
    a, b = passwords.hash_password("tamper evident 17712"), passwords.hash_password("tamper evident 17712")
    assert a != b and a.startswith("scrypt$32768$8$1$")
    assert passwords.verify_password("tamper evident 17712", a)
    assert not passwords.verify_password("tamper evident 17713", a)
    assert not passwords.verify_password("anything", None)
    assert not passwords.verify_password("anything", "md5$abc")
    assert not passwords.verify_password("x" * (passwords.MAX_LENGTH + 1), a)
    assert passwords.weakness("short", "dana") is not None
    assert passwords.weakness("dana-is-great-2026", "dana") is not None
    assert passwords.weakness("aaaaaaaaaaaa", "x") is not None
    assert passwords.weakness("correct horse battery", "dana") is None


def test_pkce_rfc7636_appendix_b() -> None:
    assert (
        oidc.challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    a = oidc.new_attempt()
    assert len(a.verifier) >= 43 and a.state != oidc.new_attempt().state
    url = oidc.authorization_url("https://idp.example/auth", client_id="sg", redirect_uri="https://sg.example/cb",
                                 scopes="openid", attempt=a)  # fmt: skip
    assert f"code_challenge={a.challenge}" in url and "code_challenge_method=S256" in url and a.verifier not in url


@pytest.mark.parametrize("bad", ["//evil.example", "https://evil.example/x", "/\\evil.example", "evil", "",
                                 "/ok\r\nSet-Cookie: x=1", None])  # fmt: skip
def test_next_paths_stay_on_this_site(bad: str | None) -> None:
    assert oidc.safe_next(bad) == "/"


@given(st.text(max_size=40))
def test_safe_next_never_leaves_the_site(path: str) -> None:
    out = oidc.safe_next(path)
    assert out.startswith("/") and not out.startswith("//") and "\\" not in out


def _claims(**over: object) -> dict[str, object]:
    return {"iss": "https://idp", "aud": "sg", "exp": 2000, "iat": 1000, "sub": "u1", "nonce": "n1", **over}


def test_id_token_checks() -> None:
    oidc.check_id_token(_claims(), issuer="https://idp", client_id="sg", nonce="n1", now=1500)
    for over, why in (({"iss": "https://other"}, "issuer"), ({"aud": "another-app"}, "not meant"),
                      ({"aud": ["sg", "x"]}, "azp"), ({"exp": 1000}, "expired"), ({"iat": 9000}, "future"),
                      ({"nonce": "n2"}, "nonce"), ({"sub": ""}, "subject")):  # fmt: skip
        with pytest.raises(ClaimsRefused, match=why):
            oidc.check_id_token(_claims(**over), issuer="https://idp", client_id="sg", nonce="n1", now=1500)
    oidc.check_id_token(_claims(aud=["sg", "x"], azp="sg"), issuer="https://idp", client_id="sg", nonce="n1", now=1500)


def test_claims_to_a_person() -> None:
    names = ClaimNames()
    who = oidc.identity({"sub": "s", "name": "Priya Shah", "preferred_username": "priya",
                         "sealguard_role": ["scanner", "operator", "other"], "sealguard_tenant": "acme"},
                        "https://idp", names)  # fmt: skip
    assert (who.username, who.display_name, who.role, who.tenant) == ("priya", "Priya Shah", "operator", "acme")
    with pytest.raises(ClaimsRefused, match="no sealguard role"):
        oidc.identity({"sub": "s", "sealguard_role": "superuser", "sealguard_tenant": "acme"}, "i", names)
    with pytest.raises(ClaimsRefused, match="no tenant"):
        oidc.identity({"sub": "s", "sealguard_role": "admin"}, "i", names)
    fixed = oidc.identity({"sub": "s", "email": "a@b", "sealguard_role": "admin", "sealguard_tenant": "evil"}, "i",
                          ClaimNames(fixed_tenant="acme"))  # fmt: skip
    assert (fixed.tenant, fixed.username, fixed.display_name) == ("acme", "a@b", "a@b")


def test_the_failure_limiter_waits_forgets_and_stays_bounded() -> None:
    from sealguard.web.ratelimit import RateLimiter

    now = [0.0]
    limiter = RateLimiter(0.2, 10, clock=lambda: now[0])
    assert limiter.waiting("ip:a") == 0
    for _ in range(10):
        assert limiter.take("ip:a") == 0
    assert limiter.waiting("ip:a") == pytest.approx(5.0)
    now[0] += 5
    assert limiter.waiting("ip:a") == 0
    limiter.MAX_KEYS = 100
    for i in range(1000):
        limiter.take(f"ip:{i}")
    assert len(limiter._buckets) <= 100
