"""paho-mqtt's MQTT 5 property tables, built once instead of for every packet.

paho makes a ``Properties`` object for every MQTT 5 PUBLISH it reads, and its ``__init__`` builds the
same tables each time: a dict of 27 property names, a dict of 27 (type, packets) entries and a list of
type names. Profiled in ``sealguard up`` draining an MQTT backlog (py-spy), that was a quarter of the
process's time. The tables are only ever read, so every instance can share one frozen copy; what a
``Properties`` object holds of its own (its packet type and the properties set on it) is unchanged.
"""

from types import MappingProxyType
from typing import Any

from paho.mqtt import properties as paho_properties
from paho.mqtt.packettypes import PacketTypes

_SHARED = "_sealguard_shared_tables"
PAHO_INIT = paho_properties.Properties.__init__  # paho's own, kept for the test that compares the two


def share_property_tables() -> None:
    """Make every later ``Properties(packetType)`` share frozen tables. Idempotent; call before paho
    reads its first packet."""
    cls: Any = paho_properties.Properties
    if getattr(cls, _SHARED, False):
        return
    template = cls(PacketTypes.PUBLISH)
    types = tuple(template.types)
    names = MappingProxyType(dict(template.names))
    table = MappingProxyType({ident: (kind, tuple(packets)) for ident, (kind, packets) in template.properties.items()})

    def shared_init(self: Any, packetType: int) -> None:  # noqa: N803 (paho's own parameter name)
        setattr_ = object.__setattr__  # paho's __setattr__ would treat these as property names
        setattr_(self, "packetType", packetType)
        setattr_(self, "types", types)
        setattr_(self, "names", names)
        setattr_(self, "properties", table)

    cls.__init__ = shared_init
    setattr(cls, _SHARED, True)
