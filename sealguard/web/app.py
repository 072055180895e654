"""FastAPI application: events in, alerts out, health, readiness and metrics."""

import asyncio
import hmac
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import orjson
import psycopg_pool
from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.types import Lifespan

from sealguard.alerts.config import DEFAULT_TWO_PERSON
from sealguard.alerts.lifecycle import Decision
from sealguard.ingest.inbound import EventSink
from sealguard.roads import RoadMap
from sealguard.schemas.alerts import StoredAlert
from sealguard.schemas.events import INSPECTION_POINTS
from sealguard.store.alert_rows import AlertQuery, page_of_alerts
from sealguard.store.migrate import ping
from sealguard.store.tokens import ALL_TENANTS, Principal
from sealguard.stream import Act, Inbound, ItemResult
from sealguard.stream.interop import DeviceBook
from sealguard.stream.live import UpdateHub
from sealguard.web import (
    alerts_api,
    compliance_api,
    evidence_api,
    fleet_api,
    interop_api,
    pages,
    policy_api,
    signin,
)
from sealguard.web.auth import TokenCache, origin_of, require, tenant_scope
from sealguard.web.bodies import BodyLimit, HttpLimits, read_limited
from sealguard.web.ratelimit import RateLimiter
from sealguard.web.signin import SignInConfig
from sealguard.web.waiting import stored

API = "/api/v1"


class Actions(Protocol):
    """Where people's actions on alerts go: the pipeline (``up``), or the database and the workers'
    control records (the api role)."""

    async def act(self, action: Act) -> tuple[Decision, StoredAlert | None]: ...


@dataclass(kw_only=True)
class HealthRuntime:
    """What every role's HTTP side has: readiness of its connections and its metrics."""

    pool: psycopg_pool.AsyncConnectionPool[Any]
    brokers: dict[str, Any] = field(default_factory=dict)  # name -> object with .connected
    metrics_token: str | None = None  # when set, /metrics needs it as a bearer token
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)  # what /metrics serves


@dataclass(kw_only=True)
class Runtime(HealthRuntime):
    """What the web API uses besides: where events go, where people's actions go, the live updates (it
    reads the database for everything else, the conveyances' projection included)."""

    sink: EventSink
    actions: Actions
    hub: UpdateHub = field(default_factory=UpdateHub)
    limits: HttpLimits = field(default_factory=HttpLimits)
    rate_per_s: float = 1000.0  # events submitted per second, per token (the Settings defaults)
    rate_burst: float = 2000.0
    map_tile_url: str | None = None  # tiles under the maps; None: the bundled offline base map
    map_attribution: str = ""
    roads: RoadMap | None = None  # the operator's roads for the offline base map (SEALGUARD_MAP_ROADS)
    signin: SignInConfig = field(default_factory=lambda: SignInConfig(public_url="http://127.0.0.1:8000"))
    signing_key: Path | None = None  # the site's key for incident packages (made on first export); None: none
    site_name: str = "sealguard"
    photo_max_bytes: int = 4 * 1024 * 1024
    photo_location: Literal["strip", "keep"] = "strip"
    two_person_rules: list[str] = field(default_factory=lambda: list(DEFAULT_TWO_PERSON))
    policy_path: Path | None = None  # the policy in force (None: the defaults), for the policy page


