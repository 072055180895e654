"""The embedded broker's front door: token logins in any form, and the sender's role in the topic.

Devices connect here (``SEALGUARD_MQTT_EMBEDDED_PORT``, 1883 by default), not to the broker, which
listens on a private port behind it. The front reads each connection's CONNECT and admits it only with a
live API token, given as the password (any user name) or as the user name with an empty password (as
ThingsBoard devices send it); it then logs in to the broker as that token's own user (``sg-{id}``), so
the broker's password file and ACL (``ingest.mqtt_acl``) enforce the rest, whichever broker it is.

A broker cannot tell the monitor who published, so the front tells it: an operator's or admin's publish
to its tenant's plain events topic is passed on to ``.../events/operator`` or ``.../events/admin``,
topics only tokens of that role may write. A scanner's stays on the plain topic, which carries scanner
kinds, unless the scanner is bound to a facility: then it goes to that facility's topic
(``.../facility/{facility}/events``), which the monitor holds to that facility. A publish the sender may
not make goes to its refused topic, to be dead-lettered. After the CONNECT, packets from the broker pass
untouched and packets to it are only read as far as a PUBLISH topic; topic aliases are off on the broker,
so every PUBLISH names its topic.

With the monitor's database (``--database-url-file``) the front is also where a device's publish
becomes durable: a QoS 0 or 1 PUBLISH on one of the monitor's topics is written to the front door's log
(``store.mqtt_inbox``) and acknowledged (PUBACK) only after that commit, instead of being handed to the
broker, whose acknowledgement promised nothing (amqtt drops QoS 1 messages in flight to a subscriber
whose connection ends). The monitor reads the log (``sealguard.embedded.inbox_source``). Publishes are written in
groups, one transaction for all the connections' publishes that came meanwhile; while the database is
away nothing is acknowledged, so devices hold their messages. QoS 2 goes to the broker as before.

It runs as its own process (``python -m sealguard.embedded.mqtt_front``), like the broker, so devices can go on
publishing while the monitor is down or restarting.
"""

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from sealguard.embedded.broker_auth import credentials_at
from sealguard.ingest import mqtt_wire as wire
from sealguard.ingest.mqtt_acl import (
    MqttUser,
    facility_topic,
    may_publish,
    owntracks_topic,
    refused_of,
    refused_topic,
    topic_facility,
    topic_role,
    user_name,
)
from sealguard.retry import Backoff
from sealguard.store import mqtt_inbox

log = logging.getLogger("sealguard.embedded.mqtt_front")
CONNECT_TIMEOUT_S = 10.0
MAX_CONNECT = 64 * 1024
MAX_PACKET = 16 * 1024 * 1024  # larger publishes are refused: no device sends them
GROUP_MAX = 2000  # publishes written in one transaction
QUEUE_MAX = 20_000  # publishes waiting for the database; past it, connections wait (TCP pushes back)
Ack = Callable[[], None]


def destination(user: MqttUser, topic: str) -> str:
    """Where a token's publish on ``topic`` goes: an operator's or admin's on its tenant's plain events
    topic to its role's topic, a facility-bound scanner's to its facility's, one it may not make to its
    refused topic (to be dead-lettered), anything else where it was sent."""
    found = topic_role(topic)
    if found is not None and found[1] == "scanner":
        if user.role in ("operator", "admin"):
            return f"{topic}/{user.role}"
        if user.bound_facility is not None:
            return facility_topic(found[0], user.bound_facility)  # may_publish allows only its own
    return topic if may_publish(user, topic) else refused_topic(user.username, topic)


def for_the_monitor(topic: str) -> bool:
    """Whether the monitor reads ``topic`` (events, role, facility, OwnTracks and refused topics)."""
    return any(f(topic) is not None for f in (topic_role, topic_facility, owntracks_topic, refused_of))


class Log:
    """The front door's log writer: one connection, one transaction per group of publishes, each
    acknowledged after the commit (in the order they came)."""

    def __init__(self, url_file: Path) -> None:
        self.url_file = url_file  # read at each connect: a restarted monitor may move its database
        self.queue: asyncio.Queue[tuple[tuple[str, bytes, str, datetime], Ack | None]] = asyncio.Queue(QUEUE_MAX)

    async def put(self, topic: str, payload: bytes, client: str, ack: Ack | None) -> None:
        await self.queue.put(((topic, payload, client, datetime.now(UTC)), ack))

    async def run(self) -> None:
        backoff = Backoff(base=0.2, cap=5.0)
        conn: psycopg.AsyncConnection[Any] | None = None
        group: list[tuple[tuple[str, bytes, str, datetime], Ack | None]] = []
        while True:
            if not group:
                group.append(await self.queue.get())
                while len(group) < GROUP_MAX and not self.queue.empty():
                    group.append(self.queue.get_nowait())
            try:
                if conn is None or conn.closed:
                    conn = await psycopg.AsyncConnection.connect(self.url_file.read_text().strip(), connect_timeout=5)
                async with conn.transaction():
                    await mqtt_inbox.append(conn, [row for row, _ in group])
            except (psycopg.Error, OSError) as exc:  # nothing acknowledged: try the same group again
                log.warning("MQTT log write failed (%s); retrying", exc)
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                conn = None
                await asyncio.sleep(backoff.next())
                continue
            backoff.reset()
            for _, ack in group:
                if ack is not None:
                    with contextlib.suppress(Exception):  # the device went away: it sends it again
                        ack()  # buffered, never awaited: a device that stops reading holds up nobody
            group = []


