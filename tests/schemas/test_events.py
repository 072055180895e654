"""The contract's models: what is accepted, and that every rejection names the field and the reason."""

from typing import Any

import pytest

from sealguard.schemas import GpsPosition, InvalidEvent, decode_event, decode_object
from sealguard.schemas.iso6346 import check_digit, is_valid_container_number


def _gps(**over: Any) -> dict[str, Any]:
    base = {"event_id": "g1", "kind": "gps.position", "occurred_at": "2026-11-02T08:00:00Z",
            "conveyance_id": "TRL-1", "lat": 27.5, "lon": -99.0}  # fmt: skip
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    ("number", "valid"),
    [("MSCU1234566", True), ("mscu1234566", True), ("MSCU1234567", False), ("CSQU3054383", True),
     ("CSQU3054384", False), ("TRL-1001", True)],
)  # fmt: skip
def test_iso6346_check_digit(number: str, valid: bool) -> None:
    if len(number) == 11:
        assert is_valid_container_number(number) is valid
    ok = True
    try:
        decode_object(_gps(conveyance_id=number))
    except InvalidEvent as exc:
        ok = False
        assert "conveyance_id" in exc.reason and "check digit" in exc.reason
    assert ok is valid


def test_check_digit_known_value() -> None:
    assert check_digit("CSQU305438") == 3  # the example of ISO 6346 itself


@pytest.mark.parametrize(
    ("over", "field", "words"),
    [
        ({"lat": 91}, "lat", "less than or equal to 90"),
        ({"lon": "-99"}, "lon", "valid number"),
        ({"occurred_at": "2026-11-02T08:00:00"}, "occurred_at", "timezone"),
        ({"occurred_at": "yesterday"}, "occurred_at", "datetime"),
        ({"speed_kph": -1}, "speed_kph", "greater than or equal to 0"),
        ({"heading": 361}, "heading", "360"),
        ({"conveyance_id": "has space"}, "conveyance_id", "pattern"),
        ({"conveyance_id": None}, "conveyance_id", "required"),
        ({"event_id": ""}, "event_id", "at least 1"),
        ({"kind": "gps.teleport"}, "kind", "unknown kind 'gps.teleport'; expected one of"),
        ({"source": {"device_id": 5}}, "source.device_id", "valid string"),
    ],
)
def test_rejections_name_field_and_reason(over: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        decode_object(_gps(**over))
    assert words in info.value.reason
    if field:
        assert info.value.reason.startswith(f"{field}:") or f"; {field}:" in info.value.reason


def test_not_json_and_not_object() -> None:
    with pytest.raises(InvalidEvent, match="not valid JSON"):
        decode_event(b"{nope")
    with pytest.raises(InvalidEvent):
        decode_event(b"[1, 2]")


def test_extra_fields_kept_and_defaults() -> None:
    event = decode_object(_gps(firmware="1.2"))
    assert isinstance(event, GpsPosition)
    assert event.tenant == "default" and event.model_extra == {"firmware": "1.2"}


def test_seal_removed_authority_required_for_government() -> None:
    base = {"event_id": "r", "kind": "seal.removed", "occurred_at": "2026-11-02T08:00:00Z",
            "conveyance_id": "TRL-1", "seal_number": "S", "reason": "government_inspection"}  # fmt: skip
    with pytest.raises(InvalidEvent, match="authority_ref"):
        decode_object(base)
    decode_object(base | {"authority_ref": "CBP-2026-1"})


def test_inspection_unknown_point_is_invalid() -> None:
    base = {"event_id": "i", "kind": "inspection.completed", "occurred_at": "2026-11-02T08:00:00Z",
            "conveyance_id": "TRL-1", "inspection_type": "container_7pt",
            "points": {"fan_housing": "pass"}}  # fmt: skip
    with pytest.raises(InvalidEvent, match="fan_housing not a point of container_7pt"):
        decode_object(base)
    decode_object(base | {"inspection_type": "reefer_8pt"})


def test_places_polygon_or_circle() -> None:
    plan = {"event_id": "p", "kind": "trip.planned", "occurred_at": "2026-11-02T08:00:00Z", "conveyance_id": "T",
            "trip_id": "T-1", "seal_numbers": ["S"],
            "origin": {"facility_id": "A", "polygon": [[0, 0], [0, 1], [1, 1]]},
            "destination": {"facility_id": "B", "center": [1, 1], "radius_m": 100}}  # fmt: skip
    decode_object(plan)
    with pytest.raises(InvalidEvent, match="radius_m"):
        decode_object(plan | {"destination": {"facility_id": "B", "center": [1, 1], "radius_m": -5}})
    with pytest.raises(InvalidEvent, match="polygon"):
        decode_object(plan | {"origin": {"facility_id": "A", "polygon": [[0, 0], [0, 1]]}})
    with pytest.raises(InvalidEvent, match="seal_numbers"):
        decode_object(plan | {"seal_numbers": []})


def test_conveyance_optional_only_on_inventory_and_facilities() -> None:
    decode_object({"event_id": "s", "kind": "seal.issued", "occurred_at": "2026-11-02T08:00:00Z",
                   "seal_number": "S1", "facility_id": "F"})  # fmt: skip
    decode_object({"event_id": "f", "kind": "facility.registered", "occurred_at": "2026-11-02T08:00:00Z",
                   "place": {"facility_id": "F", "center": [0, 0], "radius_m": 10}})  # fmt: skip
