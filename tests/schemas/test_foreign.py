"""Partner formats, from their real samples: what each maps to, what it skips, and what it refuses and why.
Every mapped event must be a valid contract event once bound to a conveyance."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from sealguard.schemas.decode import decode_object
from sealguard.schemas.foreign import dcsa, epcis, owntracks, traccar
from sealguard.schemas.foreign.common import Translation

INTEROP = Path(__file__).parent.parent / "fixtures" / "interop"
DCSA = INTEROP / "dcsa/Conformance-Gateway/tnt/src/main/resources/standards/tnt/messages"
OWNTRACKS = INTEROP / "owntracks/json-schema/test"
TRACCAR = INTEROP / "traccar/forwarding"
EPCIS = INTEROP / "epcis"
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def _valid(t: Translation) -> list[dict[str, Any]]:
    """Each mapped event, bound to a conveyance, passes the contract's own validation."""
    events = []
    for m in t.mapped:
        event = {**m.event, "conveyance_id": m.direct or "TRL-1"}
        decode_object(event)
        assert event["foreign"]["payload"], "the foreign item is kept with the event"
        events.append(event)
    return events


def _kinds(t: Translation) -> list[str]:
    return [m.event["kind"] for m in t.mapped]


# --- Traccar -------------------------------------------------------------------------------------------


def test_traccar_position_is_a_fix_with_knots_as_kph() -> None:
    t = traccar.from_forward((TRACCAR / "position.json").read_bytes())
    (event,) = _valid(t)
    assert event["kind"] == "gps.position" and event["event_id"] == "traccar:861230043907626:p:40213"
    assert event["speed_kph"] == 90.01 and event["heading"] == 91.0  # 48.6 knots, without float noise
    assert t.mapped[0].device == "traccar:861230043907626"


def test_traccar_elock_position_is_a_fix_a_tamper_and_a_heartbeat_of_the_lock() -> None:
    t = traccar.from_forward((TRACCAR / "position-elock.json").read_bytes())
    events = _valid(t)
    assert _kinds(t) == ["gps.position", "seal.alarm", "seal.heartbeat"]
    assert events[1]["alarm"] == "tamper" and events[1]["lat"] == 29.61
    assert events[2]["locked"] is False and events[2]["battery_pct"] == 64
    assert all(m.seal_from_device for m in t.mapped[1:])


def test_traccar_alarm_event_maps_door_and_skips_sos_and_matches_the_position_path() -> None:
    t = traccar.from_forward((TRACCAR / "event-alarm.json").read_bytes())
    events = _valid(t)
    assert [(e["kind"], e["alarm"]) for e in events] == [("seal.alarm", "opened")]
    assert [n.reason for n in t.skipped] == ["alarm 'sos': not a seal or lock alarm"]
    # the same alarm forwarded inside the position has the same id: stored once
    body = orjson.loads((TRACCAR / "event-alarm.json").read_bytes())
    via_position = traccar.from_forward(orjson.dumps({"position": body["position"], "device": body["device"]}))
    assert events[0]["event_id"] in {m.event["event_id"] for m in via_position.mapped}


def test_every_seal_alarm_traccar_maps_is_one_traccar_defines() -> None:
    derived = orjson.loads((INTEROP / "traccar/derived/traccar-position-keys-alarms-event-types.json").read_bytes())
    names = {v["value"] if isinstance(v, dict) else v for v in derived["alarm_values"].values()}
    assert set(traccar.SEAL_ALARMS) | {"lock"} <= names
    keys = {v["value"] for v in derived["position_attribute_keys"].values()}
    assert {"lock", "batteryLevel", "alarm"} <= keys


@pytest.mark.parametrize(
    ("sample", "skipped"),
    [("event-geofence.json", "geofenceExit"), ("position-invalid-fix.json", "not a valid GPS fix")],
)
def test_traccar_things_without_a_seal_or_position_meaning_are_skipped(sample: str, skipped: str) -> None:
    t = traccar.from_forward((TRACCAR / sample).read_bytes())
    assert not t.mapped and not t.rejected and skipped in t.skipped[0].reason


