"""The embedded broker of ``up`` in the live tests: Mosquitto where Debian's package is installed, and
amqtt (README's default on a machine without it) always."""

import shutil
from pathlib import Path
from typing import Any

import pytest

from sealguard.config import Settings
from sealguard.embedded.servers import free_port

HAS_MOSQUITTO = bool(shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists())
BROKERS = [
    pytest.param("mosquitto", marks=pytest.mark.skipif(not HAS_MOSQUITTO, reason="Debian mosquitto not installed")),
    "amqtt",
]


def embedded(tmp: Path, database_url: str, broker: str, **extra: Any) -> Settings:
    return Settings(data_dir=tmp / "data", database_url=database_url, mqtt_embedded=broker,
                    mqtt_embedded_port=free_port(), http=f"127.0.0.1:{free_port()}",
                    **extra)  # fmt: skip
