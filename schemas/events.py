"""Every event kind of the contract, as one discriminated union on ``kind``.

Models are strict: JSON numbers are not read from strings, booleans are only ``true``/``false``, and
timestamps need an offset. Unknown extra fields are kept (``extra="allow"``) but never read by rules.
"""

from typing import Annotated, ClassVar, Literal, final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from sealguard.schemas.iso6346 import check_digit, looks_like_container_number
from sealguard.schemas.places import Latitude, Longitude, LonLat, Place

ConveyanceId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
SealNumber = Annotated[str, Field(min_length=1, max_length=128)]
ShortText = Annotated[str, Field(min_length=1, max_length=128)]

# What one plan may weigh. A plan is reference data that every later fix of its conveyance is measured
# against, and it is held in memory for the whole trip: these bounds keep one sender's plan from slowing
# every other conveyance (a 220,000-point route did). A route of more points is simplified by the sender
# (Douglas-Peucker at a few metres keeps a continental route under 10,000 points).
MAX_ROUTE_POINTS = 10_000
MAX_APPROVED_STOPS = 200
MAX_SEALS_PER_TRIP = 32


class Source(BaseModel):
    """Who or what reported the event."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    device_id: str | None = None
    facility_id: str | None = None
    operator_id: str | None = None


class _Envelope(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=False, frozen=True)

    #: Kinds on which ``conveyance_id`` may be absent (inventory and reference data).
    conveyance_optional: ClassVar[bool] = False

    event_id: ShortText
    occurred_at: AwareDatetime
    conveyance_id: ConveyanceId | None = None
    tenant: Annotated[str, Field(min_length=1, max_length=64)] = "default"
    trip_id: ShortText | None = None
    source: Source | None = None

    @field_validator("conveyance_id")
    @classmethod
    def _iso6346(cls, value: str | None) -> str | None:
        if value is not None and looks_like_container_number(value):
            expected = check_digit(value[:10])
            if int(value[10]) != expected:
                raise ValueError(f"ISO 6346 check digit of {value} should be {expected}")
        return value

    @model_validator(mode="after")
    def _conveyance_required(self) -> "_Envelope":
        if self.conveyance_id is None and not self.conveyance_optional:
            raise ValueError("conveyance_id: field required for this kind")
        return self


# --- reference data -------------------------------------------------------------------------------


@final  # the engine dispatches on the exact class (rules.engine)
class TripPlanned(_Envelope):
    """A movement to monitor; a later one with the same ``trip_id`` replaces the plan (a re-route)."""

    kind: Literal["trip.planned"]
    trip_id: ShortText
    seal_numbers: Annotated[list[SealNumber], Field(min_length=1, max_length=MAX_SEALS_PER_TRIP)]
    origin: Place
    destination: Place
    route: Annotated[list[LonLat], Field(min_length=2, max_length=MAX_ROUTE_POINTS)] | None = None
    corridor_m: Annotated[float, Field(gt=0.0)] | None = None
    approved_stops: Annotated[list[Place], Field(max_length=MAX_APPROVED_STOPS)] | None = None
    planned_departure: AwareDatetime | None = None
    planned_arrival: AwareDatetime | None = None
    conveyance_type: Literal["container", "trailer", "tractor_trailer"] | None = None


@final  # the engine dispatches on the exact class (rules.engine)
class TripClosed(_Envelope):
    """Monitoring of a trip ends; its timers are cancelled."""

    kind: Literal["trip.closed"]
    trip_id: ShortText


@final  # the engine dispatches on the exact class (rules.engine)
class FacilityRegistered(_Envelope):
    """A known facility, to tell a stop at the wrong facility from an approved one."""

    conveyance_optional: ClassVar[bool] = True
    kind: Literal["facility.registered"]
    place: Place


# --- seals ----------------------------------------------------------------------------------------


@final  # the engine dispatches on the exact class (rules.engine)
class SealIssued(_Envelope):
    """A seal leaves the controlled inventory for a facility."""

    conveyance_optional: ClassVar[bool] = True
    kind: Literal["seal.issued"]
    seal_number: SealNumber
    facility_id: ShortText


@final  # the engine dispatches on the exact class (rules.engine)
class SealAffixed(_Envelope):
    """``authority_ref`` (an extension of contract v1, optional): the authority that affixed the seal
    itself, e.g. customs resealing after its inspection (DCSA ``sealSource`` CUS, PHY, VET). Such a seal
    is a documented reseal: it becomes expected, and no SEAL-008 or SEAL-001 is raised on it."""

    kind: Literal["seal.affixed"]
    seal_number: SealNumber
    seal_class: Literal["H", "S", "I"]
    seal_type: Literal["bolt", "cable", "bar", "electronic", "indicative", "other"]
    authority_ref: ShortText | None = None


class VvttSteps(BaseModel):
    """View, Verify, Tug, Twist-and-turn."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    view: bool
    verify: bool
    tug: bool
    twist_turn: bool

    def all_passed(self) -> bool:
        return self.view and self.verify and self.tug and self.twist_turn

    def failed(self) -> list[str]:
        return [name for name in ("view", "verify", "tug", "twist_turn") if not getattr(self, name)]


