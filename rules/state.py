"""The engine's keyed state: per tenant (inventory, seal registry, facilities, trip ids) and per
(tenant, conveyance) (trips, last fix, stop, seals on, inspections, open conditions, timers).

Everything here converts to plain data (``to_plain``) and back, so a snapshot is JSON and a restored
engine continues exactly where the original would have. Times are POSIX seconds (floats).
"""

import sys
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

import orjson
from pydantic import TypeAdapter

from sealguard.rules.geometry import CompiledPlace, RouteCorridor, compiled_place, corridor_for
from sealguard.rules.reference import FileOrderReference, Reference
from sealguard.schemas.events import TripPlanned
from sealguard.schemas.instants import epoch_seconds


def normalize_seal(number: str) -> str:
    """Seal numbers compare upper-cased without spaces and dashes; nothing fuzzier (criteria.md)."""
    return number.upper().replace(" ", "").replace("-", "")


_NO_SEALS: frozenset[str] = frozenset()  # one shared empty set: an empty frozenset costs 216 bytes


#: A conveyance's timers, packed: ``[name, due, name, due, ...]`` in name order. A conveyance on a trip has
#: two to four (its silence and late-arrival timers, a stop's); as a dict they cost 184 bytes a
#: conveyance, as this list 88. A fix moves its silence timer in place. Read and written only here and in
#: ``Ctx.set_timer``; a conveyance without timers holds the one shared empty list, which refuses writes.
Timers = list[str | float]


class _NoTimers(list[str | float]):
    """The one empty timer list, shared as ``NO_ENTRIES`` is: writing to it would set a timer on every
    conveyance without one, so it raises (``with_timer`` makes a conveyance a list of its own)."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("the shared empty timer list is read-only: set a timer with with_timer")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __reduce__(self) -> str:
        return "NO_TIMERS"  # copied or pickled, it stays the one shared list


NO_TIMERS: Timers = _NoTimers()


def timer_due(timers: Timers, name: str) -> float | None:
    """The deadline of timer ``name``; None if it is not set."""
    try:
        return cast(float, timers[timers.index(name) + 1])  # a due (a float) never equals a name
    except ValueError:
        return None


def timer_items(timers: Timers) -> "zip[tuple[str, float]]":
    """(name, due) of each timer, in name order."""
    return zip(cast("list[str]", timers[0::2]), cast("list[float]", timers[1::2]), strict=True)


def earliest_due(timers: Timers) -> float:
    """The earliest deadline (``timers`` not empty)."""
    return min(cast("list[float]", timers[1::2]))


def with_timer(timers: Timers, name: str, due: float) -> Timers:
    """A new list: ``timers`` with ``name`` due at ``due``, in name order (``Ctx.set_timer`` moves a timer
    that is already set in place, and calls this for a new one)."""
    out = [pair for pair in timer_items(timers) if pair[0] != name]
    out.append((name, due))
    out.sort()
    return [part for pair in out for part in pair]


def without_timers(timers: Timers, drop: Callable[[str], bool]) -> Timers:
    """``timers`` without those whose name ``drop`` is true for (the same list if there are none)."""
    if not any(drop(name) for name in cast("list[str]", timers[0::2])):
        return timers
    kept: Timers = [part for pair in timer_items(timers) if not drop(pair[0]) for part in pair]
    return kept or NO_TIMERS


def packed_timers(plain: dict[str, float]) -> Timers:
    """Timers from their snapshot form, ``{name: due}``."""
    packed: Timers = [part for pair in sorted(plain.items()) for part in pair]
    return packed or NO_TIMERS


class _NoEntries(dict[str, Any]):
    """The one empty map every conveyance's conditions, heartbeats and cleared conditions start from: most
    conveyances have none of them, and an empty dict costs 64 bytes each (a dict of one, 184). Reading it
    is reading an empty dict; writing to it would write to every conveyance's, so it raises: a writer
    first gives the conveyance a map of its own (``Conveyance.own``)."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("the shared empty map is read-only: take a map of the conveyance's own first")

    __setitem__ = __ior__ = setdefault = update = _refuse

    def __reduce__(self) -> str:
        return "NO_ENTRIES"  # copied or pickled, it stays the one shared map (``own`` tests identity)