@pytest.mark.parametrize(
    ("sample", "path", "reason"),
    [
        ("wrong-no-device.json", "$.device.uniqueId", "missing"),
        ("wrong-fix-time.json", "$.position.fixTime", "ISO 8601"),
        ("wrong-latitude.json", "$.position", "latitude and longitude must be numbers"),
    ],
)
def test_traccar_wrong_bodies_are_refused_with_the_field(sample: str, path: str, reason: str) -> None:
    t = traccar.from_forward((TRACCAR / sample).read_bytes())
    assert not t.mapped and t.rejected[0].path == path and reason in t.rejected[0].reason


def test_osmand_query_and_traccar_client_json() -> None:
    q = traccar.from_osmand({"id": "358240051111110", "lat": "29.5", "lon": "-98.4", "timestamp": "1793613600",
                             "speed": "10", "bearing": "180", "batt": "77", "accuracy": "8"})  # fmt: skip
    (e,) = _valid(q)
    assert e["occurred_at"] == "2026-11-02T10:00:00Z" and e["speed_kph"] == 18.5
    assert q.mapped[0].device == "traccar:358240051111110"
    assert traccar.from_osmand({"id": "358240051111110", "lat": "29.5", "lon": "-98.4",
                                "timestamp": "1793613600"}).mapped[0].event["event_id"] == e["event_id"]  # fmt: skip
    body = {"device_id": "358240051111110", "location": {"timestamp": "2026-11-02T10:00:00Z", "coords": {
        "latitude": 29.5, "longitude": -98.4, "speed": 5.0, "heading": 90, "accuracy": 4}}}  # fmt: skip
    (j,) = _valid(traccar.from_osmand({}, orjson.dumps(body)))
    assert j["speed_kph"] == 18.0
    wrong = traccar.from_osmand({"id": "x", "lat": "95", "lon": "0", "timestamp": "1793613600"})
    assert wrong.rejected and "lat and lon" in wrong.rejected[0].reason


# --- OwnTracks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", ["l.json", "l2.json", "location-5s.json", "location-short.json",
                                    "location-sk.json", "transition.json"])  # fmt: skip
def test_owntracks_locations_and_transitions_are_fixes(sample: str) -> None:
    t = owntracks.from_message((OWNTRACKS / sample).read_bytes(), "anna", "phone")
    (e,) = _valid(t)
    raw = orjson.loads((OWNTRACKS / sample).read_bytes())
    assert e["lat"] == raw["lat"] and e["occurred_at"] == datetime.fromtimestamp(raw["tst"], UTC).isoformat()[:19] + "Z"
    assert t.mapped[0].device == "owntracks:anna/phone"
    if "vel" in raw:
        assert e["speed_kph"] == raw["vel"]


def test_owntracks_array_and_lwt() -> None:
    t = owntracks.from_message((OWNTRACKS / "array.json").read_bytes(), "anna", "phone")
    assert _kinds(t) == ["gps.position"] and "lwt" in t.skipped[0].reason
    for sample in ("lwt.json", "lwt-extra.json"):
        lwt = owntracks.from_message((OWNTRACKS / sample).read_bytes(), "anna", "phone")
        assert not lwt.mapped and not lwt.rejected and lwt.skipped


@pytest.mark.parametrize(
    ("sample", "reason"),
    [("location-lat-missing.json", "lat and lon"), ("transition-illegal-lat.json", "lat and lon"),
     ("e.json", "encrypted")],
)  # fmt: skip
def test_owntracks_invalid_payloads_are_refused(sample: str, reason: str) -> None:
    t = owntracks.from_message((OWNTRACKS / sample).read_bytes(), "anna", "phone")
    assert not t.mapped and reason in t.rejected[0].reason