@final  # the engine dispatches on the exact class (rules.engine)
class SealVerified(_Envelope):
    kind: Literal["seal.verified"]
    seal_number: SealNumber
    steps: VvttSteps
    intact: bool


@final  # the engine dispatches on the exact class (rules.engine)
class SealRemoved(_Envelope):
    kind: Literal["seal.removed"]
    seal_number: SealNumber
    reason: Literal["delivered", "government_inspection", "carrier_inspection", "other"]
    authority_ref: ShortText | None = None

    @model_validator(mode="after")
    def _authority_for_government(self) -> "SealRemoved":
        if self.reason == "government_inspection" and self.authority_ref is None:
            raise ValueError("authority_ref: field required when reason is government_inspection")
        return self


@final  # the engine dispatches on the exact class (rules.engine)
class SealAlarm(_Envelope):
    kind: Literal["seal.alarm"]
    seal_number: SealNumber
    alarm: Literal["tamper", "opened", "cut"]
    lat: Latitude | None = None
    lon: Longitude | None = None


@final  # the engine dispatches on the exact class (rules.engine)
class SealHeartbeat(_Envelope):
    kind: Literal["seal.heartbeat"]
    seal_number: SealNumber
    battery_pct: Annotated[float, Field(ge=0.0, le=100.0)]
    locked: bool
    lat: Latitude | None = None
    lon: Longitude | None = None


# --- inspections ----------------------------------------------------------------------------------

_CONTAINER_7 = (
    "front_wall",
    "left_side",
    "right_side",
    "floor",
    "ceiling_roof",
    "inside_outside_doors",
    "outside_undercarriage",
)
_TRACTOR = (
    "bumper_tires_rims",
    "doors_tool_compartments",
    "battery_box",
    "air_breather",
    "fuel_tanks",
    "cab_interior_sleeper",
    "faring_roof",
)
_TRAILER = ("fifth_wheel_area", "exterior_front_sides", "rear_bumper_doors", *_CONTAINER_7)

#: Required points per inspection type (MSC 5.3, 2019 wording).
INSPECTION_POINTS: dict[str, tuple[str, ...]] = {
    "container_7pt": _CONTAINER_7,
    "reefer_8pt": (*_CONTAINER_7, "fan_housing"),
    "tractor_trailer_17pt": (*_TRACTOR, *_TRAILER),
}

InspectionType = Literal["container_7pt", "reefer_8pt", "tractor_trailer_17pt"]


class Agricultural(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    pest_contamination: bool = False
    wood_packaging_unmarked: bool = False


@final  # the engine dispatches on the exact class (rules.engine)
class InspectionCompleted(_Envelope):
    kind: Literal["inspection.completed"]
    inspection_type: InspectionType
    points: dict[str, Literal["pass", "fail"]]
    agricultural: Agricultural | None = None
    inspector_id: str | None = None

    @model_validator(mode="after")
    def _known_points(self) -> "InspectionCompleted":
        allowed = INSPECTION_POINTS[self.inspection_type]
        unknown = sorted(set(self.points) - set(allowed))
        if unknown:
            raise ValueError(f"points: {', '.join(unknown)} not a point of {self.inspection_type}")
        return self

    def missing_points(self) -> list[str]:
        return [p for p in INSPECTION_POINTS[self.inspection_type] if p not in self.points]

    def failed_points(self) -> list[str]:
        return [p for p, verdict in self.points.items() if verdict == "fail"]

    def passed(self) -> bool:
        """Every required point present and ``pass``, and no agricultural finding."""
        agri = self.agricultural
        return (
            not self.missing_points()
            and not self.failed_points()
            and not (agri is not None and (agri.pest_contamination or agri.wood_packaging_unmarked))
        )


# --- GPS ------------------------------------------------------------------------------------------


@final  # the engine dispatches on the exact class (rules.engine)
class GpsPosition(_Envelope):
    kind: Literal["gps.position"]
    lat: Latitude
    lon: Longitude
    speed_kph: Annotated[float, Field(ge=0.0)] | None = None
    heading: Annotated[float, Field(ge=0.0, le=360.0)] | None = None
    accuracy_m: Annotated[float, Field(ge=0.0)] | None = None


Event = Annotated[
    TripPlanned
    | TripClosed
    | FacilityRegistered
    | SealIssued
    | SealAffixed
    | SealVerified
    | SealRemoved
    | SealAlarm
    | SealHeartbeat
    | InspectionCompleted
    | GpsPosition,
    Field(discriminator="kind"),
]

EVENT_MODELS: dict[str, type[_Envelope]] = {
    "trip.planned": TripPlanned,
    "trip.closed": TripClosed,
    "facility.registered": FacilityRegistered,
    "seal.issued": SealIssued,
    "seal.affixed": SealAffixed,
    "seal.verified": SealVerified,
    "seal.removed": SealRemoved,
    "seal.alarm": SealAlarm,
    "seal.heartbeat": SealHeartbeat,
    "inspection.completed": InspectionCompleted,
    "gps.position": GpsPosition,
}
