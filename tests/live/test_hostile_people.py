"""The second round against people and their sessions: a rename at the identity provider between the two
halves of a two-person resolution, a lock kept alive by one guess a quarter of an hour, the sixth answer
that told which names exist, forged X-Forwarded-For, an attacker at a site's shared address, sessions
that outlived a removed role or a second factor turned on, an https origin on an http site."""

from datetime import timedelta
from pathlib import Path

import httpx
import psycopg

from sealguard.embedded.servers import MqttBroker, free_port
from sealguard.people import totp
from sealguard.store import people
from tests.live.browser import two_person_alert
from tests.live.idp import oidc_provider
from tests.live.monitor import running, settings
from tests.live.people import PASSWORD, add_person, signed_in
from tests.live.servers import query, wait_for

WRONG = "not-the-password-1"


async def execute(url: str, sql: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(sql.encode())


async def login(c: httpx.AsyncClient, username: str, password: str, forwarded: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return await c.post("/auth/login", json={"username": username, "password": password}, headers=headers)


async def test_two_people_are_two_identities_a_rename_is_still_one(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    """Carol asks, her name changes (as an IdP rename does), she signs in again and confirms: refused.
    Another person who takes the name she had is still another person."""
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s) as monitor:
        base = f"http://{s.http}"
        alert_id = await two_person_alert(base, monitor.token, database_url)
        resolve = f"/api/v1/alerts/{alert_id}/resolve"
        async with signed_in(base, database_url, "acme", "operator", "carol", "Carol") as carol:
            asked = await carol.post(resolve)
            assert asked.status_code == 200 and asked.json()["recorded"][-1] == "resolve_requested"
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            assert await people.update(conn, "carol", display_name="Carol B.")
        async with signed_in(base, database_url, "acme", "operator", "carol", "Carol B.") as renamed:
            again = await renamed.post(resolve)
            assert again.status_code == 409, again.text
        async with signed_in(base, database_url, "acme", "operator", "carol2", "Carol") as namesake:
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                await people.update(conn, "carol2", display_name="Carol B.")
            async with signed_in(base, database_url, "acme", "operator", "carol2", "Carol B.") as other:
                done = await other.post(resolve)
                assert done.status_code == 200 and done.json()["alert"]["status"] == "resolved", done.text
            del namesake
        history = await query(database_url, "SELECT action, actor, detail FROM alert_history WHERE alert_id = %s"
                                            " AND action IN ('resolve_requested', 'resolved') ORDER BY chain_seq",
                              alert_id)  # fmt: skip
        (_, _, asked_detail), (_, _, done_detail) = history
        assert asked_detail["identity"] != done_detail["identity"]
        assert done_detail["confirms_identity"] == asked_detail["identity"]


async def test_locks_end_and_say_nothing_of_which_names_exist(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        base = f"http://{s.http}"
        await add_person(database_url, "acme", "operator", "victor", "Victor Hale")
        async with httpx.AsyncClient(base_url=base) as c:
            answers = {}
            for name in ("victor", "nobody-here"):
                for _ in range(5):
                    r = await login(c, name, WRONG)
                    assert (r.status_code, r.json()) == (401, {"detail": "wrong username or password"})
                sixth = await login(c, name, WRONG)
                answers[name] = (sixth.status_code, sixth.json(), sorted(sixth.headers.keys()))
            assert answers["victor"] == answers["nobody-here"] and answers["victor"][0] == 429
            # fifteen minutes on (the lock's end moved into the past, as time would): one wrong guess is one
            # failure, not a new lock, and the right password works
            await execute(database_url, "UPDATE signin_throttle SET locked_until = now() - interval '1 second',"
                                      " updated_at = now() - interval '16 minutes'")  # fmt: skip
            assert (await login(c, "victor", WRONG)).status_code == 401
            assert (await login(c, "victor", PASSWORD)).status_code == 200


async def test_forwarded_addresses_are_believed_only_from_a_configured_proxy(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s), httpx.AsyncClient(base_url=f"http://{s.http}") as c:
        await add_person(database_url, "acme", "operator", "wendy", "Wendy Park")
        made_up = [(await login(c, "wendy", WRONG, f"203.0.113.{i}")).status_code for i in range(15)]
        assert made_up == [401] * 5 + [429] * 10  # one address: 127.0.0.1, whatever the header says
    s = settings(tmp_path, database_url, mqtt_broker, trusted_proxies="127.0.0.1")
    async with running(s), httpx.AsyncClient(base_url=f"http://{s.http}") as c:
        assert (await login(c, "wendy", PASSWORD, "198.51.100.7")).status_code == 200
        rows = await query(database_url, "SELECT client FROM web_sessions ORDER BY id DESC LIMIT 1")
        assert rows == [("198.51.100.7",)]  # behind the proxy, the proxy says who the client is


async def test_an_attacker_at_the_sites_address_locks_out_nobody_who_signed_in_before(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    """An operations centre behind one NAT address: the attacker fails on Uma's account from it, again and
    again. Uma, in the browser she signed in with before, signs in 20 times out of 20; her colleague Vic
    signs in from the same address; Uma from her phone elsewhere does too."""
    s = settings(tmp_path, database_url, mqtt_broker, trusted_proxies="127.0.0.1")
    nat = "192.0.2.10"
    async with running(s):
        await add_person(database_url, "acme", "operator", "uma", "Uma Roy")
        await add_person(database_url, "acme", "operator", "vic", "Vic Soto")
        base = f"http://{s.http}"
        async with httpx.AsyncClient(base_url=base) as uma, httpx.AsyncClient(base_url=base) as attacker:
            assert (await login(uma, "uma", PASSWORD, nat)).status_code == 200  # her browser, known from now on
            refused = 0
            for _ in range(20):
                for _ in range(2):
                    if (await login(attacker, "uma", WRONG, nat)).status_code == 429:
                        refused += 1
                assert (await login(uma, "uma", PASSWORD, nat)).status_code == 200
            assert refused >= 30  # the attacker is held after five
            async with httpx.AsyncClient(base_url=base) as vic:
                assert (await login(vic, "vic", PASSWORD, nat)).status_code == 200
            async with httpx.AsyncClient(base_url=base) as phone:
                assert (await login(phone, "uma", PASSWORD, "198.51.100.20")).status_code == 200
            # a trusted browser that guesses is held by its own failures
            thief = httpx.AsyncClient(base_url=base, cookies={"sg_device": uma.cookies["sg_device"]})
            async with thief:
                codes = [(await login(thief, "uma", WRONG, nat)).status_code for _ in range(6)]
            assert codes == [401] * 5 + [429]


async def test_sessions_end_when_what_they_rest_on_ends(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    """A second factor turned on ends the password-only sessions at once; a role removed at the identity
    provider ends the single sign-on session at its next check (every few minutes; here a second)."""
    idp_port = free_port()
    s = settings(tmp_path, database_url, mqtt_broker)
    claims = {"name": "Rita Lee", "preferred_username": "rita", "sealguard_role": "operator",
              "sealguard_tenant": "acme"}  # fmt: skip
    accounts = {"rita": {"password": "idp-pass-1234", "claims": claims}}
    async with oidc_provider(tmp_path, idp_port, f"http://{s.http}/auth/oidc/callback", accounts) as idp:
        s = type(s)(**(s.model_dump() | idp.settings() | {"oidc_recheck_minutes": 1 / 60}))
        async with running(s):
            base = f"http://{s.http}"
            async with signed_in(base, database_url, "acme", "operator", "tess", "Tess Ng") as tess:
                assert (await tess.get("/api/v1/session")).status_code == 200
                async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                    assert await people.update(conn, "tess", totp_secret=totp.new_secret())

                async def tess_out() -> bool:
                    return (await tess.get("/api/v1/session")).status_code == 401

                await wait_for(tess_out, timeout=5, what="the password-only session ended")
            async with httpx.AsyncClient(base_url=base, follow_redirects=True) as rita:
                page = await rita.get("/auth/oidc/start")
                action = page.text.split('action="')[1].split('"')[0]
                done = await rita.post(f"{idp.issuer}{action}", data={"login": "rita", "password": "idp-pass-1234"})
                assert done.status_code == 200
                assert (await rita.get("/api/v1/session")).status_code == 200
                await execute(database_url, "UPDATE web_sessions SET checked_at = now() - interval '1 hour'")
                assert (await rita.get("/api/v1/session")).status_code == 200  # still vouched for
                async with httpx.AsyncClient() as admin:
                    changed = await admin.put(f"{idp.issuer}/test/accounts/rita",
                                              json={"name": "Rita Lee", "preferred_username": "rita"})  # fmt: skip
                    assert changed.status_code == 204

                async def rita_out() -> bool:
                    return (await rita.get("/api/v1/session")).status_code == 401

                await wait_for(rita_out, timeout=20, what="the session of a person the IdP took the role from ended")


async def test_an_https_origin_is_not_this_http_site_and_https_sites_send_hsts(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s), httpx.AsyncClient(base_url=f"http://{s.http}") as c:
        await add_person(database_url, "acme", "operator", "xena", "Xena Ward")
        host = s.http
        creds = {"username": "xena", "password": PASSWORD}
        other_scheme = await c.post("/auth/login", json=creds, headers={"Origin": f"https://{host}"})
        assert other_scheme.status_code == 403
        assert (await c.post("/auth/login", json=creds, headers={"Origin": f"http://{host}"})).status_code == 200
        assert "strict-transport-security" not in (await c.get("/healthz")).headers
    s = settings(tmp_path, database_url, mqtt_broker, public_url="https://sealguard.example")
    async with running(s), httpx.AsyncClient(base_url=f"http://{s.http}") as c:
        assert (await c.get("/")).headers.get("strict-transport-security") == "max-age=31536000"


def test_a_lock_leaves_nothing_behind_in_time() -> None:
    """Pure: the counters and what a success clears."""
    from sealguard.people.throttle import ThrottleLimits, cleared_by_success, counters

    keys = counters(ThrottleLimits(), "Victor ", "192.0.2.1", None)
    assert [k.split(":")[0] for k, _ in keys] == ["pair", "account", "address"]
    assert counters(ThrottleLimits(), "victor", "192.0.2.1", None)[1] == keys[1]  # names ignore case and spaces
    assert [k.split(":")[0] for k in cleared_by_success(keys)] == ["pair", "account"]
    assert [k for k, _ in counters(ThrottleLimits(), "victor", "192.0.2.1", "abc")] == ["device:abc"]
    assert ThrottleLimits().lock_for == timedelta(minutes=15)