def test_owntracks_names_are_confined() -> None:
    assert owntracks.from_message(b'{"_type":"location","lat":1,"lon":2,"tst":1}', "a/b", "c").rejected
    assert owntracks.from_message(b'{"_type":"location","lat":1,"lon":2,"tst":1}', "", "c").rejected


# --- DCSA ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "version", "expected"),
    [
        ("tnt-220-response-wrong-structure.json", "2.2", ["$[0].eventID: missing",
                                                          "not properties of a T&T 2.2 event: someEvents"]),
        ("tnt-220-response-wrong-date-times.json", "2.2", [
            "$[1].eventCreatedDateTime: missing", "$[2].eventDateTime: missing",
            "$[3].eventCreatedDateTime: not an RFC 3339 date-time", "$[4].eventDateTime: not an RFC 3339 date-time",
            "$[5].eventCreatedDateTime: 1999-01-01T14:12:56Z is before eventDateTime",
            "$[6].eventCreatedDateTime: 2099-01-01T14:12:56Z is in the future"]),
        ("tnt-220-response-wrong-attribute-values.json", "2.2", [
            "$[0].eventID: missing", "XY is not an ISO 3166 country code",
            "contradicts the transport call's UNLocationCode", "APZU2134567: the ISO 6346 check digit should be 4"]),
        ("tnt-220-response-wrong-event-ids.json", "2.2", [
            "$[0].eventID: must be a string", "$[1].eventID: must be a UUID",
            "$[3].eventID: 3cecb101-7a1a-43a4-9d62-e88a131651e8 is also the eventID of $[2]",
            "$[6].eventID: af7728dc-0e1e-42d2-ad78-61c5c0c25878 is also the eventID of $[5]"]),
    ],
)  # fmt: skip
def test_dcsa_conformance_wrong_messages_are_refused_naming_what_is_wrong(
    sample: str, version: str, expected: list[str]
) -> None:
    got_version, t = dcsa.from_events((DCSA / sample).read_bytes(), now=NOW)
    said = [f"{n.path}: {n.reason}" for n in t.rejected]
    assert got_version == version
    for text in expected:
        assert any(text in line for line in said), f"{text!r} not in {said}"


@pytest.mark.parametrize("sample", ["tnt-220-response.json", "tnt-300-response.json", "tnt-300-response-nextpage.json"])
def test_dcsa_conformance_right_messages_are_accepted(sample: str) -> None:
    _, t = dcsa.from_events((DCSA / sample).read_bytes(), now=NOW)
    assert not t.rejected
    events = _valid(t)
    assert [e["kind"] for e in events] == ["gps.position"]  # the one ACT event with coordinates
    assert any("forecast" in n.reason for n in t.skipped) or sample == "tnt-300-response.json"


def _dcsa3(code: str, seals: list[dict[str, Any]], **extra: Any) -> bytes:
    event = {"eventID": f"evt-{code}", "eventDateTime": "2026-11-02T11:00:00Z",
             "eventUpdatedDateTime": "2026-11-02T11:01:00Z",
             "eventClassification": {"eventTypeCode": "EQUIPMENT", "eventClassifierCode": "ACT",
                                     "equipmentEventTypeCode": code},
             "eventLocation": {"geoCoordinate": {"latitude": "29.61", "longitude": "-98.21"}},
             "equipmentDetails": {"equipmentReference": "APZU4812090", "seals": seals}, **extra}  # fmt: skip
    return orjson.dumps({"events": [event]})


