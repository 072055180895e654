"""Partner formats over HTTP, each where its senders already send, and the device bindings.

=====================================  =====================================================================
endpoint                               sender
=====================================  =====================================================================
``POST /interop/traccar/positions``    Traccar ``forward.url`` (``forward.type=json``)
``POST /interop/traccar/events``       Traccar ``event.forward.url``
``GET|POST /interop/osmand``           Traccar Client, OsmAnd and other OsmAnd-protocol phone apps
``POST /interop/owntracks``            OwnTracks in HTTP mode (user and device in X-Limit-U / X-Limit-D)
``POST /interop/dcsa/v2/events``       a DCSA T&T 2.2 publisher (an array of events)
``POST /interop/dcsa/v3/events``       a DCSA T&T 3.0 publisher (``PostEventsRequest``)
``POST /interop/epcis/capture``        an EPCIS 2.0 repository or client (an ``EPCISDocument``)
=====================================  =====================================================================

Each is authenticated by an API token of the tenant, given as a bearer header, as the password of HTTP
Basic authentication (OwnTracks), or, for senders that can set neither (Traccar's forwarding, phone
apps), as a ``token`` query parameter. The tenant is the token's; an all-tenants token names one with
``tenant``. Every message is answered in its standard's terms, and everything is kept: mapped events
are stored with the foreign item inside, a message that cannot be read is dead-lettered whole with the
reasons, an unbound device's events are dead-lettered with that reason.
"""

import asyncio
import base64
import hashlib
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from sealguard.schemas.foreign import dcsa, epcis, owntracks, traccar
from sealguard.schemas.foreign.common import Translation
from sealguard.store import device_bindings
from sealguard.store.device_bindings import BindingConflict
from sealguard.store.tokens import ALL_TENANTS, Principal
from sealguard.stream.interop import Delivered, DeviceBook, deliver
from sealguard.web.auth import holder, origin_of, require, tenant_scope
from sealguard.web.bodies import HttpLimits, read_limited
from sealguard.web.ratelimit import RateLimiter
from sealguard.web.waiting import stored

PREFIX = "/api/v1/interop"
OFF_LOOP_BYTES = 64 * 1024  # a larger message is translated in a thread, off the event loop


async def _sender(request: Request, tenant: str | None) -> tuple[Principal, str]:
    """The token's principal (bearer, Basic password, or ``token`` query) and the tenant it writes to."""
    token = None
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        token = value.strip()
    elif scheme.lower() == "basic" and value:
        try:
            token = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            token = None
    token = token or request.query_params.get("token")
    if not token:
        raise HTTPException(401, "a token is required: Authorization: Bearer, Basic (as the password) or ?token=",
                            headers={"WWW-Authenticate": 'Bearer, Basic realm="sealguard"'})  # fmt: skip
    who = await holder(request, token)
    if who.tenant == ALL_TENANTS:
        if not tenant:
            raise HTTPException(400, "an all-tenants token must name the tenant (?tenant=)")
        return who, tenant
    if tenant not in (None, who.tenant):
        raise HTTPException(403, f"this token belongs to tenant {who.tenant!r}, not {tenant!r}")
    return who, who.tenant


