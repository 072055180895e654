"""`make demo`'s promise: from nothing, alerts raised, stored, readable through the API and delivered to the
local pager and mailbox within a minute."""

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sealguard.embedded.servers import free_port


def test_demo_shows_alerts_within_a_minute(tmp_path: Path) -> None:
    env = {**os.environ, "SEALGUARD_HTTP": f"127.0.0.1:{free_port()}", "SEALGUARD_DATA_DIR": str(tmp_path / "d"),
           "SEALGUARD_MQTT_EMBEDDED_PORT": str(free_port())}  # fmt: skip
    log, err = tmp_path / "demo.out", tmp_path / "demo.err"
    with log.open("w") as o, err.open("w") as e:
        demo = subprocess.Popen([sys.executable, "-m", "sealguard.cli", "demo", "--duration", "150"], env=env,
                                stdout=o, stderr=e, text=True, start_new_session=True)  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while "admin token  in " not in log.read_text() and demo.poll() is None and time.monotonic() < deadline:
                time.sleep(0.5)
            # README's own commands, in a second terminal while the demo runs: they find its database and
            # its alerting, rather than starting an empty database of their own
            tokens = subprocess.run([sys.executable, "-m", "sealguard.cli", "token", "list"], env=env,
                                    capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
            assert tokens.returncode == 0 and "the running demo's embedded database" in tokens.stderr, tokens.stderr
            assert "admin" in tokens.stdout, tokens.stdout
            assert not (tmp_path / "d" / "postgres").exists()  # no second, empty database
            route = subprocess.run([sys.executable, "-m", "sealguard.cli", "alerts", "route", "--tenant", "default",
                                    "--rule", "SEAL-003", "--severity", "critical"], env=env, capture_output=True,
                                   text=True, timeout=60, check=False)  # fmt: skip
            assert route.returncode == 0 and "running demo's alerting" in route.stderr, route.stderr
            assert "on-call-pager" in route.stdout, route.stdout
            # at wall-clock time, the fleet's incidents are in within the first minute: then a Ctrl-C at the
            # terminal (SIGINT to the whole process group) ends it cleanly, exit 0
            wanted = ("-> on-call-pager: PAGE (trigger) [CRITICAL]", "-> duty-manager: MAIL to")
            while not all(w in log.read_text() for w in wanted) and time.monotonic() < deadline + 60:
                time.sleep(0.5)
            os.killpg(demo.pid, signal.SIGINT)
            assert demo.wait(timeout=90) == 0, err.read_text()[-2000:]
            assert "not currently connected" not in err.read_text() + log.read_text()
        finally:
            if demo.poll() is None:
                demo.kill()
    text = log.read_text()
    out_stderr = err.read_text()
    assert "admin token  in " in text and "/api/v1/alerts" in text
    token = (tmp_path / "d" / "demo" / "admin-token").read_text().strip()
    assert token not in text + out_stderr  # the banner names the file; logs never carry the secret
    assert (tmp_path / "d" / "demo" / "admin-token").stat().st_mode & 0o077 == 0
    # two people to sign in as; their passwords are in a file only its owner reads, never on the console
    people = tmp_path / "d" / "demo" / "people.txt"
    assert people.stat().st_mode & 0o077 == 0 and "sign in as dana (operator) or lee (admin)" in text
    assert not any(line.split("\t")[1] in text for line in people.read_text().splitlines())
    new = [line for line in text.splitlines() if line.strip().startswith("NEW ")]
    rules = {line.split()[2] for line in new}
    assert len(new) >= 3, text[-3000:]
    assert {"SEAL-003", "TRK-001"} & rules, rules  # an incident of the simulator, not just noise
    # the demo's own receivers got a page and an e-mail for a critical alert
    # (each '->' line names the receiver it was for)
    assert "-> on-call-pager: PAGE (trigger) [CRITICAL]" in text, text[-3000:]
    assert "-> duty-manager: MAIL to duty-manager@example.com: [CRITICAL]" in text, text[-3000:]
    # a quiet console: a status line only when the counts changed, never twice the same in a row
    status = [line.split("] ", 1)[1] for line in text.splitlines() if line.startswith("[") and "open (critical" in line]
    assert status and all(a != b for a, b in itertools.pairwise(status)), status
