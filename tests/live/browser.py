"""Helpers of the browser tests: where Chromium is, where screenshots go, a trip that ended a minute ago."""

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from tests.live.alerting import SCENARIOS
from tests.live.monitor import lines_of

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


async def launch(pw: Any) -> Any:
    """Debian's Chromium, headless, as every browser test runs it."""
    return await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


SHOTS = Path(__file__).parents[2] / "artefacts" / "screenshots"


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