def test_dcsa_seal_events() -> None:
    seal = [{"number": "SG7001", "source": "CAR", "type": "BLT"}]
    _, insp = dcsa.from_events(_dcsa3("INSP", seal), now=NOW)
    assert [e["kind"] for e in _valid(insp)] == ["gps.position", "seal.verified"]
    _, rmvd = dcsa.from_events(_dcsa3("RMVD", seal), now=NOW)
    assert _valid(rmvd)[1]["reason"] == "carrier_inspection"
    customs = {"shipmentDetails": {"documentReference": {"typeCode": "CUC", "reference": "CBP-2026-118"}}}
    _, gov = dcsa.from_events(_dcsa3("RMVD", seal, **customs), now=NOW)
    removed = _valid(gov)[1]
    assert removed["reason"] == "government_inspection" and removed["authority_ref"] == "CUC CBP-2026-118"
    _, rsea = dcsa.from_events(_dcsa3("RSEA", seal), now=NOW)
    assert {k: _valid(rsea)[1][k] for k in ("kind", "seal_class", "seal_type")} == {
        "kind": "seal.affixed", "seal_class": "H", "seal_type": "bolt"}  # fmt: skip
    _, none = dcsa.from_events(_dcsa3("RMVD", []), now=NOW)
    assert "names no seal" in none.rejected[0].reason
    _, est = dcsa.from_events(_dcsa3("RMVD", seal).replace(b'"ACT"', b'"EST"'), now=NOW)
    assert not est.mapped and "forecast" in est.skipped[0].reason
    retracted = orjson.dumps({"events": [{"eventID": "evt-RMVD", "isRetracted": True}]})
    _, back = dcsa.from_events(retracted, now=NOW)
    assert not back.mapped and not back.rejected and "retracted" in back.skipped[0].reason


def test_dcsa_iot_door_opened_is_an_opening_of_the_containers_seal() -> None:
    event = {
        "eventID": "evt-dro",
        "eventDateTime": "2026-11-02T11:00:00Z",
        "eventUpdatedDateTime": "2026-11-02T11:00:00Z",
        "eventClassification": {"eventTypeCode": "IOT", "eventClassifierCode": "ACT", "iotEventTypeCode": "DETC"},
        "iotDetails": {"iotEventCode": "DRO"},
        "equipmentDetails": {"equipmentReference": "APZU4812090"},
    }
    _, t = dcsa.from_events(orjson.dumps({"events": [event]}), now=NOW)
    (e,) = _valid(t)
    assert e["kind"] == "seal.alarm" and e["alarm"] == "opened" and t.mapped[0].seal_from_device
    assert t.mapped[0].direct == "APZU4812090"


# --- EPCIS ---------------------------------------------------------------------------------------------


def test_epcis_closed_inspected_and_alarm() -> None:
    t = epcis.from_document((EPCIS / "container-sealed-and-inspected.json").read_bytes(), now=NOW)
    events = _valid(t)
    assert [e["kind"] for e in events] == ["gps.position", "seal.affixed", "gps.position", "seal.verified",
                                           "gps.position", "seal.alarm"]  # fmt: skip
    assert events[1]["seal_number"] == "SG7001" and events[1]["seal_class"] == "H"
    assert events[3]["intact"] is False
    assert events[4]["lat"] == 29.61 and events[4]["lon"] == -98.19
    assert {m.direct for m in t.mapped} == {"CSQU3054383"}
    assert "AggregationEvent" in t.skipped[0].reason
    again = epcis.from_document((EPCIS / "container-sealed-and-inspected.json").read_bytes(), now=NOW)
    assert [m.event["event_id"] for m in again.mapped] == [e["event_id"] for e in events]


def test_epcis_error_declaration_and_wrong_documents() -> None:
    declared = epcis.from_document((EPCIS / "error-declaration.json").read_bytes(), now=NOW)
    assert not declared.mapped and "error declaration" in declared.skipped[0].reason
    version = epcis.from_document((EPCIS / "wrong-version.json").read_bytes(), now=NOW)
    assert "EPCIS 2.0 documents only" in version.rejected[0].reason
    wrong = epcis.from_document((EPCIS / "wrong-event.json").read_bytes(), now=NOW)
    said = {n.path.rsplit(".", 1)[1]: n.reason for n in wrong.rejected}
    assert set(said) == {"eventTime", "eventTimeZoneOffset", "action"}
