"""What partners' standards say beyond the event itself, read as evidence: who affixed a DCSA seal, an
update of a DCSA event, Traccar's per-lock attributes, speeds as precise as the sender knew them, and the
bounds on what one message may weigh."""

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from sealguard.schemas.foreign import dcsa, owntracks, traccar
from sealguard.schemas.foreign.common import MAX_NOTES, Translation, converted
from tests.helpers import Stream, rules_of, run

NOW = datetime(2026, 11, 30, tzinfo=UTC)
BOX = "MSKU9070323"  # a container number with a valid ISO 6346 check digit
SEAL_RULES = {"SEAL-001", "SEAL-003", "SEAL-008"}


def _tnt22(code: str, minute: int, seal: str, source: str, event_id: str | None = None) -> dict[str, Any]:
    at = f"2026-11-02T{6 + minute // 60:02d}:{minute % 60:02d}:00Z"
    return {"eventID": event_id or str(uuid.uuid4()), "eventType": "EQUIPMENT", "eventClassifierCode": "ACT",
            "eventDateTime": at, "eventCreatedDateTime": at, "equipmentEventTypeCode": code,
            "equipmentReference": BOX,
            "seals": [{"sealNumber": seal, "sealSource": source, "sealType": "BLT"}]}  # fmt: skip


def _bound(t: Translation) -> list[dict[str, Any]]:
    """The mapped events as the application binds them (a DCSA container is its own conveyance)."""
    return [{**m.event, "conveyance_id": m.direct} for m in t.mapped]


def _customs_inspection(reseal_source: str) -> list[str]:
    """A trip in transit; the carrier's T&T 2.2 feed reports the removal of its seal and a reseal."""
    s = Stream(BOX).prepared(depart=120)
    s.drive(120, 300, 27.5, 28.3)  # still on the way to the destination (28.5) throughout
    _, t = dcsa.from_events(orjson.dumps([_tnt22("RMVD", 200, "SG123456", "CAR"),
                                          _tnt22("RSEA", 215, "CUS7781", reseal_source)]), now=NOW)  # fmt: skip
    assert not t.rejected, t.rejected
    return rules_of(run(sorted(s.events + _bound(t), key=lambda e: e["occurred_at"])))


def test_a_reseal_by_customs_is_a_documented_reseal() -> None:
    """Before: one customs inspection reported by a carrier's T&T 2.2 feed raised three critical alerts."""
    assert not SEAL_RULES & set(_customs_inspection("CUS"))
    assert not SEAL_RULES & set(_customs_inspection("PHY"))
    by_carrier = set(_customs_inspection("CAR"))  # the carrier resealed: nothing documents it
    assert {"SEAL-008", "SEAL-001", "SEAL-003"} <= by_carrier


def test_the_authority_reference_names_the_source() -> None:
    eid = "0d6f2a2e-7c55-4c6b-8f35-4f2d1e0c9a11"
    _, t = dcsa.from_events(orjson.dumps([_tnt22("RSEA", 215, "CUS7781", "CUS", eid)]), now=NOW)
    (event,) = _bound(t)
    assert event["authority_ref"] == f"DCSA sealSource CUS, event {eid}"
    _, alone = dcsa.from_events(orjson.dumps([_tnt22("RMVD", 200, "SG123456", "CAR")]), now=NOW)
    assert _bound(alone)[0]["reason"] == "carrier_inspection"  # no reseal by an authority in the message


def test_an_update_of_a_dcsa_event_is_the_same_event() -> None:
    """Same eventID, a later eventUpdatedDateTime and another seal: the same event ids, so a duplicate."""

    def equipment(seal: str) -> dict[str, Any]:
        return {"equipmentReference": BOX, "seals": [{"number": seal, "source": "CAR"}]}

    first = {"eventID": "evt-42", "eventDateTime": "2026-11-02T11:00:00Z",
             "eventUpdatedDateTime": "2026-11-02T11:01:00Z", "equipmentDetails": equipment("SG1"),
             "eventClassification": {"eventTypeCode": "EQUIPMENT", "eventClassifierCode": "ACT",
                                     "equipmentEventTypeCode": "RMVD"}}  # fmt: skip
    update = {**first, "eventUpdatedDateTime": "2026-11-02T12:30:00Z", "equipmentDetails": equipment("SG2")}
    ids = [[m.event["event_id"] for m in dcsa.from_events(orjson.dumps({"events": [e]}), now=NOW)[1].mapped]
           for e in (first, update)]  # fmt: skip
    assert ids[0] == ids[1] and ids[0]


def test_traccar_locks_of_a_multi_lock_seal_are_seals_of_their_own() -> None:
    position = {"id": 7, "fixTime": "2026-11-02T08:00:00Z", "latitude": 29.6, "longitude": -98.2, "valid": True,
                "attributes": {"lock1Id": "a1b2c3d4e5", "lock1Locked": True, "lock1Battery": 81,
                               "lock2Id": "f6e5d4c3b2", "lock2Locked": False, "lock2Battery": 12,
                               "lock3Id": "0a0b0c0d0e", "lock3Seal": True, "lock3Battery": 3.9}}  # fmt: skip
    t = traccar.from_forward(orjson.dumps({"device": {"uniqueId": "el-1"}, "position": position}))
    beats = [m.event for m in t.mapped if m.event["kind"] == "seal.heartbeat"]
    assert [(b["seal_number"], b["locked"], b["battery_pct"]) for b in beats] == [
        ("a1b2c3d4e5", True, 81.0), ("f6e5d4c3b2", False, 12.0)]  # fmt: skip
    assert len({b["event_id"] for b in beats}) == 2
    assert any("lock 0a0b0c0d0e" in n.reason and "percentage" in n.reason for n in t.skipped)


@pytest.mark.parametrize(("value", "factor", "expected"), [(48.6, 1.852, 90.01), (10.0, 1.852, 18.5),
                                                         (5.0, 3.6, 18.0), (12.25, 1.852, 22.687)])  # fmt: skip
def test_speeds_are_as_precise_as_the_sender_knew(value: float, factor: float, expected: float) -> None:
    assert converted(value, factor) == expected


def test_no_message_makes_an_answer_larger_than_a_hundred_reasons() -> None:
    _, t = dcsa.from_events(b"[" + b"{}," * 999 + b"{}]", now=NOW)
    assert len(t.rejected) == MAX_NOTES and t.more_rejected > 1000
    assert "more problems" in t.rejected_notes()[-1].reason
    _, many = dcsa.from_events(b"[" + b"{}," * 5000 + b"{}]", now=NOW)
    assert many.too_large is not None and len(many.rejected) == 1  # refused before any item is read
    phone = owntracks.from_message(orjson.dumps([{"_type": "location"}] * 1001), "ann", "phone")
    assert phone.too_large is not None


def test_an_item_whose_copies_would_be_too_heavy_is_refused() -> None:
    big = {**_tnt22("RSEA", 215, "S0", "CAR"), "changeRemark": "x" * 300_000}
    big["seals"] = [{"sealNumber": f"S{i}", "sealSource": "CAR", "sealType": "BLT"} for i in range(60)]
    _, t = dcsa.from_events(orjson.dumps([big]), now=NOW)
    t.bound(256 * 1024, 16 * 1024 * 1024)
    assert t.too_large is not None and "per item" in t.too_large and not t.mapped
    big["changeRemark"] = "x" * 200_000
    _, t = dcsa.from_events(orjson.dumps([big]), now=NOW)
    t.bound(256 * 1024, 4 * 1024 * 1024)  # 60 copies of 200 KB
    assert t.too_large is not None and "would carry" in t.too_large
