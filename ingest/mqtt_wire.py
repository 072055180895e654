"""The few MQTT packets the login front reads and rewrites (MQTT 3.1, 3.1.1 and 5). Pure: bytes only.

Only CONNECT is decoded whole (to read and replace the login) and PUBLISH only as far as its topic;
every other packet passes as it came. Anything malformed raises :class:`MalformedPacket`.
"""

import struct
from dataclasses import dataclass, replace

from sealguard.errors import SealguardError

CONNECT, CONNACK, PUBLISH = 1, 2, 3
MAX_REMAINING = 268_435_455  # the largest length MQTT's four-byte variable integer can say


class MalformedPacket(SealguardError, ValueError):
    """Bytes that are not the MQTT packet they claim to be."""


def encode_varint(value: int) -> bytes:
    if not 0 <= value <= MAX_REMAINING:
        raise MalformedPacket(f"length {value} cannot be encoded")
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def decode_varint(data: bytes, at: int) -> tuple[int, int]:
    """The value at ``data[at:]`` and the index after it."""
    value, shift = 0, 0
    for i in range(4):
        if at + i >= len(data):
            raise MalformedPacket("truncated variable-length integer")
        byte = data[at + i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at + i + 1
        shift += 7
    raise MalformedPacket("variable-length integer longer than four bytes")


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + encode_varint(len(body)) + body


def _field(data: bytes, at: int) -> tuple[bytes, int]:
    if at + 2 > len(data):
        raise MalformedPacket("truncated length-prefixed field")
    (size,) = struct.unpack_from("!H", data, at)
    end = at + 2 + size
    if end > len(data):
        raise MalformedPacket("field runs past the packet")
    return data[at + 2 : end], end


def _put(value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise MalformedPacket("field longer than 65535 bytes")
    return struct.pack("!H", len(value)) + value


@dataclass(frozen=True, slots=True)
class Connect:
    protocol: bytes  # b"MQTT" or b"MQIsdp"
    level: int  # 3, 4 or 5
    flags: int  # the connect flags, username and password bits included
    keepalive: int
    properties: bytes  # MQTT 5, raw (length prefix excluded)
    client_id: bytes
    will: bytes  # will properties, topic and payload, raw and in wire order (empty without a will)
    username: bytes | None
    password: bytes | None

    def with_login(self, username: bytes, password: bytes | None) -> "Connect":
        flags = (self.flags | 0x80) & ~0x40
        if password is not None:
            flags |= 0x40
        return replace(self, flags=flags, username=username, password=password)


def parse_connect(body: bytes) -> Connect:
    protocol, at = _field(body, 0)
    if protocol not in (b"MQTT", b"MQIsdp") or at + 4 > len(body):
        raise MalformedPacket("not a CONNECT of MQTT 3.1, 3.1.1 or 5")
    level, flags = body[at], body[at + 1]
    (keepalive,) = struct.unpack_from("!H", body, at + 2)
    at += 4
    if level not in (3, 4, 5):
        raise MalformedPacket(f"unknown protocol level {level}")
    properties = b""
    if level == 5:
        size, start = decode_varint(body, at)
        properties, at = body[start : start + size], start + size
    client_id, at = _field(body, at)
    will_start = at
    if flags & 0x04:
        if level == 5:
            size, start = decode_varint(body, at)
            at = start + size
        _, at = _field(body, at)  # will topic
        _, at = _field(body, at)  # will payload
    will = body[will_start:at]
    username = password = None
    if flags & 0x80:
        username, at = _field(body, at)
    if flags & 0x40:
        password, at = _field(body, at)
    if at != len(body):
        raise MalformedPacket("bytes left over after the CONNECT payload")
    return Connect(protocol, level, flags, keepalive, properties, client_id, will, username, password)


def encode_connect(c: Connect) -> bytes:
    body = _put(c.protocol) + bytes([c.level, c.flags]) + struct.pack("!H", c.keepalive)
    if c.level == 5:
        body += encode_varint(len(c.properties)) + c.properties
    body += _put(c.client_id) + c.will
    if c.flags & 0x80:
        body += _put(c.username or b"")
    if c.flags & 0x40:
        body += _put(c.password or b"")
    return packet(CONNECT << 4, body)


def connack_refused(level: int) -> bytes:
    """CONNACK 'not authorised' in the client's protocol version."""
    if level == 5:
        return packet(CONNACK << 4, bytes([0x00, 0x87, 0x00]))
    return packet(CONNACK << 4, bytes([0x00, 0x05]))


def publish_topic(body: bytes) -> str:
    raw, _ = _field(body, 0)
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        raise MalformedPacket("topic is not UTF-8") from exc


def with_topic(first: int, body: bytes, topic: str) -> bytes:
    """The PUBLISH packet with its topic replaced (packet id, properties and payload unchanged)."""
    _, rest = _field(body, 0)
    return packet(first, _put(topic.encode()) + body[rest:])


PUBACK = 4


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    qos: int
    packet_id: int | None  # QoS 1 and 2 only
    payload: bytes


def parse_publish(first: int, body: bytes, level: int) -> Publish:
    """A PUBLISH packet's topic, QoS, packet id and payload (MQTT 5 properties skipped)."""
    qos = (first >> 1) & 0x03
    if qos == 3:
        raise MalformedPacket("PUBLISH with QoS 3")
    raw, at = _field(body, 0)
    try:
        topic = raw.decode()
    except UnicodeDecodeError as exc:
        raise MalformedPacket("topic is not UTF-8") from exc
    packet_id = None
    if qos:
        if at + 2 > len(body):
            raise MalformedPacket("PUBLISH without its packet id")
        (packet_id,) = struct.unpack_from("!H", body, at)
        at += 2
    if level == 5:
        length, at = decode_varint(body, at)
        at += length
        if at > len(body):
            raise MalformedPacket("PUBLISH properties run past the packet")
    return Publish(topic, qos, packet_id, body[at:])


def puback(packet_id: int) -> bytes:
    """PUBACK, success, in any protocol version (MQTT 5 omits the reason code when it is success)."""
    return packet(PUBACK << 4, struct.pack("!H", packet_id))
