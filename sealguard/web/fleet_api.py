"""Conveyances, trips, facilities, a conveyance's timeline, the dock lookup, and the live stream (SSE).

Current state (trip status, last position, seals on) is the projection the engine that owns each
conveyance keeps in PostgreSQL (no process reads an engine's memory: the api role has none); history
comes from PostgreSQL too. Creating or changing a trip or facility is an event like any other, so it
goes through the same pipeline, checks and dead-letter path as events from devices.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from sealguard import places
from sealguard.ingest.inbound import EventSink
from sealguard.schemas.alerts import StoredAlert
from sealguard.store import fleet, projection
from sealguard.store.alert_rows import alert_states, fetch_alerts, select_alerts, unresolved_refs, utc_iso
from sealguard.store.tokens import ALL_TENANTS, Principal
from sealguard.stream import Inbound, ItemResult
from sealguard.stream.live import UpdateHub
from sealguard.web.auth import Credential, TokenCache, origin_of, require, tenant_scope
from sealguard.web.bodies import read_limited
from sealguard.web.policy_api import policy_in_force
from sealguard.web.waiting import stored

STREAM_QUEUE = 1000
STREAMS_PER_SENDER = 20  # open live streams per token or person (a page holds one; a wall of screens a few)
HEARTBEAT_S = 15.0
REVALIDATE_S = 1.0  # an open stream re-checks its token this often: revocation ends it


def _sink(request: Request) -> EventSink:
    return request.app.state.rt.sink  # type: ignore[no-any-return]


async def _views(request: Request, tenant: str | None, conveyance_id: str | None = None, *,
                 geometry: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    async with request.app.state.rt.pool.connection() as conn:
        return await projection.views(conn, tenant, conveyance_id, geometry=geometry)


async def submit_one(request: Request, who: Principal, event: dict[str, Any]) -> ItemResult:
    """Submit an event built by the API itself (trip, facility, dock) and wait until it is stored."""
    if who.tenant != ALL_TENANTS:
        if event.get("tenant") not in (None, who.tenant):
            raise HTTPException(403, f"this token belongs to tenant {who.tenant!r}")
        event["tenant"] = who.tenant
    elif not event.get("tenant"):
        raise HTTPException(422, "an all-tenants token must name the tenant")
    event.setdefault("event_id", f"api-{uuid.uuid4()}")
    event.setdefault("occurred_at", utc_iso(datetime.now(UTC)))
    client = request.client.host if request.client else None
    future = await _sink(request).submit(
        Inbound(
            orjson.dumps(event),
            "http",
            origin_of(who, client),
            tenant=event["tenant"],
            role=who.role,
        )
    )
    result = await stored(future)
    if result.status == "rejected":
        raise HTTPException(422, result.reason or "rejected")
    return result


ASSUMED_KPH = 60.0  # a truck's speed for an ETA when it is stopped or slow: a road freight average


def whereabouts(view: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Where a conveyance is for people (the nearest bundled town) and, in transit, when it should arrive:
    the straight-line distance left at its speed (at least ``ASSUMED_KPH``), against the plan's arrival.
    A straight line under-reads a road's length; the ETA is a floor, said so on the page."""
    pos, trip = view.get("position"), view.get("trip")
    out: dict[str, Any] = {"near": places.nearest(pos["lat"], pos["lon"]) if pos else None, "eta": None}
    if pos and trip and trip["status"] == "in_transit":
        dest = trip["destination"]["center"]
        left_km = places.distance_km(pos["lat"], pos["lon"], dest[1], dest[0])
        speed = max(float(pos.get("speed_kph") or 0.0), ASSUMED_KPH)
        fix_at = datetime.fromisoformat(pos["at"].replace("Z", "+00:00"))
        eta = max(now, fix_at) + timedelta(hours=left_km / speed)
        planned = trip.get("planned_arrival")
        late_s = (eta - datetime.fromisoformat(planned.replace("Z", "+00:00"))).total_seconds() if planned else None
        out["eta"] = {
            "at": utc_iso(eta),
            "km_left": round(left_km, 1),
            "late_s": round(late_s) if late_s is not None else None,
        }
    return out