async def read_packet(reader: asyncio.StreamReader, limit: int) -> tuple[int, bytes]:
    """One packet: its first byte and its body."""
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    for _ in range(4):
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    else:
        raise wire.MalformedPacket("variable-length integer longer than four bytes")
    if length > limit:
        raise wire.MalformedPacket(f"packet of {length} bytes is over the {limit}-byte limit")
    return first, await reader.readexactly(length)


def _text(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return None


class Front:
    def __init__(self, broker_port: int, credentials: str, log_writer: Log | None = None) -> None:
        self.broker_port = broker_port
        self.credentials = credentials
        self.log = log_writer

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                first, body = await read_packet(reader, MAX_CONNECT)
            if first >> 4 != wire.CONNECT:
                return
            connect = wire.parse_connect(body)
            username, password = _text(connect.username), _text(connect.password)
            who = credentials_at(self.credentials).who(username, password or None)
            if who is None:
                log.info("MQTT login refused")
                writer.write(wire.connack_refused(connect.level))
                await writer.drain()
                return
            user = who if isinstance(who, MqttUser) else None
            if user is not None:
                secret = password or username or ""
                connect = connect.with_login(user_name(user.token_id).encode(), secret.encode())
            up_reader, upstream = await asyncio.open_connection("127.0.0.1", self.broker_port)
            upstream.write(wire.encode_connect(connect))
            await self._pump(reader, upstream, up_reader, _Client(writer, connect.level, _text(connect.client_id)
                                                                  or ""), user)  # fmt: skip
        except (asyncio.IncompleteReadError, ConnectionError, wire.MalformedPacket, TimeoutError, OSError):
            pass
        finally:
            for w in (writer, upstream):
                if w is not None:
                    w.close()
                    with contextlib.suppress(Exception):
                        await w.wait_closed()

    async def _pump(self, client: asyncio.StreamReader, upstream: asyncio.StreamWriter,
                    up_reader: asyncio.StreamReader, out: "_Client", user: MqttUser | None) -> None:  # fmt: skip
        to_broker = asyncio.create_task(self._to_broker(client, upstream, user, out))
        to_client = asyncio.create_task(out.copy_from(up_reader))
        done, pending = await asyncio.wait((to_broker, to_client), return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for task in done:
            with contextlib.suppress(Exception):
                task.result()

    async def _to_broker(self, client: asyncio.StreamReader, upstream: asyncio.StreamWriter,
                         user: MqttUser | None, out: "_Client") -> None:  # fmt: skip
        """Packets to the broker as they came, but a token's PUBLISH goes where ``destination`` says (MQTT
        3.1.1 cannot refuse a publish, and a broker acknowledges and drops one it denies), and with the
        log, one of QoS 0 or 1 on a topic the monitor reads goes to the log instead of the broker."""
        while True:
            first, body = await read_packet(client, MAX_PACKET)
            if user is not None and first >> 4 == wire.PUBLISH:
                if credentials_at(self.credentials).tokens.get(user.sha256) is None:
                    raise ConnectionResetError("the token was revoked")  # its connection ends here
                publish = wire.parse_publish(first, body, out.level)
                topic = destination(user, publish.topic)
                if self.log is not None and publish.qos < 2 and for_the_monitor(topic):
                    # durable before it is acknowledged: the PUBACK is sent after the log's commit
                    ack = None if publish.packet_id is None else out.acker(publish.packet_id)
                    await self.log.put(topic, publish.payload, out.client_id, ack)
                    continue
                if topic != publish.topic:
                    upstream.write(wire.with_topic(first, body, topic))
                    await upstream.drain()
                    continue
            upstream.write(wire.packet(first, body))
            await upstream.drain()


class _Client:
    """The connection to a device: what the broker sends it and the front's own PUBACKs. Each packet is
    written whole in one ``write`` call, so in one event loop they never interleave; PUBACKs are not
    drained (a few bytes each), so a device that stops reading holds up no other device's."""

    def __init__(self, writer: asyncio.StreamWriter, level: int, client_id: str) -> None:
        self.writer = writer
        self.level = level
        self.client_id = client_id[:200]

    def acker(self, packet_id: int) -> Ack:
        def ack() -> None:
            if not self.writer.is_closing():
                self.writer.write(wire.puback(packet_id))

        return ack

    async def copy_from(self, broker: asyncio.StreamReader) -> None:
        while True:
            first, body = await read_packet(broker, wire.MAX_REMAINING)
            self.writer.write(wire.packet(first, body))
            await self.writer.drain()


async def run(port: int, broker_port: int, credentials: str, database_url_file: str | None = None) -> None:
    writer = Log(Path(database_url_file)) if database_url_file else None
    front = Front(broker_port, credentials, writer)
    logging_task = asyncio.create_task(writer.run()) if writer else None
    server = await asyncio.start_server(front.serve, "127.0.0.1", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    if logging_task is not None:  # what is not committed was not acknowledged: devices send it again
        logging_task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--broker-port", type=int, required=True)
    parser.add_argument("--credentials", required=True)
    parser.add_argument("--data-dir", required=True, help="names the owner, so a restart can find this process")
    parser.add_argument("--database-url-file", help="the monitor's database (0600 file): log publishes there")
    args = parser.parse_args()
    logging.basicConfig(level="INFO", format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    asyncio.run(run(args.port, args.broker_port, args.credentials, args.database_url_file))


if __name__ == "__main__":
    main()
