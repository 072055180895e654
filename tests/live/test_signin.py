"""People sign in as themselves: a local account in the page, and single sign-on through a real OpenID
Connect provider (oidc-provider under Node, authorization code with PKCE); what each does is recorded
under their name, and the two-person rule needs two of them. Then what an attacker would try: a forged
cross-site request, a guessed password, a replayed one-time code, a forged or replayed sign-in state,
an open redirect, an IdP person with no role, a session after sign-out or disabling."""

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from sealguard.embedded.servers import MqttBroker, free_port
from sealguard.people import totp
from sealguard.store import people
from tests.live.browser import SHOTS, at_size, launch, two_person_alert
from tests.live.idp import issuer_for_port, oidc_provider
from tests.live.monitor import running, settings
from tests.live.people import PASSWORD, add_person, signed_in
from tests.live.servers import query, wait_for

ACCOUNTS = {
    "priya": {"password": "idp-pass-4711", "claims": {"name": "Priya Shah", "preferred_username": "priya",
                                                      "email": "priya@acme.example", "sealguard_role": "operator",
                                                      "sealguard_tenant": "acme"}},
    "guest": {"password": "idp-pass-0815", "claims": {"name": "Gus Guest", "preferred_username": "guest"}},
}  # fmt: skip


async def test_a_local_account_and_an_idp_person_resolve_a_two_person_alert_in_the_browser(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    from playwright.async_api import async_playwright, expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    idp_port = free_port()
    s = settings(tmp_path, database_url, mqtt_broker, oidc_issuer=issuer_for_port(idp_port),
                 oidc_client_id="sealguard")  # fmt: skip
    async with oidc_provider(tmp_path, idp_port, f"http://{s.http}/auth/oidc/callback", ACCOUNTS) as idp:
        s = type(s)(**(s.model_dump() | idp.settings()))
        async with running(s) as monitor:
            base = f"http://{s.http}"
            alert_id = await two_person_alert(base, monitor.token, database_url)
            await add_person(database_url, "acme", "operator", "olga", "Olga Petrova")
            async with async_playwright() as pw:
                browser = await launch(pw)
                try:
                    # Olga, a local account, signs in on the alert page and asks for the resolution
                    olga = await browser.new_page(viewport={"width": 1440, "height": 900})
                    errors: list[str] = []
                    olga.on("pageerror", lambda exc: errors.append(str(exc)))
                    await olga.goto(f"{base}/alerts/{alert_id}")
                    login = olga.locator("#login")
                    await expect(login).to_be_visible()
                    await expect(login.locator("#sso")).to_have_text("Sign in with Test IdP")
                    await at_size(olga, "signin", 1440, 900)
                    await login.locator("input[name=username]").fill("olga")
                    await login.locator("input[name=password]").fill("not her password")
                    await login.locator("button.primary").click()
                    await expect(login.locator(".why")).to_have_text("wrong username or password")
                    await login.locator("input[name=password]").fill(PASSWORD)
                    await login.locator("button.primary").click()
                    await expect(login).to_be_hidden()
                    await expect(olga.locator("#me .who")).to_have_text("Olga Petrova (olga)")
                    cookie = next(c for c in await olga.context.cookies() if c["name"] == "sg_session")
                    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax", cookie
                    assert "sealguard.token" not in await olga.evaluate("JSON.stringify(localStorage)")
                    await olga.locator("#resolve").click()
                    await expect(olga.locator("#action-result")).to_contain_text("resolve_requested")
                    await olga.locator("#resolve").click()  # the same person again: refused
                    await expect(olga.locator("#action-result")).to_contain_text("second person")

                    # Priya signs in through the identity provider and confirms
                    priya = await browser.new_page(viewport={"width": 390, "height": 844})
                    priya.on("pageerror", lambda exc: errors.append(str(exc)))
                    await priya.goto(f"{base}/alerts/{alert_id}")
                    await at_size(priya, "signin", 390, 844)
                    await priya.locator("#sso").click()
                    await priya.wait_for_url(f"{idp.issuer}/interaction/**")
                    await priya.locator("input[name=login]").fill("priya")
                    await priya.locator("input[name=password]").fill("wrong")
                    await priya.locator("#idp-submit").click()
                    await expect(priya.locator("#error")).to_have_text("wrong username or password")
                    await priya.locator("input[name=login]").fill("priya")
                    await priya.locator("input[name=password]").fill(ACCOUNTS["priya"]["password"])
                    await priya.locator("#idp-submit").click()
                    await priya.wait_for_url(f"{base}/alerts/{alert_id}")
                    await expect(priya.locator("#me .who")).to_have_text("Priya Shah (priya)")
                    await expect(priya.locator("#resolve")).to_have_text("Confirm resolution")
                    await priya.locator("#resolve").click()
                    await expect(priya.locator("#action-result")).to_contain_text("resolved")
                    await expect(priya.locator("#history")).to_contain_text("Priya Shah (priya)")
                    await priya.screenshot(path=str(SHOTS / "alert-390-two-people.png"), full_page=True)

                    # signing out ends the session: the page asks to sign in again
                    await olga.locator("#signout").click()
                    await expect(olga.locator("#login")).to_be_visible()
                    assert not errors, errors
                finally:
                    await browser.close()
            history = await query(database_url, "SELECT action, actor FROM alert_history WHERE alert_id = %s::uuid"
                                                " ORDER BY chain_seq", alert_id)  # fmt: skip
            assert [h for h in history if h[0] != "opened"] == [
                ("acknowledged", "Olga Petrova (olga)"),
                ("resolve_requested", "Olga Petrova (olga)"),
                ("resolved", "Priya Shah (priya)"),
            ]
            (who,) = await query(database_url, "SELECT username, tenant, role, oidc_issuer FROM people"
                                               " WHERE oidc_subject = 'priya'")  # fmt: skip
            assert who == ("priya", "acme", "operator", idp.issuer)


async def test_what_an_attacker_tries_against_sign_in_and_sessions(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    idp_port = free_port()
    s = settings(tmp_path, database_url, mqtt_broker)
    async with oidc_provider(tmp_path, idp_port, f"http://{s.http}/auth/oidc/callback", ACCOUNTS) as idp:
        s = type(s)(**(s.model_dump() | idp.settings()))
        async with running(s) as monitor:
            base = f"http://{s.http}"
            alert_id = await two_person_alert(base, monitor.token, database_url)
            ack = f"/api/v1/alerts/{alert_id}/acknowledge"

            async with signed_in(base, database_url, "acme", "operator", "olga", "Olga Petrova") as olga:
                # a forged cross-site request: the cookie alone is not enough, nor a token from elsewhere
                csrf = olga.headers.pop("X-CSRF-Token")
                assert (await olga.post(ack)).status_code == 403
                assert (await olga.post(ack, headers={"X-CSRF-Token": "guess"})).status_code == 403
                evil = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
                assert (await olga.post(ack, headers=evil)).status_code == 403
                assert (await query(database_url, "SELECT status FROM alerts"))[0][0] == "open"
                # reading needs no CSRF token; the session says who it is, and hands the token to its page
                me = (await olga.get("/api/v1/session")).json()
                assert (me["kind"], me["name"], me["csrf"]) == ("person", "Olga Petrova (olga)", csrf)
                # another tenant's alerts are not hers
                assert (await olga.get("/api/v1/alerts", params={"tenant": "globex"})).status_code == 403
                # signed out, the cookie is worth nothing, within the cache's second
                olga.headers["X-CSRF-Token"] = csrf
                kept = dict(olga.cookies)
                assert (await olga.post("/auth/logout")).status_code == 204
                async with httpx.AsyncClient(base_url=base, cookies=kept) as replay:
                    assert (await replay.get("/api/v1/session")).status_code == 401

            # a scanner cannot act on alerts, signed in or not
            async with signed_in(base, database_url, "acme", "scanner", "sam", "Sam Reyes") as sam:
                assert (await sam.post(ack)).status_code == 403

            # guessing a password: same answer for an unknown name; the account locks after five
            async with httpx.AsyncClient(base_url=base) as guesser:
                huge = await guesser.post("/auth/login", content=b'{"username": "' + b"a" * 100_000 + b'"}',
                                          headers={"Content-Type": "application/json"})  # fmt: skip
                assert huge.status_code == 413
                assert (await guesser.post("/auth/login", content=b"not json")).status_code == 422
                await add_person(database_url, "acme", "operator", "victor", "Victor Hale")
                unknown = await guesser.post("/auth/login", json={"username": "nobody", "password": "x" * 12})
                assert unknown.status_code == 401 and unknown.json()["detail"] == "wrong username or password"
                for _ in range(5):
                    r = await guesser.post("/auth/login", json={"username": "victor", "password": "hunter2hunter2"})
                    assert r.status_code == 401
                locked = await guesser.post("/auth/login", json={"username": "victor", "password": PASSWORD})
                assert locked.status_code == 429 and "sg_session" not in locked.cookies

            # a one-time code: asked after the password, good once
            await add_person(database_url, "acme", "admin", "tara", "Tara Quinn")
            secret = totp.new_secret()
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                assert await people.update(conn, "tara", totp_secret=secret)
            async with httpx.AsyncClient(base_url=base) as c:
                creds = {"username": "tara", "password": PASSWORD}
                first = await c.post("/auth/login", json=creds)
                assert first.status_code == 401 and first.json()["needs"] == "code" and not c.cookies
                code = totp.code_at(secret, totp.step_of(time.time()))
                assert (await c.post("/auth/login", json=creds | {"code": code})).status_code == 200
            async with httpx.AsyncClient(base_url=base) as c:
                replayed = await c.post("/auth/login", json=creds | {"code": code})
                assert replayed.status_code == 401 and not c.cookies

            # disabling a person ends their open sessions
            async with signed_in(base, database_url, "acme", "operator", "dana", "Dana White") as dana:
                assert (await dana.get("/api/v1/session")).status_code == 200
                async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                    await people.update(conn, "dana", disabled_at=datetime.now(UTC))

                async def refused() -> bool:
                    return (await dana.get("/api/v1/session")).status_code == 401

                await wait_for(refused, what="the disabled person's session refused")

            # single sign-on: a forged or replayed state, an open redirect, a person with no sealguard role
            async with httpx.AsyncClient(base_url=base, follow_redirects=False) as c:
                forged = await c.get("/auth/oidc/callback", params={"code": "x", "state": "made-up"})
                assert forged.status_code == 400
                start = await c.get("/auth/oidc/start", params={"next": "//evil.example/phish"})
                assert start.status_code == 303 and start.headers["location"].startswith(idp.issuer)
                assert "code_challenge_method=S256" in start.headers["location"]
                state = dict(httpx.URL(start.headers["location"]).params)["state"]
                assert (await query(database_url, "SELECT next_path FROM signin_attempts"))[0][0] == "/"
                again = await c.get("/auth/oidc/callback", params={"code": "x", "state": state})
                assert again.status_code == 502  # the provider refuses a made-up code ...
                used = await c.get("/auth/oidc/callback", params={"code": "x", "state": state})
                assert used.status_code == 400  # ... and the state is used up either way
            async with httpx.AsyncClient(base_url=base, follow_redirects=True) as c:
                page = await c.get("/auth/oidc/start", params={"next": "/console"})
                action = page.text.split('action="')[1].split('"')[0]
                done = await c.post(f"{idp.issuer}{action}", data={"login": "guest", "password": "idp-pass-0815"})
                assert done.status_code == 403 and "no sealguard role" in done.text
                assert not any(name.endswith("sg_session") for name in c.cookies)
            assert not await query(database_url, "SELECT 1 FROM people WHERE oidc_subject = 'guest'")