async def _open_alerts(request: Request, tenant: str | None, conveyance: str | None = None) -> list[StoredAlert]:
    async with request.app.state.rt.pool.connection() as conn:
        query = select_alerts(
            "status <> 'resolved' AND (%s::text IS NULL OR tenant = %s) AND (%s::text IS NULL OR conveyance_id = %s)",
            "ORDER BY occurred_at DESC LIMIT 5000",
        )
        return await fetch_alerts(conn, query, (tenant, tenant, conveyance, conveyance))


def router() -> APIRouter:
    api = APIRouter(prefix="/api/v1")
    places.warm()

    @api.get("/conveyances", tags=["conveyances"])
    async def list_conveyances(request: Request, who: Annotated[Principal, require("operator")],
                               tenant: str | None = None, geometry: bool = True) -> Response:  # fmt: skip
        """Every conveyance the engine knows: trip and plan geometry, position, seals, its newest open
        alerts, and ``alert_state`` over all of them (the worst unresolved severity and the counts: what
        colours it). ``geometry=false`` leaves out routes and stops for a lighter answer."""
        scope = tenant_scope(who, tenant)
        items = await _views(request, scope, geometry=geometry)
        async with request.app.state.rt.pool.connection() as conn:
            states = await alert_states(conn, scope)
            refs = await unresolved_refs(conn, scope)
        by_conv: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for tenant_id, conveyance_id, alert_id, rule_id, severity, status in refs:
            by_conv.setdefault((tenant_id, conveyance_id), []).append(
                {"alert_id": alert_id, "rule_id": rule_id, "severity": severity, "status": status}
            )
        now = datetime.now(UTC)
        policy = policy_in_force(request)
        for item in items:
            key = (item["tenant"], item["conveyance_id"])
            item["open_alerts"] = by_conv.get(key, [])
            item.update(whereabouts(item, now))
            # the silence the tracking-gap rule (TRK-003) allows this tenant: the list flags what the rule does
            item["silent_after_s"] = policy.for_tenant(item["tenant"]).param("TRK-003", "window")
            state = states.get(key)
            item["alert_state"] = state.document() if state else None
        # encoded by orjson straight from plain data: for a fleet of thousands the default encoder's walk
        # over every value was most of this request's time
        return Response(orjson.dumps({"conveyances": items}), media_type="application/json")

    @api.get("/conveyances-alert-state", tags=["conveyances"])
    async def conveyance_alert_states(request: Request, who: Annotated[Principal, require("operator")],
                                      tenant: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Each conveyance's own alert state (worst unresolved severity, unresolved and unacknowledged
        counts), over all its alerts: what colours a truck, however many alerts a page has loaded."""
        scope = tenant_scope(who, tenant)
        async with request.app.state.rt.pool.connection() as conn:
            states = await alert_states(conn, scope)
        return {"states": [{"tenant": t, "conveyance_id": c, **s.document()} for (t, c), s in states.items()]}

    @api.get("/conveyances/{conveyance_id}", tags=["conveyances"])
    async def get_conveyance(request: Request, conveyance_id: str, who: Annotated[Principal, require("scanner")],
                             tenant: str | None = None) -> dict[str, Any]:  # fmt: skip
        """One conveyance: its trip (planned, in transit, arrived), expected seals, last position, latest
        inspection and open alerts. Scanners may read it too: the dock page needs it."""
        scope = tenant_scope(who, tenant)
        found = await _views(request, scope, conveyance_id)
        if not found:  # as typed at a dock: case, spaces and dashes aside, when that names one conveyance
            async with request.app.state.rt.pool.connection() as conn:
                like = await projection.ids_like(conn, scope, conveyance_id[:64])
            if len(like) > 1:
                raise HTTPException(409, f"{conveyance_id!r} could be {', '.join(like)}; type it exactly")
            if like:
                conveyance_id = like[0]
                found = await _views(request, scope, conveyance_id)
        if not found:
            raise HTTPException(404, f"no conveyance {conveyance_id!r} is known")
        if len(found) > 1:
            raise HTTPException(409, f"{conveyance_id!r} exists in several tenants; name one with ?tenant=")
        view = found[0]
        view["open_alerts"] = [a.document() for a in await _open_alerts(request, view["tenant"], conveyance_id)]
        return view

    @api.get("/conveyances/{conveyance_id}/timeline", tags=["conveyances"])
    async def timeline(request: Request, conveyance_id: str, who: Annotated[Principal, require("operator")],
                       since: datetime | None = None, until: datetime | None = None, tenant: str | None = None,
                       limit: Annotated[int, Query(ge=1, le=10_000)] = 2000) -> dict[str, Any]:  # fmt: skip
        """Events, alerts and what people did, of one conveyance over a time range, in time order."""
        scope = tenant_scope(who, tenant)
        async with request.app.state.rt.pool.connection() as conn:
            events = await fleet.conveyance_events(conn, conveyance_id, scope, since, until, limit)
            query = select_alerts(
                "conveyance_id = %s AND (%s::text IS NULL OR tenant = %s) AND (%s::timestamptz IS NULL OR"
                " occurred_at >= %s) AND (%s::timestamptz IS NULL OR occurred_at < %s)",
                "ORDER BY occurred_at",
            )
            alerts = await fetch_alerts(conn, query, (conveyance_id, scope, scope, since, since, until, until))
            done = await fleet.conveyance_actions(conn, conveyance_id, scope)
        actions = [{"alert_id": a.alert_id, "action": a.action, "actor": a.actor, "note": a.note, "at": utc_iso(a.at)}
                   for a in done]  # fmt: skip
        return {
            "conveyance_id": conveyance_id,
            "events": events,
            "alerts": [a.document() for a in alerts],
            "actions": actions,
        }

    @api.get("/trips", tags=["trips"])
    async def list_trips(request: Request, who: Annotated[Principal, require("operator")], tenant: str | None = None,
                         status: str | None = None,
                         limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict[str, Any]:  # fmt: skip
        """Trips as planned (``planned`` or ``closed``); ``GET /trips/{id}`` adds the live state."""
        scope = tenant_scope(who, tenant)
        async with request.app.state.rt.pool.connection() as conn:
            found = await fleet.trips(conn, scope, status, limit)
        trips = [{"tenant": t.tenant, "trip_id": t.trip_id, "conveyance_id": t.conveyance_id, "status": t.status,
                  "planned_at": utc_iso(t.planned_at), "closed_at": utc_iso(t.closed_at) if t.closed_at else None}
                 for t in found]  # fmt: skip
        return {"trips": trips}

    @api.get("/trips/{trip_id}", tags=["trips"])
    async def get_trip(request: Request, trip_id: str, who: Annotated[Principal, require("operator")],
                       tenant: str | None = None) -> dict[str, Any]:  # fmt: skip
        scope = tenant_scope(who, tenant)
        async with request.app.state.rt.pool.connection() as conn:
            rows = await fleet.trips_named(conn, trip_id, scope)
        if not rows:
            raise HTTPException(404, f"no trip {trip_id!r}")
        if len(rows) > 1:
            raise HTTPException(409, f"trip {trip_id!r} exists in several tenants; name one with ?tenant=")
        trip = rows[0]
        t, conveyance_id, plan, status = trip.tenant, trip.conveyance_id, trip.plan, trip.status
        planned_at, closed_at = trip.planned_at, trip.closed_at
        views = await _views(request, t, conveyance_id, geometry=False)
        live = views[0] if views else None
        state = status
        if live and live["trip"] and live["trip"]["trip_id"] == trip_id:
            state = live["trip"]["status"]
        return {"tenant": t, "trip_id": trip_id, "conveyance_id": conveyance_id, "status": state, "plan": plan,
                "planned_at": utc_iso(planned_at), "closed_at": utc_iso(closed_at) if closed_at else None,
                "position": live["position"] if live else None,
                "open_alerts": await _open_alerts(request, t, conveyance_id)}  # fmt: skip

    @api.post("/trips", tags=["trips"], status_code=201)
    async def plan_trip(request: Request, who: Annotated[Principal, require("operator")]) -> dict[str, Any]:
        """Create or re-plan a trip: the body is a ``trip.planned`` event (contract.md) without ``kind``;
        the same ``trip_id`` again replaces the plan. ``event_id`` and ``occurred_at`` default to now."""
        body = await _json_object(request)
        result = await submit_one(request, who, {**body, "kind": "trip.planned"})
        return {"event_id": result.event_id, "findings": list(result.findings)}

    @api.post("/trips/{trip_id}/close", tags=["trips"])
    async def close_trip(request: Request, trip_id: str, who: Annotated[Principal, require("operator")],
                         conveyance_id: str, tenant: str | None = None) -> dict[str, Any]:  # fmt: skip
        result = await submit_one(request, who, {"kind": "trip.closed", "trip_id": trip_id,
                                                 "conveyance_id": conveyance_id, "tenant": tenant})  # fmt: skip
        return {"event_id": result.event_id, "findings": list(result.findings)}

    @api.get("/facilities", tags=["facilities"])
    async def list_facilities(request: Request, who: Annotated[Principal, require("operator")],
                              tenant: str | None = None) -> dict[str, Any]:  # fmt: skip
        scope = tenant_scope(who, tenant)
        async with request.app.state.rt.pool.connection() as conn:
            return {"facilities": [{"tenant": f.tenant, **f.place} for f in await fleet.facilities(conn, scope)]}

    @api.post("/facilities", tags=["facilities"], status_code=201)
    async def register_facility(request: Request, who: Annotated[Principal, require("admin")]) -> dict[str, Any]:
        """Register or move a facility: the body is a ``facility.registered`` event without ``kind``."""
        body = await _json_object(request)
        result = await submit_one(request, who, {**body, "kind": "facility.registered"})
        return {"event_id": result.event_id}

    @api.get("/stream", tags=["live"])
    async def stream(request: Request, who: Annotated[Principal, require("operator")],
                     tenant: str | None = None) -> StreamingResponse:  # fmt: skip
        """Server-Sent Events: ``alert`` (an alert changed: fetch it) and ``position`` (a GPS fix), only of
        the token's tenant. Read it with fetch() and the Authorization header (EventSource cannot send one)."""
        scope = tenant_scope(who, tenant)
        hub: UpdateHub = request.app.state.rt.hub
        open_streams: dict[str, int] = request.app.state.streams
        if open_streams.get(who.key, 0) >= STREAMS_PER_SENDER:  # each holds a queue and a listener
            raise HTTPException(429, f"at most {STREAMS_PER_SENDER} open streams per token or person; close one",
                                {"Retry-After": "5"})  # fmt: skip
        open_streams[who.key] = open_streams.get(who.key, 0) + 1
        released = False

        def release() -> None:  # once, whether the stream ran or the client left before it began
            nonlocal released
            if not released:
                released = True
                left = open_streams.get(who.key, 1) - 1
                if left > 0:
                    open_streams[who.key] = left
                else:
                    open_streams.pop(who.key, None)

        queue: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue(STREAM_QUEUE)

        def listen(updates: list[dict[str, Any]]) -> None:
            mine = [u for u in updates if scope is None or u["tenant"] == scope]
            if not mine:
                return
            if queue.full():  # a slow reader: drop the backlog and tell it to reload
                with contextlib.suppress(asyncio.QueueEmpty):
                    while True:
                        queue.get_nowait()
                queue.put_nowait([{"type": "resync"}])
                return
            queue.put_nowait(mine)

        cache: TokenCache = request.app.state.tokens
        credential: Credential = request.state.credential

        async def events() -> AsyncIterator[bytes]:
            hub.subscribe(listen)
            try:
                yield b"retry: 2000\n\n"
                idle = 0.0
                while True:
                    try:
                        batch = await asyncio.wait_for(queue.get(), REVALIDATE_S)
                    except TimeoutError:
                        batch = []
                    if not await cache.still_valid(credential):
                        yield b"event: revoked\ndata: {}\n\n"  # token revoked or session ended: the stream ends
                        return
                    if batch == []:
                        idle += REVALIDATE_S
                        if idle >= HEARTBEAT_S:
                            idle = 0.0
                            yield b": heartbeat\n\n"
                        continue
                    if batch is None:
                        return
                    for update in batch:
                        yield b"event: " + update["type"].encode() + b"\ndata: " + orjson.dumps(update) + b"\n\n"
            finally:
                hub.unsubscribe(listen)
                release()

        return StreamingResponse(events(), media_type="text/event-stream", background=BackgroundTask(release),
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip

    return api


async def _json_object(request: Request) -> dict[str, Any]:
    body = await read_limited(request, 1024 * 1024)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise HTTPException(422, "expected a JSON object")
    return parsed