NO_ENTRIES: dict[str, Any] = _NoEntries()


class ApprovedPlaces:
    """A plan's approved places (origin, destination, approved stops, compiled) and their facility ids,
    shared by every open trip that names the same places, as trucks on one lane do: 128 bytes a trip
    otherwise. Immutable; found by the identity of its (shared) compiled places."""

    __slots__ = ("__weakref__", "ids", "places")

    def __init__(self, places: tuple[CompiledPlace, ...]) -> None:
        self.places = places
        self.ids = tuple(p.facility_id for p in places)


# Keyed by the ids of the compiled places, which the entry's own tuple keeps alive while it exists.
_APPROVED: "weakref.WeakValueDictionary[tuple[int, ...], ApprovedPlaces]" = weakref.WeakValueDictionary()


def approved_places(places: tuple[CompiledPlace, ...]) -> ApprovedPlaces:
    key = tuple(map(id, places))
    known = _APPROVED.get(key)
    if known is None:
        known = _APPROVED[key] = ApprovedPlaces(places)
    return known


_NOT_IN_REST: set[str] = {
    "route", "origin", "destination", "approved_stops", "event_id", "trip_id", "kind", "tenant", "conveyance_id",
    "corridor_m",
}  # fmt: skip
_INSTANT = TypeAdapter(datetime)
_NOTHING_MORE = "{}"  # one string for every plan whose fields give back the whole event


def _instant_text(t: float) -> str:
    """``t`` as the event's JSON gives a UTC time (pydantic's own rendering)."""
    return str(_INSTANT.dump_python(datetime.fromtimestamp(t, UTC), mode="json"))