def router(devices: DeviceBook) -> APIRouter:
    """The partner endpoints; ``devices`` says which conveyance a device reports for."""
    r = APIRouter(prefix=PREFIX, tags=["interop"])

    async def run(request: Request, fmt: str, tenant: str | None,
                  translate: Callable[[bytes, int], Translation]) -> tuple[Delivered, bytes]:  # fmt: skip
        """The message read within the limits, translated off the event loop when large (another tenant's
        requests go on meanwhile), bounded, charged to the sender's budget and delivered with the checks
        of the native door (the sender's facility)."""
        who, scope = await _sender(request, tenant)
        rt = request.app.state.rt
        limits: HttpLimits = rt.limits
        body = await read_limited(request, limits.max_body, max_containers=limits.max_containers)
        if len(body) > OFF_LOOP_BYTES:
            translation = await asyncio.to_thread(translate, body, limits.max_batch)
        else:
            translation = translate(body, limits.max_batch)
        translation.bound(limits.max_item_bytes, limits.max_message_bytes)
        if translation.too_large is not None:
            raise HTTPException(413, translation.too_large)
        if len(translation.mapped) > limits.max_batch:
            raise HTTPException(
                413, f"at most {limits.max_batch} events per message; this one makes {len(translation.mapped)}"
            )
        limiter: RateLimiter = request.app.state.limiter  # the same budget as POST /api/v1/events
        wait = limiter.take(who.key, cost=max(1, len(translation.mapped)))
        if wait > 0:
            raise HTTPException(429, f"too many events for this token; retry in {wait:.1f} s",
                                {"Retry-After": str(max(1, math.ceil(wait)))})  # fmt: skip
        client = request.client.host if request.client else None
        origin = {**origin_of(who, client), "format": fmt}
        delivered = await stored(deliver(rt.sink, devices, translation, tenant=scope, source="http",
                                         origin=origin, role=who.role, raw=body or b"(empty)",
                                         facility=who.bound_facility, partner_format=fmt))  # fmt: skip
        return delivered, body

    def plain(delivered: Delivered) -> JSONResponse:
        t = delivered.translation
        if t.rejected:
            return JSONResponse({"rejected": [{"path": n.path, "reason": n.reason} for n in t.rejected_notes()]}, 400)
        return JSONResponse(delivered.to_json())

    # --- Traccar ---------------------------------------------------------------------------------------

    @r.post("/traccar/positions")
    @r.post("/traccar/events")
    async def traccar_forward(request: Request, tenant: str | None = None) -> JSONResponse:
        """Traccar's position or event forwarding (JSON). Answers 200 once every event is stored or
        dead-lettered (Traccar then sends the next), 400 with the reasons for a body it cannot read."""
        delivered, _ = await run(request, "traccar", tenant, lambda b, _n: traccar.from_forward(b))
        return plain(delivered)

    @r.get("/osmand")
    @r.post("/osmand")
    async def osmand(request: Request, tenant: str | None = None) -> JSONResponse:
        """The OsmAnd protocol (query or form parameters, or Traccar Client's JSON body)."""
        params = {k: v for k, v in request.query_params.items() if k not in ("token", "tenant")}
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):

            def translate(body: bytes, _max: int) -> Translation:
                form = dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=100))
                form.pop("token", None)
                return traccar.from_osmand({**params, **form})
        else:

            def translate(body: bytes, _max: int) -> Translation:
                return traccar.from_osmand(params, body)

        delivered, _ = await run(request, "osmand", tenant, translate)
        return plain(delivered)

    # --- OwnTracks -------------------------------------------------------------------------------------

    @r.post("/owntracks")
    async def owntracks_http(request: Request, tenant: str | None = None, u: str | None = None,
                             d: str | None = None) -> Response:  # fmt: skip
        """OwnTracks HTTP mode: answers a JSON array (the messages for the phone: none), as the app
        expects; 400 with the reasons for a message it cannot read."""
        user = request.headers.get("x-limit-u") or u or ""
        device = request.headers.get("x-limit-d") or d or ""
        delivered, _ = await run(
            request, "owntracks", tenant, lambda b, n: owntracks.from_message(b, user, device, max_items=n)
        )
        if delivered.translation.rejected:
            return plain(delivered)
        return JSONResponse([])

    # --- DCSA Track & Trace ------------------------------------------------------------------------------

    async def dcsa_events(request: Request, tenant: str | None, expected: str) -> JSONResponse:
        now = datetime.now(UTC)

        def translate(body: bytes, max_items: int) -> Translation:
            version, translation = dcsa.from_events(body, now=now, max_items=max_items)
            if version in ("2.2", "3.0") and version != expected:
                translation.reject("$", f"a T&T {version} message sent to the T&T {expected} endpoint")
            return translation

        delivered, _ = await run(request, "dcsa", tenant, translate)
        headers = {"API-Version": "3.0.0" if expected == "3.0" else "2.2.0"}
        t = delivered.translation
        if t.rejected:
            feedback = [{"severity": "ERROR", "message": n.reason, "propertyPath": n.path} for n in t.rejected_notes()]
            return JSONResponse({"feedbackElements": feedback}, 400, headers=headers)
        feedback = [{"severity": "INFO", "message": n.reason, "propertyPath": n.path} for n in t.skipped_notes()]
        feedback += [{"severity": "INFO", "message": f"{res.event_id}: a duplicate of an event already received;"
                      " nothing changed", "propertyPath": "$"}
                     for _, res in delivered.results if res.status == "duplicate"]  # fmt: skip
        feedback += [{"severity": "WARN", "message": f"{res.event_id}: {res.reason}",
                      "propertyPath": "$"} for _, res in delivered.results if res.status == "rejected"]  # fmt: skip
        return JSONResponse({"feedbackElements": feedback}, 200, headers=headers)

    @r.post("/dcsa/v2/events")
    async def dcsa_v2(request: Request, tenant: str | None = None) -> JSONResponse:
        """A DCSA T&T 2.2 publisher's events (an array). 400 with every problem's JSONPath if any is wrong."""
        return await dcsa_events(request, tenant, "2.2")

    @r.post("/dcsa/v3/events")
    async def dcsa_v3(request: Request, tenant: str | None = None) -> JSONResponse:
        """A DCSA T&T 3.0 ``PostEventsRequest``; answers ``PostEventsResponse`` or ``PostEventsError``."""
        return await dcsa_events(request, tenant, "3.0")

    # --- EPCIS 2.0 -------------------------------------------------------------------------------------

    @r.post("/epcis/capture")
    async def epcis_capture(request: Request, tenant: str | None = None) -> JSONResponse:
        """EPCIS 2.0 capture. Captured synchronously: 202 with the finished capture job (the Location names
        it; jobs are not kept for a later GET), or 400 as an RFC 7807 problem naming what is wrong."""
        now = datetime.now(UTC)
        delivered, body = await run(request, "epcis", tenant, lambda b, n: epcis.from_document(b, now=now, max_items=n))
        t = delivered.translation
        if t.rejected:
            detail = "; ".join(f"{n.path}: {n.reason}" for n in t.rejected_notes())
            return JSONResponse({"type": "epcisException:ValidationException", "title": "invalid EPCIS document",
                                 "status": 400, "detail": detail[:4000]}, 400,
                                media_type="application/problem+json")  # fmt: skip
        job = "sg-" + hashlib.sha256(body).hexdigest()[:16]  # the same document is the same job
        errors = [{"event": m.event.get("event_id"), "reason": res.reason}
                  for m, res in delivered.results if res.status == "rejected"]  # fmt: skip
        finished = datetime.now(UTC).isoformat()
        answer = {
            "captureID": job,
            "createdAt": now.isoformat(),
            "finishedAt": finished,
            "running": False,
            "success": not errors,
            "captureErrorBehaviour": "proceed",
            "errors": errors,
            **delivered.counts(),
        }
        return JSONResponse(answer, 202, headers={"Location": f"{PREFIX}/epcis/capture/{job}"})

    # --- device bindings --------------------------------------------------------------------------------

    @r.post("/devices/{device_id:path}/bindings", status_code=201)
    async def bind_device(request: Request, device_id: str, who: Annotated[Principal, require("operator")],
                          tenant: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Bind a device to a conveyance from ``valid_from`` (default now) on; its open binding ends
        there. Body: ``{"conveyance_id", "valid_from"?, "seal_number"?}``. 409 if it would overlap."""
        scope = _one_tenant(who, tenant)
        try:
            body = orjson.loads(await read_limited(request, 10_000) or b"{}")
        except orjson.JSONDecodeError:
            raise HTTPException(422, "the body must be a JSON object") from None
        conveyance = body.get("conveyance_id") if isinstance(body, dict) else None
        if not isinstance(conveyance, str) or not 0 < len(conveyance) <= 64 or "\x00" in conveyance:
            raise HTTPException(422, "conveyance_id: required, 1-64 characters")
        seal = body.get("seal_number")
        if seal is not None and (not isinstance(seal, str) or not 0 < len(seal) <= 128 or "\x00" in seal):
            raise HTTPException(422, "seal_number: 1-128 characters")
        since = _time(body.get("valid_from"), "valid_from") or datetime.now(UTC)
        if not 0 < len(device_id) <= 300:
            raise HTTPException(422, "device id: 1-300 characters")
        async with request.app.state.rt.pool.connection() as conn, conn.transaction():
            try:
                made = await device_bindings.bind(conn, scope, device_id, conveyance, since, seal_number=seal,
                                                  created_by=who.label)  # fmt: skip
            except BindingConflict as exc:
                raise HTTPException(409, str(exc)) from None
        return made.to_json()

    @r.delete("/devices/{device_id:path}/bindings")
    async def unbind_device(request: Request, device_id: str, who: Annotated[Principal, require("operator")],
                            tenant: str | None = None, at: datetime | None = None) -> dict[str, Any]:  # fmt: skip
        """End the device's open binding at ``at`` (default now)."""
        scope = _one_tenant(who, tenant)
        when = at or datetime.now(UTC)
        if when.tzinfo is None:
            raise HTTPException(422, "at: needs an offset")
        async with request.app.state.rt.pool.connection() as conn, conn.transaction():
            ended = await device_bindings.unbind(conn, scope, device_id, when)
        if ended is None:
            raise HTTPException(404, f"device {device_id} has no open binding at {when.isoformat()}")
        return ended.to_json()

    @r.get("/devices/{device_id:path}/bindings")
    async def device_history(request: Request, device_id: str, who: Annotated[Principal, require("operator")],
                             tenant: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Every binding period of one device, newest first."""
        scope = _one_tenant(who, tenant)
        async with request.app.state.rt.pool.connection() as conn:
            found = await device_bindings.of_device(conn, scope, device_id)
        return {"bindings": [b.to_json() for b in found]}

    @r.get("/devices")
    async def device_list(request: Request, who: Annotated[Principal, require("operator")],
                          tenant: str | None = None, current: bool = True,
                          limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                          offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> dict[str, Any]:  # fmt: skip
        """Bindings of the tenant (only those valid now unless ``current=false``), by device."""
        scope = tenant_scope(who, tenant)
        async with request.app.state.rt.pool.connection() as conn:
            found = await device_bindings.listing(conn, scope, current_at=datetime.now(UTC) if current else None,
                                                  limit=limit + 1, offset=offset)  # fmt: skip
        return {"bindings": [b.to_json() for b in found[:limit]],
                "next_offset": offset + limit if len(found) > limit else None}  # fmt: skip

    return r


def _one_tenant(who: Principal, tenant: str | None) -> str:
    scope = tenant_scope(who, tenant)
    if scope is None:
        raise HTTPException(400, "an all-tenants token must name the tenant (?tenant=)")
    return scope


def _time(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise HTTPException(422, f"{name}: an ISO 8601 date-time with an offset")
    return parsed
