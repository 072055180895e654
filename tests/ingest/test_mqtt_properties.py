"""paho's property tables shared (ingest.mqtt_properties): every packet's properties pack and read back
exactly as with paho's own constructor, and the shared tables cannot be changed through one packet."""

from typing import Any

import pytest
from paho.mqtt.exception import MQTTException
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sealguard.ingest.mqtt_properties import PAHO_INIT, share_property_tables


def _paho_own(packet_type: int) -> Any:
    props: Any = Properties.__new__(Properties)
    PAHO_INIT(props, packet_type)  # type: ignore[no-untyped-call]
    return props


def _filled(props: Any) -> Any:
    props.PayloadFormatIndicator = 1
    props.MessageExpiryInterval = 3600
    props.ContentType = "application/json"
    props.ResponseTopic = "sealguard/v1/acme/replies"
    props.CorrelationData = b"\x00\x01abc"
    props.UserProperty = ("tenant", "acme")
    props.UserProperty = ("trace", "7")
    props.TopicAlias = 3
    return props


def test_shared_tables_pack_and_read_back_as_paho_does() -> None:
    share_property_tables()
    share_property_tables()  # twice changes nothing
    ours, theirs = _filled(Properties(PacketTypes.PUBLISH)), _filled(_paho_own(PacketTypes.PUBLISH))  # type: ignore[no-untyped-call]
    assert ours.names is Properties(PacketTypes.CONNACK).names  # type: ignore[no-untyped-call]
    assert ours.pack() == theirs.pack()
    read: Any = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    read.unpack(ours.pack())
    back: Any = _paho_own(PacketTypes.PUBLISH)
    back.unpack(theirs.pack())
    assert read.json() == back.json() == theirs.json()
    assert read.UserProperty == [("tenant", "acme"), ("trace", "7")]


@pytest.mark.parametrize("packet_type", [PacketTypes.CONNECT, PacketTypes.CONNACK, PacketTypes.SUBSCRIBE,
                                         PacketTypes.PUBACK, PacketTypes.DISCONNECT])  # fmt: skip
def test_every_packet_type_keeps_paho_rules(packet_type: int) -> None:
    share_property_tables()
    ours: Any = Properties(packet_type)  # type: ignore[no-untyped-call]
    theirs = _paho_own(packet_type)
    for name, value in [("SessionExpiryInterval", 60), ("ReasonString", "why"), ("SubscriptionIdentifier", 5),
                        ("ReceiveMaximum", 10), ("TopicAlias", 2), ("MaximumQoS", 1)]:  # fmt: skip
        outcome = []
        for props in (ours, theirs):
            try:
                setattr(props, name, value)
                outcome.append("set")
            except MQTTException as exc:
                outcome.append(str(exc))
        assert outcome[0] == outcome[1], name
    assert ours.pack() == theirs.pack()


def test_one_packet_cannot_change_the_tables_of_another() -> None:
    share_property_tables()
    props: Any = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    with pytest.raises(TypeError):
        props.names["Made Up"] = 99
    with pytest.raises(TypeError):
        props.properties[1] = (0, [])
    with pytest.raises(MQTTException):
        props.MadeUp = 1
