"""Real servers for the live tests, started once per session on free 127.0.0.1 ports."""

import asyncio
import inspect
import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from sealguard.embedded.servers import EmbeddedPostgres, KafkaBroker, MqttBroker


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data").start()
    yield pg
    pg.stop("immediate")


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MqttBroker]:
    # SEALGUARD_TEST_BROKER=amqtt runs the suite as on a machine without Mosquitto.
    prefer = os.environ.get("SEALGUARD_TEST_BROKER", "auto")
    broker = MqttBroker(tmp_path_factory.mktemp("mqtt") / "broker", prefer=prefer).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka")).start()
    yield broker
    broker.stop()


def fresh_database(pg: EmbeddedPostgres) -> str:
    """A new, empty database on the session server, so tests never see each other's rows."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg.url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def database_url(postgres: EmbeddedPostgres) -> str:
    return fresh_database(postgres)


async def query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url, options="-c timezone=UTC") as conn:
        cur = await conn.execute(sql.encode(), params or None)
        return list(await cur.fetchall())


async def wait_for(predicate: Any, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll a predicate (plain or async); tests wait on outcomes, never on wall-clock durations."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
