"""Property-based fuzz of the published OpenAPI spec (schemathesis) against a running monitor holding
real data: no request, however odd, may get a 5xx."""

import asyncio
import shutil
import sys
from pathlib import Path

import orjson

from sealguard.embedded.servers import MqttBroker
from tests.live.alerting import merged, post
from tests.live.monitor import running, settings


async def test_openapi_fuzz_finds_no_server_error(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st is not None, "schemathesis is a dev dependency"
    s = settings(tmp_path, database_url, mqtt_broker, http_rate_per_s=0)
    async with running(s) as monitor:
        base = f"http://{s.http}"
        lines = merged("seal-mismatch-at-dock", "unscheduled-stop")
        assert (await post(base, monitor.token, "/api/v1/events", [orjson.loads(x) for x in lines])).status_code == 200
        proc = await asyncio.create_subprocess_exec(
            st, "run", f"{base}/api/v1/openapi.json", "-H", f"Authorization: Bearer {monitor.token}",
            "--checks", "not_a_server_error", "--max-time", "45", "-w", "1", "--max-examples", "25",
            "--phases", "examples,coverage,fuzzing", "--seed", "1", "--no-color",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    (tmp_path / "schemathesis.txt").write_text(text)
    assert proc.returncode == 0, text[-6000:]
    assert "Server error" not in text
