"""Evidence over HTTP (docs/evidence.md): an operator downloads the signed incident package of an alert
of their tenant; a dock attaches photos to its inspections and seal checks; anyone may read the site's
public key, which is what a third party checks a package with (it is public by design: it proves, it
grants nothing)."""

import asyncio
import math
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, HTTPException, Query, Request, Response

from sealguard.evidence import gather, keys, photos
from sealguard.store import photos as store_photos
from sealguard.store.alert_rows import utc_iso
from sealguard.store.tokens import Principal
from sealguard.web.auth import require, tenant_scope
from sealguard.web.bodies import read_limited
from sealguard.web.ratelimit import RateLimiter

_lock = asyncio.Lock()
MAX_PER_CHECK = 10


def photo_json(p: store_photos.PhotoInfo) -> dict[str, Any]:
    return {"photo_id": p.photo_id, "event_id": p.event_id, "conveyance_id": p.conveyance_id, "trip_id": p.trip_id,
            "subject": p.subject, "content_type": p.content_type, "bytes": p.size, "sha256": p.sha256,
            "location": p.location, "taken_by": p.taken_by, "uploaded_at": utc_iso(p.uploaded_at),
            "url": f"/api/v1/photos/{p.photo_id}"}  # fmt: skip


async def site_key(request: Request) -> Ed25519PrivateKey:
    """The site's key, loaded (or made) once per process."""
    state = request.app.state
    async with _lock:
        found: Ed25519PrivateKey | None = getattr(state, "site_key", None)
        if found is None:
            path = request.app.state.rt.signing_key
            if path is None:
                raise HTTPException(503, "this process has no signing key configured (SEALGUARD_SIGNING_KEY)")
            try:
                found = await asyncio.to_thread(keys.load_or_create, path)
            except keys.SigningKeyError as exc:
                raise HTTPException(503, f"the site's signing key cannot be used: {exc}") from None
            state.site_key = found
        return found


def router() -> APIRouter:
    api = APIRouter(prefix="/api/v1")

    @api.get("/alerts/{alert_id}/incident", tags=["evidence"], response_class=Response,
             responses={200: {"content": {"application/zip": {}}}})  # fmt: skip
    async def incident_package(request: Request, alert_id: uuid.UUID,
                               who: Annotated[Principal, require("operator")]) -> Response:  # fmt: skip
        """The alert's incident package: reports (HTML, PDF), the evidence with its original bytes and
        partner messages, photos, history with its hash chain, notifications, a manifest signed by the
        site's key. Check it with ``sealguard incident verify`` or by hand (docs/evidence.md)."""
        key = await site_key(request)
        rt = request.app.state.rt
        async with rt.pool.connection() as conn:
            data = await gather.export(conn, str(alert_id), tenant_scope(who, None), key, by=who.label,
                                       site=rt.site_name)  # fmt: skip
        if data is None:
            raise HTTPException(404, f"no alert {alert_id}")
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"incident-{alert_id}.zip")
        return Response(data, media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip

    @api.post("/photos", tags=["evidence"], status_code=201)
    async def add_photo(request: Request, who: Annotated[Principal, require("scanner")],
                        event_id: Annotated[str, Query(min_length=1, max_length=200)],
                        subject: Annotated[Literal["seal", "doors", "other"], Query()] = "seal",
                        conveyance_id: Annotated[str | None, Query(max_length=64)] = None,
                        trip_id: Annotated[str | None, Query(max_length=200)] = None,
                        tenant: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:  # fmt: skip
        """Attach a photo (the request body: JPEG, PNG or WebP bytes) to the inspection or seal check
        ``event_id`` of the caller's tenant. The type is read from the bytes; the EXIF location is stripped
        or kept as the site's policy says; at most 10 photos per check."""
        rt = request.app.state.rt
        scope = tenant_scope(who, tenant)
        if scope is None:
            raise HTTPException(422, "an all-tenants token must name the tenant of the photo")
        for text in (event_id, conveyance_id, trip_id):
            if text is not None and ("\x00" in text or not text.isprintable()):
                raise HTTPException(422, "ids must be printable text")
        limiter: RateLimiter = request.app.state.limiter  # the event budget: a photo costs as a hundred events
        wait = limiter.take(who.key, cost=100)
        if wait > 0:
            raise HTTPException(429, f"too many uploads; retry in {wait:.1f} s", {"Retry-After": str(math.ceil(wait))})
        raw = await read_limited(request, rt.photo_max_bytes)
        try:
            photo = await asyncio.to_thread(
                photos.accept, raw, max_bytes=rt.photo_max_bytes, location=rt.photo_location
            )
        except photos.PhotoRefused as exc:
            raise HTTPException(exc.status, str(exc)) from None
        async with rt.pool.connection() as conn, conn.transaction():
            await store_photos.lock_event(conn, scope, event_id)
            if await store_photos.count_for_event(conn, scope, event_id) >= MAX_PER_CHECK:
                raise HTTPException(409, f"check {event_id} has {MAX_PER_CHECK} photos already")
            info = await store_photos.add(conn, scope, event_id, conveyance_id, trip_id, subject, photo.content_type,
                                          photo.data, photo.sha256, photo.location, who.label,
                                          datetime.now(UTC))  # fmt: skip
        return photo_json(info)

    @api.get("/photos/{photo_id}", tags=["evidence"], response_class=Response,
             responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}})  # fmt: skip
    async def get_photo(request: Request, photo_id: uuid.UUID,
                        who: Annotated[Principal, require("scanner")]) -> Response:  # fmt: skip
        """A photo of the caller's tenant (a dock sees what it took; an operator, the alert's photos)."""
        async with request.app.state.rt.pool.connection() as conn:
            found = await store_photos.get(conn, str(photo_id), tenant_scope(who, None))
        if found is None:
            raise HTTPException(404, f"no photo {photo_id}")
        content_type, data, digest = found
        return Response(data, media_type=content_type, headers={"ETag": f'"{digest}"', "Cache-Control": "private",
                                                                "Content-Disposition": "inline"})  # fmt: skip

    @api.get("/site-key", tags=["evidence"])
    async def public_site_key(request: Request) -> dict[str, str]:
        """The public key incident packages are signed with (PEM) and its fingerprint."""
        key = await site_key(request)
        return {"algorithm": "Ed25519", "public_key_pem": keys.public_pem(key).decode(),
                "fingerprint": keys.fingerprint(key)}  # fmt: skip

    return api