class TripPlan:
    """A compiled ``trip.planned``: reference data, replaced whole on a re-plan.

    It keeps what the rules read, compiled, and the rest of the event as compact JSON (for snapshots
    and the people's view), not the validated event: a pydantic event holding a 200-point route is
    about 20 KB, and a worker holds one plan per open trip. The route lives once, in its corridor."""

    __slots__ = (
        "_rest",
        "approved",
        "at",
        "corridor_m",
        "destination",
        "event_id",
        "key",
        "planned_arrival",
        "route",
        "seals",
        "trip_id",
    )

    def __init__(self, event: TripPlanned, key: tuple[str, str] | None = None) -> None:
        """``key``: its conveyance's (tenant, conveyance id), that conveyance's own tuple when the caller has
        it (the plan then holds no copy of either string)."""
        self.event_id = event.event_id
        own = (event.tenant, event.conveyance_id or "")
        self.key = key if key == own and key is not None else own
        self.trip_id = event.trip_id
        # Tuples, not sets: a trip expects a seal or two, and an empty or small set costs 216 bytes.
        self.seals: tuple[str, ...] = tuple(sorted({normalize_seal(s) for s in event.seal_numbers}))
        self.destination = compiled_place(event.destination)  # every fix in transit asks it
        stops = [compiled_place(p) for p in event.approved_stops or ()]
        self.approved = approved_places((compiled_place(event.origin), self.destination, *stops))
        self.route: RouteCorridor | None = corridor_for(event.route) if event.route else None
        self.corridor_m = event.corridor_m
        self.planned_arrival = epoch_seconds(event.planned_arrival) if event.planned_arrival else None
        # The rest as a str, not orjson's bytes (those keep orjson's whole 4 KB output buffer), without the
        # places and the route, which live once in their shared compiled forms, and without what this
        # object holds already (ids, key, corridor) or every plan says (its kind). The seals, the planned
        # arrival and the plan's own time are left out too when what is held gives them back exactly (the
        # usual case: a sorted list of normalised numbers, UTC times): then nothing is left of the 200
        # bytes a plan kept, and it holds the one shared "{}".
        rest = event.model_dump(mode="json", exclude_none=True, exclude=_NOT_IN_REST)
        if rest["seal_numbers"] == list(self.seals):
            del rest["seal_numbers"]
        if self.planned_arrival is not None and rest["planned_arrival"] == _instant_text(self.planned_arrival):
            del rest["planned_arrival"]
        self.at = epoch_seconds(event.occurred_at)  # when it was planned
        if rest["occurred_at"] == _instant_text(self.at):
            del rest["occurred_at"]
        if event.conveyance_id is None:
            rest["conveyance_id"] = None  # not on a valid plan; kept so that a snapshot says what it said
        self._rest = orjson.dumps(rest).decode() if rest else _NOTHING_MORE

    @property
    def origin(self) -> CompiledPlace:
        """The first of its approved places (only a planned trip asks, and a field would be 8 bytes a plan)."""
        return self.approved.places[0]

    @property
    def approved_ids(self) -> tuple[str, ...]:
        return self.approved.ids

    def in_approved_place(self, lon: float, lat: float) -> bool:
        return any(p.contains(lon, lat) for p in self.approved.places)

    def extra_fields(self) -> dict[str, Any]:
        """The planning event's fields this plan does not hold compiled (conveyance type, planned
        departure, ...), as JSON data (a dict of its own: orjson makes a new one each call)."""
        fields: dict[str, Any] = orjson.loads(self._rest)
        return fields

    def to_plain(self, *, geometry: bool = True) -> dict[str, Any]:
        """The planning event as JSON data, route included: what a snapshot stores and restores from.
        Without ``geometry``, no route or approved stops: what a list of conveyances shows (a 200-point
        route was most of the cost of the worker's view of each conveyance it touched)."""
        out: dict[str, Any] = {"event_id": self.event_id, "kind": "trip.planned", "trip_id": self.trip_id,
                               "tenant": self.key[0], "conveyance_id": self.key[1],
                               "seal_numbers": list(self.seals)}  # fmt: skip
        out["occurred_at"] = _instant_text(self.at)
        if self.planned_arrival is not None:
            out["planned_arrival"] = _instant_text(self.planned_arrival)
        if self.corridor_m is not None:
            out["corridor_m"] = self.corridor_m
        out.update(orjson.loads(self._rest))  # what the held fields could not give back exactly
        out["origin"], out["destination"] = dict(self.origin.plain), dict(self.destination.plain)
        if not geometry:
            return out
        if len(self.approved.places) > 2:
            out["approved_stops"] = [dict(p.plain) for p in self.approved.places[2:]]
        if self.route is not None:
            out["route"] = self.route.points()
        return out


