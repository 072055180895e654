"""The MQTT packets the login front reads and rewrites, checked against paho's own encoder."""

import socket

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from sealguard.ingest import mqtt_wire as wire


def _connect_bytes(protocol: MQTTProtocolVersion, username: str | None, password: str | None,
                   will: bool) -> bytes:  # fmt: skip
    """A CONNECT exactly as paho writes it to a socket (a listening one of the test's, on 127.0.0.1)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id="dev-1", protocol=protocol)
        if username is not None:
            client.username_pw_set(username, password)
        if will:
            client.will_set("sealguard/v1/acme/status", b"gone", qos=1)
        client.connect("127.0.0.1", server.getsockname()[1], keepalive=60)
        client.loop_write()
        conn, _ = server.accept()
        with conn:
            conn.settimeout(5)
            raw = conn.recv(65536)
        client.disconnect()
        client.loop_write()
    return raw


def _split(raw: bytes) -> tuple[int, bytes]:
    length, at = wire.decode_varint(raw, 1)
    assert at + length == len(raw)
    return raw[0], raw[at:]


@pytest.mark.parametrize("protocol", [paho.MQTTv31, paho.MQTTv311, paho.MQTTv5])
@pytest.mark.parametrize(("username", "password"), [(None, None), ("truck-7", "sg_secret"), ("sg_token", None)])
@pytest.mark.parametrize("will", [False, True])
def test_connect_round_trips_and_takes_a_new_login(
    protocol: MQTTProtocolVersion, username: str | None, password: str | None, will: bool
) -> None:
    raw = _connect_bytes(protocol, username, password, will)
    first, body = _split(raw)
    assert first >> 4 == wire.CONNECT
    c = wire.parse_connect(body)
    assert c.username == (username.encode() if username else None)
    assert c.password == (password.encode() if password else None)
    assert c.client_id == b"dev-1"
    assert wire.encode_connect(c) == raw  # nothing lost: the same bytes again
    relogged = wire.parse_connect(_split(wire.encode_connect(c.with_login(b"sg-17", b"sg_secret")))[1])
    assert (relogged.username, relogged.password) == (b"sg-17", b"sg_secret")
    assert (relogged.client_id, relogged.will, relogged.keepalive) == (c.client_id, c.will, c.keepalive)


def test_publish_topic_is_replaced_and_the_rest_kept() -> None:
    topic = b"sealguard/v1/acme/events"
    body = len(topic).to_bytes(2, "big") + topic + b"\x00\x07" + b'{"a":1}'
    first = 0x32  # PUBLISH, QoS 1
    assert wire.publish_topic(body) == "sealguard/v1/acme/events"
    out = wire.with_topic(first, body, "sealguard/v1/acme/events/admin")
    new_first, new_body = _split(out)
    assert new_first == first
    assert wire.publish_topic(new_body) == "sealguard/v1/acme/events/admin"
    assert new_body.endswith(b"\x00\x07" + b'{"a":1}')


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00\x04MQTT",
        b"\x00\x04HTTP\x04\x02\x00\x3c\x00\x00",
        b"\x00\x04MQTT\x09\x02\x00\x3c\x00\x00",
        b"\x00\x04MQTT\x04\x82\x00\x3c\x00\x00",
        b"\x00\x04MQTT\x04\x02\x00\x3c\x00\x00extra",
        b"\x00\x04MQTT\x05\x02\x00\x3c\xff\xff\xff\xff\x7f",
    ],
)
def test_malformed_connects_are_refused(body: bytes) -> None:
    with pytest.raises(wire.MalformedPacket):
        wire.parse_connect(body)


def test_varints_and_refusals() -> None:
    for value in (0, 127, 128, 16_383, 16_384, wire.MAX_REMAINING):
        assert wire.decode_varint(wire.encode_varint(value), 0) == (value, len(wire.encode_varint(value)))
    with pytest.raises(wire.MalformedPacket):
        wire.encode_varint(wire.MAX_REMAINING + 1)
    with pytest.raises(wire.MalformedPacket):
        wire.decode_varint(b"\xff\xff\xff\xff\x01", 0)
    assert wire.connack_refused(4) == b"\x20\x02\x00\x05"
    assert wire.connack_refused(5) == b"\x20\x03\x00\x87\x00"
