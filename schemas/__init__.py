"""The sealguard wire contract (version 1) as pydantic v2 models.

This package imports nothing else of sealguard: every other layer depends on it, never the reverse.
"""

from sealguard.schemas.alerts import Alert, AlertStatus, Severity
from sealguard.schemas.decode import InvalidEvent, decode_event, decode_object
from sealguard.schemas.events import (
    EVENT_MODELS,
    Event,
    FacilityRegistered,
    GpsPosition,
    InspectionCompleted,
    SealAffixed,
    SealAlarm,
    SealHeartbeat,
    SealIssued,
    SealRemoved,
    SealVerified,
    TripClosed,
    TripPlanned,
)
from sealguard.schemas.places import CirclePlace, Place, PolygonPlace

__all__ = [
    "EVENT_MODELS",
    "Alert",
    "AlertStatus",
    "CirclePlace",
    "Event",
    "FacilityRegistered",
    "GpsPosition",
    "InspectionCompleted",
    "InvalidEvent",
    "Place",
    "PolygonPlace",
    "SealAffixed",
    "SealAlarm",
    "SealHeartbeat",
    "SealIssued",
    "SealRemoved",
    "SealVerified",
    "Severity",
    "TripClosed",
    "TripPlanned",
    "decode_event",
    "decode_object",
]