class Trip:
    """An open trip's mutable state."""

    __slots__ = (
        "arrival",
        "departed_at",
        "gov_removal_at",
        "last_pass_at",
        "off",
        "plan",
        "reseals",
        "route_hint",
        "route_stride",
        "seal010_done",
        "status",
    )

    def __init__(self, plan: TripPlan) -> None:
        self.plan = plan
        self.status = "planned"
        self.departed_at: float | None = None
        # (time, event id) pairs, one field each rather than two (16 bytes a trip): the arrival, and the
        # first fix of the current spell outside the corridor.
        self.arrival: tuple[float, str] | None = None
        # Seals resealed after a government inspection; a shared empty frozenset until the first one
        # (an empty set costs 216 bytes on every trip, and reseals are rare).
        self.reseals: frozenset[str] = _NO_SEALS
        self.gov_removal_at: float | None = None
        self.last_pass_at: float | None = None
        self.seal010_done = False
        self.route_hint = -1
        # Segments moved between the last two corridor checks: the next walk starts that far ahead (fixes
        # come at a steady pace, so the walk mostly starts on the right segment).
        self.route_stride = 0
        self.off: tuple[float, str] | None = None

    @property
    def trip_id(self) -> str:
        return self.plan.trip_id

    @property
    def arrived_at(self) -> float | None:
        return None if self.arrival is None else self.arrival[0]

    @property
    def arrival_event(self) -> str | None:
        return None if self.arrival is None else self.arrival[1]

    def expects(self, seal: str) -> bool:
        return seal in self.plan.seals or seal in self.reseals

    def expected_display(self) -> str:
        return ", ".join(sorted({*self.plan.seals, *self.reseals}))

    _PLAIN: ClassVar[tuple[str, ...]] = ("status", "departed_at", "gov_removal_at", "last_pass_at", "seal010_done",
                                         "route_hint")  # fmt: skip

    def to_plain(self, *, plan_inline: bool = True) -> dict[str, Any]:
        """The trip's state; its plan whole, or (``plan_inline=False``, for incremental checkpoints,
        which store each plan once in its own row) only the plan's event id."""
        out = {name: getattr(self, name) for name in self._PLAIN}
        out["arrived_at"], out["arrival_event"] = self.arrival or (None, None)
        out["off_since"], out["off_event"] = self.off or (None, None)
        out["route_stride"] = self.route_stride
        out["plan"] = self.plan.to_plain() if plan_inline else {"event_id": self.plan.event_id}
        out["reseals"] = sorted(self.reseals)
        return out

    @classmethod
    def from_plain(cls, data: dict[str, Any], plan: TripPlan) -> "Trip":
        trip = cls(plan)
        for name in cls._PLAIN:
            setattr(trip, name, data[name])
        if data["arrived_at"] is not None:
            trip.arrival = (data["arrived_at"], data["arrival_event"])
        if data["off_since"] is not None:
            trip.off = (data["off_since"], data["off_event"])
        trip.route_stride = int(data.get("route_stride", 0))  # not in snapshots before it was kept
        trip.reseals = frozenset(data["reseals"]) or _NO_SEALS
        return trip


class Stop:
    """A stop in progress: where and when it began, and what that place was."""

    __slots__ = ("approved", "event", "facilities", "lat", "lon", "start")

    def __init__(
        self, start: float, lon: float, lat: float, event: str, approved: bool, facilities: tuple[str, ...]
    ) -> None:
        self.start = start
        self.lon = lon
        self.lat = lat
        self.event = event
        self.approved = approved
        self.facilities = facilities

    def to_plain(self) -> list[Any]:
        return [self.start, self.lon, self.lat, self.event, self.approved, list(self.facilities)]

    @classmethod
    def from_plain(cls, d: list[Any]) -> "Stop":
        return cls(d[0], d[1], d[2], d[3], d[4], tuple(d[5]))


