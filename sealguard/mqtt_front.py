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

It runs as its own process (``python -m sealguard.mqtt_front``), like the broker, so devices can go on
publishing while the monitor is down or restarting.
"""

import argparse
import asyncio
import contextlib
import logging
import signal

from sealguard.broker_auth import credentials_at
from sealguard.ingest import mqtt_wire as wire
from sealguard.ingest.mqtt_acl import MqttUser, facility_topic, may_publish, refused_topic, topic_role, user_name

log = logging.getLogger("sealguard.mqtt_front")
CONNECT_TIMEOUT_S = 10.0
MAX_CONNECT = 64 * 1024
MAX_PACKET = 16 * 1024 * 1024  # larger publishes are refused: no device sends them
COPY_CHUNK = 64 * 1024


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
    def __init__(self, broker_port: int, credentials: str) -> None:
        self.broker_port = broker_port
        self.credentials = credentials

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
            await self._pump(reader, upstream, up_reader, writer, user)
        except (asyncio.IncompleteReadError, ConnectionError, wire.MalformedPacket, TimeoutError, OSError):
            pass
        finally:
            for w in (writer, upstream):
                if w is not None:
                    w.close()
                    with contextlib.suppress(Exception):
                        await w.wait_closed()

    async def _pump(self, client: asyncio.StreamReader, upstream: asyncio.StreamWriter,
                    up_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter,
                    user: MqttUser | None) -> None:  # fmt: skip
        to_broker = asyncio.create_task(self._to_broker(client, upstream, user))
        to_client = asyncio.create_task(_copy(up_reader, client_writer))
        done, pending = await asyncio.wait((to_broker, to_client), return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for task in done:
            with contextlib.suppress(Exception):
                task.result()

    async def _to_broker(self, client: asyncio.StreamReader, upstream: asyncio.StreamWriter,
                         user: MqttUser | None) -> None:  # fmt: skip
        """Packets to the broker as they came, but a token's PUBLISH on its tenant's plain events topic goes
        to its role's topic, and one on a topic it may not publish on goes to its refused topic (to be
        dead-lettered: MQTT 3.1.1 cannot refuse a publish, and a broker acknowledges and drops it)."""
        while True:
            first, body = await read_packet(client, MAX_PACKET)
            if user is not None and first >> 4 == wire.PUBLISH:
                topic = wire.publish_topic(body)
                found = topic_role(topic)
                if user.role in ("operator", "admin") and found is not None and found[1] == "scanner":
                    topic = f"{topic}/{user.role}"
                elif user.bound_facility is not None and found is not None and found[1] == "scanner":
                    topic = facility_topic(found[0], user.bound_facility)  # may_publish allows only its own
                elif not may_publish(user, topic):
                    topic = refused_topic(user.username, topic)
                else:
                    topic = ""
                if topic:
                    upstream.write(wire.with_topic(first, body, topic))
                    await upstream.drain()
                    continue
            upstream.write(wire.packet(first, body))
            await upstream.drain()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(COPY_CHUNK):
        writer.write(data)
        await writer.drain()


async def run(port: int, broker_port: int, credentials: str) -> None:
    front = Front(broker_port, credentials)
    server = await asyncio.start_server(front.serve, "127.0.0.1", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--broker-port", type=int, required=True)
    parser.add_argument("--credentials", required=True)
    parser.add_argument("--data-dir", required=True, help="names the owner, so a restart can find this process")
    args = parser.parse_args()
    logging.basicConfig(level="INFO", format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    asyncio.run(run(args.port, args.broker_port, args.credentials))


if __name__ == "__main__":
    main()
