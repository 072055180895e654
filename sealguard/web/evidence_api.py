"""The incident package over HTTP (docs/evidence.md): an operator downloads the signed package of an
alert of their tenant; anyone may read the site's public key, which is what a third party checks a
package with (it is public by design: it proves, it grants nothing)."""

import asyncio
import re
import uuid
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, HTTPException, Request, Response

from sealguard.evidence import gather, keys
from sealguard.store.tokens import Principal
from sealguard.web.auth import require, tenant_scope

_lock = asyncio.Lock()


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

    @api.get("/site-key", tags=["evidence"])
    async def public_site_key(request: Request) -> dict[str, str]:
        """The public key incident packages are signed with (PEM) and its fingerprint."""
        key = await site_key(request)
        return {"algorithm": "Ed25519", "public_key_pem": keys.public_pem(key).decode(),
                "fingerprint": keys.fingerprint(key)}  # fmt: skip

    return api
