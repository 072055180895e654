"""Reference data the rules read across a tenant's conveyances: the controlled seal inventory
(``seal.issued``, SEAL-005) and the registered facilities (``facility.registered``, TRK-006).

Two views with one interface. ``FileOrderReference`` is the single engine's: an event sees every
reference event applied before it, in input order (``sealguard replay``, ``sealguard up``).
``EventTimeReference`` is a partitioned worker's: the reference data is shared by every partition the
worker holds (a broadcast table, filled from the database, not from any one partition's records), so
what an event sees cannot depend on input order across partitions; it depends on event time instead:
an event at ``t`` sees the reference events that occurred at or before ``t``. On input in time order
both views answer the same (docs/partitioning.md).
"""

from typing import Any

from sealguard.rules.geometry import FacilityIndex
from sealguard.schemas.places import CirclePlace, Place, PolygonPlace


def place_from_plain(plain: dict[str, Any]) -> Place:
    model = PolygonPlace if "polygon" in plain else CirclePlace
    return model.model_validate(plain, strict=False)


class FileOrderReference:
    """Reference data as applied so far, in input order; ``t`` is ignored."""

    __slots__ = ("facilities", "facility_events", "issued", "issued_at")

    def __init__(self) -> None:
        self.facilities = FacilityIndex()
        self.facility_events: dict[str, dict[str, Any]] = {}  # facility id -> place, for snapshots
        self.issued: dict[str, str] = {}  # seal -> facility it was issued to
        self.issued_at: dict[str, float] = {}  # seal -> when (for the horizon)

    def issue(self, seal: str, facility_id: str, t: float) -> None:
        self.issued[seal] = facility_id
        self.issued_at[seal] = t

    def forget_before(self, cutoff: float) -> None:
        """Seals issued before ``cutoff`` leave the inventory (the state horizon)."""
        for seal in [s for s, t in self.issued_at.items() if t < cutoff]:
            del self.issued[seal], self.issued_at[seal]

    def register(self, place: Place, t: float) -> None:
        self.facilities.add(place)
        self.facility_events[place.facility_id] = place.model_dump(mode="json", exclude_none=True)

    def inventory(self, seal: str, t: float) -> tuple[bool, str | None]:
        """(whether the tenant had recorded any issued seal, the facility ``seal`` was issued to)."""
        return bool(self.issued), self.issued.get(seal)

    def containing(self, lon: float, lat: float, t: float) -> list[str]:
        """The registered facilities whose place contains the point, sorted."""
        return self.facilities.containing(lon, lat) if len(self.facilities) else []

    def to_plain(self) -> dict[str, Any]:
        return {"facilities": self.facility_events, "issued": self.issued, "issued_at": self.issued_at}

    def load_plain(self, plain: dict[str, Any]) -> None:
        for place in plain["facilities"].values():
            self.register(place_from_plain(place), 0.0)
        self.issued = dict(plain["issued"])
        self.issued_at = {s: float(plain.get("issued_at", {}).get(s, 0.0)) for s in self.issued}


class EventTimeReference:
    """Reference data as of an event's time. A seal issued twice keeps its latest issue (by event time);
    a facility registered again keeps its latest place, visible from its first registration."""

    __slots__ = ("facilities", "first_issue", "issued", "registered_at")

    def __init__(self) -> None:
        self.facilities = FacilityIndex()
        self.registered_at: dict[str, float] = {}
        self.issued: dict[str, tuple[str, float]] = {}
        self.first_issue: float | None = None

    def issue(self, seal: str, facility_id: str, t: float) -> None:
        known = self.issued.get(seal)
        if known is None or t >= known[1]:
            self.issued[seal] = (facility_id, t)
        self.first_issue = t if self.first_issue is None else min(self.first_issue, t)

    def register(self, place: Place, t: float) -> None:
        self.facilities.add(place)
        first = self.registered_at.get(place.facility_id)
        self.registered_at[place.facility_id] = t if first is None else min(first, t)

    def inventory(self, seal: str, t: float) -> tuple[bool, str | None]:
        if self.first_issue is None or self.first_issue > t:
            return False, None
        known = self.issued.get(seal)
        return True, (known[0] if known is not None and known[1] <= t else None)

    def containing(self, lon: float, lat: float, t: float) -> list[str]:
        if not len(self.facilities):
            return []
        return [f for f in self.facilities.containing(lon, lat) if self.registered_at[f] <= t]

    def forget_before(self, cutoff: float) -> None:
        return  # shared: the worker reads the broadcast table from the horizon on

    def to_plain(self) -> dict[str, Any]:
        return {"facilities": {}, "issued": {}}  # shared: restored from the database, not a snapshot

    def load_plain(self, plain: dict[str, Any]) -> None:
        return


Reference = FileOrderReference | EventTimeReference


class SharedReference:
    """A partitioned worker's reference data: one ``EventTimeReference`` per tenant, shared by every
    partition's engine, filled by the worker from the database (``apply``)."""

    def __init__(self) -> None:
        self.tenants: dict[str, EventTimeReference] = {}

    def for_tenant(self, tenant: str) -> EventTimeReference:
        ref = self.tenants.get(tenant)
        if ref is None:
            ref = self.tenants[tenant] = EventTimeReference()
        return ref
