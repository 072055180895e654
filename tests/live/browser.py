"""Helpers of the browser tests: where Chromium is, where screenshots go, signing a person in, a trip that
ended a minute ago."""

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from tests.live.alerting import SCENARIOS, post
from tests.live.monitor import lines_of
from tests.live.people import PASSWORD, add_person
from tests.live.servers import query, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


async def launch(pw: Any) -> Any:
    """Debian's Chromium, headless, as every browser test runs it."""
    return await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


async def launch_with_camera(pw: Any, video: Path | None = None) -> Any:
    """Chromium with a camera that needs no permission prompt: its fake one (a moving test picture), or
    one playing ``video`` (MJPEG frames)."""
    camera = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    if video is not None:
        camera.append(f"--use-file-for-fake-video-capture={video}")
    return await pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *camera])


SHOTS = Path(__file__).parents[2] / "artefacts" / "screenshots"


async def at_size(page: Any, name: str, width: int, height: int) -> None:
    """The page at ``width`` (390: a phone; 1440: a desktop) must not scroll sideways (wide tables scroll
    in their own box); a full-page screenshot goes to ``artefacts/screenshots/{name}-{width}.png``."""
    await page.set_viewport_size({"width": width, "height": height})
    await page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # laid out
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{name} scrolls sideways at {width} px ({scroll} px wide)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)


async def sign_in(page: Any, base: str, database_url: str, tenant: str, role: str, username: str, name: str) -> str:
    """A person with a local account, signed in through ``POST /auth/login`` in ``page``'s browser context
    (it shares the page's cookies); returns how the history names them."""
    await add_person(database_url, tenant, role, username, name)
    resp = await page.request.post(f"{base}/auth/login", data={"username": username, "password": PASSWORD})
    assert resp.ok, await resp.text()
    return f"{name} ({username})"


async def passing_vvtt(page: Any, seal: str) -> None:
    """On the dock page, a conveyance open: every VVTT step passed for ``seal``, then recorded."""
    await page.click('[data-step="view"][data-v="true"]')
    await page.fill("#seal", seal)
    await page.press("#seal", "Enter")
    for step in ("tug", "twist_turn", "intact"):
        await page.click(f'[data-step="{step}"][data-v="true"]')
    await page.click("#submit-vvtt")


def recent_trip(tenant: str) -> list[dict[str, Any]]:
    """The seal-mismatch scenario up to the dock, shifted so that it ended a minute ago."""
    events = [orjson.loads(x) for x in lines_of(SCENARIOS / "seal-mismatch-at-dock" / "events.jsonl")]
    # the dock check is done in the browser, so the trip stays open (no removal, no closure)
    events = [e for e in events if e["kind"] not in ("seal.verified", "seal.removed", "trip.closed")]
    last = max(datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00")) for e in events)
    shift = datetime.now(UTC) - timedelta(minutes=1) - last
    tag = uuid.uuid4().hex[:6]
    for e in events:
        for key in ("occurred_at", "planned_departure", "planned_arrival"):
            if key in e:
                t = datetime.fromisoformat(e[key].replace("Z", "+00:00")) + shift
                e[key] = t.isoformat().replace("+00:00", "Z")
        e.update(tenant=tenant, event_id=f"{e['event_id']}-{tag}")
    return events


ORIGIN = {"facility_id": "DC-1", "center": [-98.49, 29.42], "radius_m": 500}
DEST = {"facility_id": "DC-2", "center": [-95.37, 29.76], "radius_m": 500}
POINTS = ("front_wall", "left_side", "right_side", "floor", "ceiling_roof", "inside_outside_doors",
          "outside_undercarriage")  # fmt: skip


def sealed_trip(
    cid: str, last_fix: datetime, speed: float, lat: float = 29.6, lon: float = -97.5
) -> list[dict[str, Any]]:
    """A trip from DC-1 to DC-2, inspected and sealed 25 minutes before its one fix at ``last_fix``, in
    tenant acme: a truck on the road with nothing wrong (yet)."""

    def at(minutes: int) -> str:
        return (last_fix - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")

    return [
        {"event_id": f"p-{cid}", "kind": "trip.planned", "occurred_at": at(25), "tenant": "acme", "conveyance_id": cid,
         "trip_id": f"T-{cid}", "seal_numbers": [f"S-{cid}"], "origin": ORIGIN, "destination": DEST},
        {"event_id": f"i-{cid}", "kind": "inspection.completed", "occurred_at": at(24), "tenant": "acme",
         "conveyance_id": cid, "inspection_type": "container_7pt", "points": dict.fromkeys(POINTS, "pass")},
        {"event_id": f"a-{cid}", "kind": "seal.affixed", "occurred_at": at(23), "tenant": "acme", "conveyance_id": cid,
         "seal_number": f"S-{cid}", "seal_class": "H", "seal_type": "bolt"},
        {"event_id": f"f-{cid}", "kind": "gps.position", "occurred_at": at(0), "tenant": "acme", "conveyance_id": cid,
         "lat": lat, "lon": lon, "speed_kph": speed},
    ]  # fmt: skip


async def two_person_alert(base: str, token: str, database_url: str) -> str:
    """A trip on the road, then its seal reports tamper: a SEAL-003 alert, which two people must resolve."""
    trip = recent_trip("acme")
    assert (await post(base, token, "/api/v1/events", trip)).json()["accepted"] == len(trip)
    tamper = {"event_id": f"alarm-{uuid.uuid4().hex[:6]}", "kind": "seal.alarm", "tenant": "acme",
              "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "conveyance_id": "TRL-1002",
              "seal_number": "SG123456", "alarm": "tamper", "lat": 28.0, "lon": -99.0}  # fmt: skip
    answer = (await post(base, token, "/api/v1/events", tamper)).json()
    assert "SEAL-003" in {f["rule_id"] for f in answer["results"][0]["findings"]}, answer
    found = "SELECT alert_id::text FROM alerts WHERE conveyance_id = 'TRL-1002' AND rule_id = 'SEAL-003'"
    await wait_for(lambda: query(database_url, found), what="the SEAL-003 alert stored")
    ((alert_id,),) = await query(database_url, found)
    return str(alert_id)


@contextlib.asynccontextmanager
async def answered_late(page: Any, matches: Callable[[str], bool]) -> AsyncIterator[None]:
    """Requests whose URL ``matches`` are held while the block runs (it asks again meanwhile) and answered
    as it ends, so theirs is the last answer. Leaving waits until the held request has finished and the page
    has had its turn with the answer (read, parsed, drawn): what is checked after it has seen the late one."""
    release = asyncio.Event()

    async def hold(route: Any) -> None:
        await release.wait()
        await route.continue_()

    await page.route(matches, hold)
    try:
        yield
        async with page.expect_event("requestfinished", lambda r: matches(r.url)):
            release.set()
        await page.evaluate("() => new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)))")
    finally:
        release.set()
        await page.unroute(matches)