class Conveyance:
    """Everything the rules remember about one (tenant, conveyance)."""

    __slots__ = (
        "active_at",
        "comp2",
        "conds",
        "ended",
        "fix_at",
        "fix_event",
        "fix_lat",
        "fix_lon",
        "fix_speed",
        "heartbeats",
        "insp",
        "key",
        "passed_insp",
        "seals_on",
        "stop",
        "timers",
        "trips",
        "untripped_origin",
        "wake",
    )

    def __init__(self, tenant: str, conveyance_id: str) -> None:
        # The tenant's name once in memory for all its conveyances (each event decodes a copy of it), and
        # one key tuple, shared by the engine's tables, its dirty set, its plans and this object, which
        # reads its tenant and id from it (two fields more would be 16 bytes a conveyance).
        self.key = (sys.intern(tenant), conveyance_id)
        # Open trips, oldest first; the first is the current one. A tuple: a list of one costs 88 bytes.
        self.trips: tuple[Trip, ...] = ()
        # The latest fix, in five fields rather than a tuple (80 bytes a conveyance): time (None: no fix yet),
        # position, event id, and speed (km/h: reported, else derived from the fix before; None if neither).
        self.fix_at: float | None = None
        self.fix_lon = self.fix_lat = 0.0
        self.fix_event = ""
        self.fix_speed: float | None = None
        self.stop: Stop | None = None
        self.untripped_origin: tuple[float, float, str] | None = None  # (lon, lat, event_id)
        # A tuple, not a set: a conveyance carries a seal or two, and even a one-element set costs 216 bytes
        # (a tuple of one, 48); changed only through seal_on / seal_off.
        self.seals_on: tuple[str, ...] = ()
        self.insp: tuple[float, bool, str] | None = None  # latest inspection: (time, passed, event_id)
        self.passed_insp: tuple[float, bool, str] | None = None  # latest passed inspection, as insp
        # Each map starts as the one shared empty map and becomes the conveyance's own on its first entry
        # (``own``); most conveyances never have heartbeats, open conditions or cleared ones.
        self.heartbeats: dict[str, tuple[float, str]] = NO_ENTRIES  # e-seal -> (last heartbeat, event_id)
        self.conds: dict[str, tuple[float, str]] = NO_ENTRIES  # open auto condition -> (since, dedup key)
        self.ended: dict[str, float] = NO_ENTRIES  # auto rule -> when its condition last cleared
        self.comp2: tuple[float, float, float, str] | None = None  # (stop start, lon, lat, event_id)
        self.timers: Timers = NO_TIMERS
        self.wake: float | None = None  # the deadline registered in the engine's heap
        self.active_at: float = 0.0  # event time of its latest event: past the horizon, it may be forgotten

    @property
    def tenant(self) -> str:
        return self.key[0]

    @property
    def conveyance_id(self) -> str:
        return self.key[1]

    @property
    def fix(self) -> tuple[float, float, float, str, float | None] | None:
        """The latest fix as (time, lon, lat, event_id, km/h), or None: for readers off the hot path."""
        at = self.fix_at
        return None if at is None else (at, self.fix_lon, self.fix_lat, self.fix_event, self.fix_speed)

    def own(self, name: str) -> dict[str, Any]:
        """The map in slot ``name`` (conds, ended, heartbeats), made the conveyance's own first
        if it is still the shared empty one: what a writer calls."""
        entries: dict[str, Any] = getattr(self, name)
        if entries is NO_ENTRIES:
            entries = {}
            setattr(self, name, entries)
        return entries

    def seal_on(self, seal: str) -> None:
        if seal not in self.seals_on:
            # The trip's own string for it when it expects this seal: one copy in memory, not two.
            for trip in self.trips:
                for expected in trip.plan.seals:
                    if expected == seal:
                        seal = expected
            self._set_seals((*self.seals_on, seal))

    def seal_off(self, seal: str) -> None:
        if seal in self.seals_on:
            self._set_seals(tuple(s for s in self.seals_on if s != seal))

    def _set_seals(self, seals: tuple[str, ...]) -> None:
        """The seals on it; a trip's own tuple of expected seals when they are the same (the usual case:
        the planned seal is the one affixed), so that a conveyance holds no second tuple (48 bytes)."""
        for trip in self.trips:
            if trip.plan.seals == seals:
                seals = trip.plan.seals
                break
        self.seals_on = seals

    def current_trip(self, trip_id: str | None) -> Trip | None:
        """The trip an event belongs to: the named open trip, else the conveyance's current one."""
        if trip_id is None:
            return self.trips[0] if self.trips else None
        for trip in self.trips:
            if trip.plan.trip_id == trip_id:
                return trip
        return None

    def open_cond(self, name: str, since: float, key: str) -> None:
        self.own("conds")[name] = (since, key)

    def close_cond(self, name: str, at: float) -> str | None:
        """Clear a condition; returns its dedup key when it was open."""
        entry = self.conds.pop(name, None)
        if entry is None:
            return None
        if not self.conds:
            self.conds = NO_ENTRIES
        self.own("ended")[name.split(":", 1)[0]] = at
        return entry[1]

    def active_or_recent(self, rule_id: str, now: float, window: float) -> bool:
        """True while ``rule_id``'s condition is open here, or within ``window`` after it last cleared."""
        prefix = rule_id + ":"
        if any(name == rule_id or name.startswith(prefix) for name in self.conds):
            return True
        ended = self.ended.get(rule_id)
        return ended is not None and now - ended <= window

    def to_plain(self, *, plans_inline: bool = True) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "conveyance_id": self.conveyance_id,
            "trips": [t.to_plain(plan_inline=plans_inline) for t in self.trips],
            "fix": list(self.fix) if self.fix else None,
            "stop": self.stop.to_plain() if self.stop else None,
            "untripped_origin": list(self.untripped_origin) if self.untripped_origin else None,
            "seals_on": sorted(self.seals_on),
            "insp": list(self.insp) if self.insp else None,
            "passed_insp": list(self.passed_insp) if self.passed_insp else None,
            "heartbeats": {k: list(v) for k, v in self.heartbeats.items()},
            "conds": {k: list(v) for k, v in self.conds.items()},
            "ended": dict(self.ended),
            "comp2": list(self.comp2) if self.comp2 else None,
            "timers": dict(timer_items(self.timers)),
            "active_at": self.active_at,
        }

    @classmethod
    def from_plain(cls, d: dict[str, Any], plans: dict[str, TripPlan]) -> "Conveyance":
        conv = cls(d["tenant"], d["conveyance_id"])
        conv.trips = tuple(Trip.from_plain(t, plans[t["plan"]["event_id"]]) for t in d["trips"])
        for trip in conv.trips:
            if trip.plan.key == conv.key:
                trip.plan.key = conv.key  # one tuple, one copy of each string, as when the plan came live
        # a snapshot from before the speed was kept has four items
        if d["fix"]:  # a snapshot from before the speed was kept has four items
            conv.fix_at, conv.fix_lon, conv.fix_lat, conv.fix_event, conv.fix_speed = (*d["fix"], None)[:5]
        conv.stop = Stop.from_plain(d["stop"]) if d["stop"] else None
        conv.untripped_origin = tuple(d["untripped_origin"]) if d["untripped_origin"] else None
        conv._set_seals(tuple(sorted(d["seals_on"])))
        conv.insp = tuple(d["insp"]) if d["insp"] else None
        passed = d["passed_insp"]  # (time, event_id) in snapshots before it took insp's shape
        conv.passed_insp = (passed[0], True, passed[-1]) if passed else None
        if passed and conv.insp is not None and conv.insp == conv.passed_insp:
            conv.passed_insp = conv.insp
        conv.heartbeats = {k: (v[0], v[1]) for k, v in d["heartbeats"].items()} or NO_ENTRIES
        conv.conds = {k: (v[0], v[1]) for k, v in d["conds"].items()} or NO_ENTRIES
        conv.ended = dict(d["ended"]) or NO_ENTRIES
        conv.comp2 = tuple(d["comp2"]) if d["comp2"] else None
        conv.timers = packed_timers(d["timers"])
        conv.active_at = float(d.get("active_at", 0.0))
        return conv

    def forgettable(self, cutoff: float) -> bool:
        """Nothing open (no trip, timer or condition) and no event since ``cutoff``."""
        return not self.trips and not self.timers and not self.conds and self.active_at < cutoff


class TenantState:
    """What rules share across a tenant's conveyances."""

    __slots__ = ("closed_trips", "open_trips", "reference", "registry")

    def __init__(self, reference: Reference | None = None) -> None:
        # The seal inventory and the facilities (rules.reference): the engine's own, or a worker's shared.
        self.reference: Reference = reference if reference is not None else FileOrderReference()
        # seal -> (conveyance, trip, removed, time of its last use); not kept in partitioned mode, where
        # the seal stage holds every use (rules.seal_registry)
        self.registry: dict[str, tuple[str, str | None, bool, float]] = {}
        self.open_trips: dict[str, str] = {}  # trip id -> conveyance id
        self.closed_trips: dict[str, float] = {}  # trip id -> when it closed

    def to_plain(self) -> dict[str, Any]:
        return {
            **self.reference.to_plain(),
            "registry": {k: list(v) for k, v in self.registry.items()},
            "open_trips": self.open_trips,
            "closed_trips": dict(sorted(self.closed_trips.items())),
        }