def _health(app: FastAPI, rt: HealthRuntime) -> None:
    """Security headers, NUL refusal, liveness, readiness and metrics: on every role's HTTP side."""

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        """No page of ours may be framed (clickjacking of Acknowledge), sniffed or leak its URL (the
        dashboard may carry a token in its fragment)."""
        response: Response = await call_next(request)
        policy = response.headers.get("Content-Security-Policy")
        if policy is None:
            response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        elif "frame-ancestors" not in policy:
            response.headers["Content-Security-Policy"] = f"{policy}; frame-ancestors 'none'"
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.middleware("http")
    async def refuse_nul(request: Request, call_next: Any) -> Response:
        """PostgreSQL text cannot hold NUL: refuse it in the path or query with a 400, not a 500."""
        if "\x00" in request.url.path or any("\x00" in k or "\x00" in v for k, v in request.query_params.multi_items()):
            return JSONResponse({"detail": "the path or query contains a NUL character"}, status_code=400)
        return await call_next(request)  # type: ignore[no-any-return]

    limits: HttpLimits = getattr(rt, "limits", HttpLimits(max_body=64 * 1024))  # a worker's side reads none
    app.add_middleware(BodyLimit, limit=limits.max_body)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Alive: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """Ready: the database answers and every configured broker is connected."""
        checks: dict[str, bool] = {}
        try:
            async with asyncio.timeout(2):
                async with rt.pool.connection(timeout=2) as conn:
                    await ping(conn)
            checks["database"] = True
        except Exception:
            checks["database"] = False
        for name, source in rt.brokers.items():
            checks[name] = bool(getattr(source, "connected", False))
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503
        )

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        if rt.metrics_token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {rt.metrics_token}".encode()):
                raise HTTPException(401, "metrics need the metrics token", {"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(rt.registry), media_type=CONTENT_TYPE_LATEST)


def create_health_app(rt: HealthRuntime, *, lifespan: Lifespan[FastAPI] | None = None) -> FastAPI:
    """Health, readiness and metrics only: the HTTP side of a worker or a notifier."""
    app = FastAPI(title="sealguard", version="1", openapi_url=None, docs_url=None, redoc_url=None,
                  lifespan=lifespan)  # fmt: skip
    app.state.rt = rt
    _health(app, rt)
    return app


def create_app(rt: Runtime, *, lifespan: Lifespan[FastAPI] | None = None) -> FastAPI:
    """The web application over ``rt``; ``lifespan`` (the role's) opens and closes what ``rt`` holds."""
    # No docs UI: FastAPI's loads its scripts from a CDN, and no page of ours runs third-party code.
    app = FastAPI(title="sealguard", version="1", openapi_url=f"{API}/openapi.json", docs_url=None,
                  redoc_url=None, lifespan=lifespan)  # fmt: skip
    app.state.rt = rt
    app.state.tokens = TokenCache(rt.pool, rt.signin.idle)
    # one budget per token or person, whichever endpoint its events come through (native or partner)
    limiter = app.state.limiter = RateLimiter(rt.rate_per_s, rt.rate_burst)
    app.state.streams = {}  # open live streams per token or person (fleet_api)
    _health(app, rt)

    if rt.signin.public_url.startswith("https:"):

        @app.middleware("http")
        async def strict_transport(request: Request, call_next: Any) -> Response:
            """A site served over https tells browsers never to reach it over http (RFC 6797)."""
            response: Response = await call_next(request)
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            return response

    @app.post(f"{API}/events", tags=["events"])
    async def post_events(request: Request, who: Annotated[Principal, require("scanner")]) -> JSONResponse:
        """Submit one event or an array of events. Each item is answered: accepted, duplicate, or
        rejected with the reason (rejected items are kept in the dead-letter table), with its
        ``index`` in the request; an accepted item lists the ``findings`` it raised. A single event that
        is rejected answers 422. Limited per token, counting events (429 with Retry-After past the
        rate)."""
        body = await read_limited(request, rt.limits.max_body, max_containers=rt.limits.max_containers)
        tenant = None if who.tenant == ALL_TENANTS else who.tenant
        client = request.client.host if request.client else None
        origin = origin_of(who, client)
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            if len(parsed) > rt.limits.max_batch:
                raise HTTPException(413, f"at most {rt.limits.max_batch} events per request; got {len(parsed)}")
            items: list[Any] = parsed
        else:
            items = [parsed if isinstance(parsed, dict) else body]  # not JSON: dead-lettered with the reason
        wait = limiter.take(who.key, cost=max(1, len(items)))
        if wait > 0:
            raise HTTPException(429, f"too many events for this token; retry in {wait:.1f} s",
                                {"Retry-After": str(max(1, math.ceil(wait)))})  # fmt: skip
        futures = []
        for i, item in enumerate(items):
            raw = orjson.dumps(item) if isinstance(parsed, list) else body  # a single event keeps its bytes
            futures.append(await rt.sink.submit(Inbound(raw, "http", {**origin, "index": i}, tenant=tenant,
                                                        role=who.role, facility=who.bound_facility)))  # fmt: skip
        results: list[ItemResult] = list(await stored(asyncio.gather(*futures)))
        counts = {s: sum(r.status == s for r in results) for s in ("accepted", "duplicate", "rejected")}
        payload: dict[str, Any] = {**counts, "results": [{"index": i, **r.to_json()} for i, r in enumerate(results)]}
        if not isinstance(parsed, list | dict):
            return JSONResponse(payload, status_code=400)
        if isinstance(parsed, dict) and results[0].status == "rejected":
            return JSONResponse(payload, status_code=422)
        return JSONResponse(payload)

    @app.get(f"{API}/alerts", tags=["alerts"])
    async def list_alerts(
        who: Annotated[Principal, require("operator")],
        tenant: str | None = None,
        status: Literal["open", "acknowledged", "resolved", "unresolved"] | None = None,
        severity: Literal["critical", "high", "medium", "low"] | None = None,
        rule: str | None = None,
        conveyance: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        search: Annotated[str | None, Query(max_length=64)] = None,
        sort: Literal["newest", "oldest", "severity"] = "newest",
    ) -> dict[str, Any]:
        """Alerts, filtered (``status=unresolved``: open or acknowledged) and sorted (newest first, oldest
        first, or worst severity first), a page at a time with ``offset`` (``next_offset`` says where to go
        on; ``total`` counts every match). ``search`` finds conveyances by part of their id, ignoring case."""
        scope = tenant_scope(who, tenant)
        wanted = AlertQuery(tenant=scope, status=status, severity=severity, rule=rule, conveyance=conveyance,
                            since=since, until=until, search=search, sort=sort)  # fmt: skip
        async with rt.pool.connection() as conn:
            rows, total = await page_of_alerts(conn, wanted, limit, offset)
        more = offset + limit if total > offset + limit else None
        return {"alerts": [a.document() for a in rows], "next_offset": more, "total": total}

    @app.get(f"{API}/reference/inspection-points", tags=["reference"])
    async def inspection_points(who: Annotated[Principal, require("scanner")]) -> dict[str, Any]:
        """The required points of each inspection type (MSC 5.3), for checklists."""
        return {"points": {k: list(v) for k, v in INSPECTION_POINTS.items()}}

    app.include_router(alerts_api.router())
    app.include_router(evidence_api.router())
    app.include_router(compliance_api.router())
    app.include_router(policy_api.router())
    app.include_router(fleet_api.router())
    app.include_router(interop_api.router(DeviceBook(rt.pool)))
    app.include_router(signin.router(rt.signin, rt.pool, app.state.tokens))
    app.include_router(pages.router(rt.map_tile_url, rt.map_attribution, rt.roads))
    return app
