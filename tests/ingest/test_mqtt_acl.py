"""Who may publish and subscribe where on the MQTT broker, and the files that say so."""

import pytest

from sealguard.ingest.admit import KIND_ROLES, kind_refusal
from sealguard.ingest.mqtt_acl import (
    MqttUser,
    acl_file,
    may_publish,
    may_subscribe,
    owntracks_topic,
    password_file,
    reaches_events,
    topic_for,
    topic_role,
)

SCANNER = MqttUser(1, "acme", "scanner", "h1", "$7$x")
OPERATOR = MqttUser(2, "acme", "operator", "h2", "$7$y")
ADMIN_ALL = MqttUser(3, "*", "admin", "h3", "$7$z")
OLD = MqttUser(4, "acme", "scanner", "h4", None)


@pytest.mark.parametrize(
    ("user", "topic", "allowed"),
    [
        (SCANNER, "sealguard/v1/acme/events", True),
        (SCANNER, "sealguard/v1/globex/events", False),
        (SCANNER, "sealguard/v1/acme/events/operator", False),
        (SCANNER, "sealguard/v1/acme/alerts", False),
        (OPERATOR, "sealguard/v1/acme/events/operator", True),
        (OPERATOR, "sealguard/v1/acme/events/admin", False),
        (ADMIN_ALL, "sealguard/v1/globex/events/admin", True),
        (ADMIN_ALL, "sealguard/v1/globex/alerts", False),
        (SCANNER, "sealguard/v1/acme/events/extra/level", False),
        (SCANNER, "sealguard/v1/acme/owntracks/anna/phone", True),  # OwnTracks apps of the tenant
        (SCANNER, "sealguard/v1/globex/owntracks/anna/phone", False),  # never into another tenant
        (SCANNER, "sealguard/v1/acme/owntracks/anna", False),
        (SCANNER, "sealguard/v1/acme/owntracks/anna/phone/extra", False),
        (SCANNER, "owntracks/sg-1/phone", True),  # OwnTracks' default topic, as its own MQTT user only
        (SCANNER, "owntracks/sg-2/phone", False),
        (SCANNER, "owntracks/anna/phone", False),
    ],
)
def test_publish(user: MqttUser, topic: str, allowed: bool) -> None:
    assert may_publish(user, topic) is allowed


@pytest.mark.parametrize(
    ("user", "topic_filter", "allowed"),
    [
        (OPERATOR, "#", False),
        (OPERATOR, "sealguard/#", False),
        (OPERATOR, "+/v1/+/events", False),
        (OPERATOR, "sealguard/v1/acme/events/+", False),
        (OPERATOR, "$share/g/sealguard/v1/+/events", False),
        (OPERATOR, "sealguard/v1/acme/owntracks/#", False),  # nobody reads another phone's positions
        (OPERATOR, "sealguard/v1/acme/owntracks/+/+", False),
        (OPERATOR, "owntracks/#", False),
        (OPERATOR, "sealguard/v1/acme/alerts", True),
        (OPERATOR, "sealguard/v1/acme/alerts/#", True),
        (OPERATOR, "sealguard/v1/+/alerts", False),  # wider than its tenant
        (SCANNER, "sealguard/v1/acme/alerts", False),
    ],
)
def test_subscribe(user: MqttUser, topic_filter: str, allowed: bool) -> None:
    assert may_subscribe(user, topic_filter) is allowed


def test_topics_carry_tenant_and_role() -> None:
    assert topic_role("sealguard/v1/acme/events") == ("acme", "scanner")
    assert topic_role("sealguard/v1/acme/events/operator") == ("acme", "operator")
    assert topic_role("sealguard/v1/acme/events/root") is None
    assert topic_role("sealguard/v1/+/events") is None
    assert topic_role("sealguard/v1//events") is None
    assert reaches_events("sealguard/v1/acme/#") and not reaches_events("sealguard/v1/acme/alerts/#")
    assert topic_for("acme", "trip.planned", KIND_ROLES) == "sealguard/v1/acme/events/operator"
    assert topic_for("acme", "facility.registered", KIND_ROLES) == "sealguard/v1/acme/events/admin"
    assert topic_for("acme", "gps.position", KIND_ROLES) == "sealguard/v1/acme/events"
    assert owntracks_topic("sealguard/v1/acme/owntracks/anna/phone") == ("acme", "anna", "phone")
    assert owntracks_topic("owntracks/sg-1/phone") == (None, "sg-1", "phone")
    for topic in ("sealguard/v1/+/owntracks/anna/phone", "sealguard/v1/acme/owntracks//phone",
                  "owntracks/anna", "sealguard/v1/acme/owntracks/anna/#"):  # fmt: skip
        assert owntracks_topic(topic) is None


def test_kinds_by_role() -> None:
    assert (
        kind_refusal("trip.planned", "scanner")
        == "kind: trip.planned needs the operator role; this sender is a scanner"
    )
    assert kind_refusal("trip.planned", "operator") is None
    assert kind_refusal("facility.registered", "operator") is not None
    assert kind_refusal("facility.registered", None) is None  # a trusted transport
    assert kind_refusal("seal.verified", "scanner") is None


def test_files_name_every_live_token_with_a_hash() -> None:
    users = [SCANNER, OPERATOR, ADMIN_ALL, OLD]
    passwd = password_file(users, "$7$m", "mon")
    assert passwd.splitlines() == ["mon:$7$m", "sg-1:$7$x", "sg-2:$7$y", "sg-3:$7$z"]
    acl = acl_file(users, "mon")
    assert "user mon\ntopic readwrite #" in acl
    assert "user sg-1\ntopic write sealguard/v1/acme/events\n" in acl
    assert "topic write sealguard/v1/+/events/admin" in acl
    assert "sg-4" not in acl  # made before MQTT hashes: not admitted until re-created


def test_a_facility_bound_scanner_publishes_on_its_facility_topic_only() -> None:
    from sealguard.ingest.mqtt_acl import facility_topic, refused_of, refused_topic, topic_facility

    dock = MqttUser(9, "acme", "scanner", "h9", "$7$q", facility="DOCK 1/north")
    own = facility_topic("acme", "DOCK 1/north")
    assert own == "sealguard/v1/acme/facility/DOCK%201%2Fnorth/events"
    assert topic_facility(own) == ("acme", "DOCK 1/north")
    assert may_publish(dock, own) and may_publish(dock, "owntracks/sg-9/phone")
    assert not may_publish(dock, "sealguard/v1/acme/events")  # the tenant-wide topic is not its
    assert not may_publish(dock, facility_topic("acme", "DOCK-2"))
    assert not may_publish(dock, "sealguard/v1/acme/owntracks/ann/phone")  # carries no token of its own
    assert may_publish(dock, refused_topic("sg-9", "sealguard/v1/acme/events"))
    assert not may_publish(dock, refused_topic("sg-1", "x"))
    assert refused_of("sealguard/refused/sg-9/owntracks/sg-1/p") == ("sg-9", "owntracks/sg-1/p")
    assert not may_subscribe(OPERATOR, "sealguard/v1/acme/facility/+/events")
    assert not may_subscribe(OPERATOR, "sealguard/refused/#")
    assert f"topic write {own}" in acl_file([dock])
