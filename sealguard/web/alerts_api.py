"""Alert detail and actions, and silences. The actor of every action is the token's label, never a
name the caller types, so the audit trail says who really did it (issue one token per person)."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sealguard.alerts.matchers import validate_all
from sealguard.rules.guidance import rule_guide
from sealguard.store import alert_detail, people, silences
from sealguard.store import photos as store_photos
from sealguard.store.alert_rows import fetch_alerts, select_alerts, utc_iso
from sealguard.store.tokens import ALL_TENANTS, Principal
from sealguard.stream import Act
from sealguard.web.auth import require, tenant_scope
from sealguard.web.bodies import Text
from sealguard.web.evidence_api import photo_json
from sealguard.web.waiting import stored

Verb = Literal["acknowledge", "resolve", "comment", "assign"]
MAX_BULK = 500


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text | None = Field(None, max_length=4000)
    assignee: Text | None = Field(None, min_length=1, max_length=200)


class BulkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verb: Literal["acknowledge", "resolve", "comment"]
    alert_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_BULK)
    note: Text | None = Field(None, max_length=4000)


class SilenceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: list[Annotated[Text, Field(max_length=500)]] = Field(
        min_length=1, max_length=20, description='e.g. ["conveyance_id=\\"MSCU1234565\\""]'
    )
    reason: Text = Field(min_length=1, max_length=2000)
    tenant: Text | None = Field(None, max_length=64, description="only for an all-tenants token")
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    duration_minutes: float | None = Field(None, gt=0, le=60 * 24 * 90)

    @field_validator("matchers")
    @classmethod
    def _valid(cls, v: list[str]) -> list[str]:
        return validate_all(v)

    @model_validator(mode="after")
    def _end(self) -> "SilenceBody":
        if (self.ends_at is None) == (self.duration_minutes is None):
            raise ValueError("give exactly one of ends_at or duration_minutes")
        for t in (self.starts_at, self.ends_at):
            if t is not None and t.tzinfo is None:
                raise ValueError("times need a UTC offset, e.g. 2026-11-22T10:00:00Z")
        return self


def _silence_json(r: silences.Silence) -> dict[str, Any]:
    return {"silence_id": r.silence_id, "tenant": r.tenant, "matchers": r.matchers, "starts_at": utc_iso(r.starts_at),
            "ends_at": utc_iso(r.ends_at), "created_by": r.created_by, "reason": r.reason,
            "created_at": utc_iso(r.created_at),
            "expired_at": utc_iso(r.expired_at) if r.expired_at else None}  # fmt: skip


def router() -> APIRouter:
    api = APIRouter(prefix="/api/v1")

    @api.get("/alerts/{alert_id}", tags=["alerts"])
    async def get_alert(request: Request, alert_id: uuid.UUID,
                        who: Annotated[Principal, require("operator")]) -> dict[str, Any]:  # fmt: skip
        """One alert with its evidence events, its full history (who did what), its notifications, its
        rule: the condition, the CTPAT criterion and what to do (``rule``; null for an unknown rule), and the
        dock photos of its trip's checks."""
        scope = tenant_scope(who, None)
        async with request.app.state.rt.pool.connection() as conn:
            found = await fetch_alerts(
                conn, select_alerts("alert_id = %s AND (%s::text IS NULL OR tenant = %s)"), (alert_id, scope, scope)
            )
            if not found:
                raise HTTPException(404, f"no alert {alert_id}")
            alert = found[0]
            history = [h.document() for h in await alert_detail.history(conn, alert.tenant, str(alert_id))]
            evidence = await alert_detail.evidence(conn, alert.tenant, alert.evidence)
            notifications = [n.document() for n in await alert_detail.notifications(conn, str(alert_id))]
            taken = await store_photos.of_trip(conn, alert.tenant, alert.trip_id, alert.evidence)
        return {"alert": alert.document(), "history": history, "evidence": evidence, "notifications": notifications,
                "rule": rule_guide(alert.rule_id), "photos": [photo_json(p) for p in taken]}  # fmt: skip

    @api.post("/alerts-bulk", tags=["alerts"], response_class=StreamingResponse,
              responses={200: {"content": {"application/x-ndjson": {}}}})  # fmt: skip
    async def act_on_alerts(request: Request, body: BulkBody,
                            who: Annotated[Principal, require("operator")]) -> StreamingResponse:  # fmt: skip
        """One action on many alerts in one request: each is recorded under the caller as if done alone
        (the two-person rule holds for each). The answer streams one JSON line per alert as it is done
        (``{"alert_id", "ok", "status" | "error"}``), then a summary line: a console shows the progress."""
        scope = None if who.tenant == ALL_TENANTS else who.tenant
        ids = list(dict.fromkeys(str(i) for i in body.alert_ids))
        actions = request.app.state.rt.actions

        async def lines() -> AsyncIterator[bytes]:
            done = failed = 0
            for alert_id in ids:
                act = Act(alert_id, body.verb, who.label, scope, note=body.note, identity=who.identity)
                try:
                    decision, doc = await stored(actions.act(act))
                except HTTPException as exc:
                    line = {"alert_id": alert_id, "ok": False, "error": str(exc.detail)}
                else:
                    if decision.error is not None:
                        line = {"alert_id": alert_id, "ok": False, "error": decision.error}
                    else:
                        line = {"alert_id": alert_id, "ok": True, "status": doc.status if doc else None,
                                "recorded": [action for action, _ in decision.history]}  # fmt: skip
                done, failed = (done + 1, failed) if line["ok"] else (done, failed + 1)
                yield orjson.dumps(line) + b"\n"
            yield orjson.dumps({"summary": True, "done": done, "failed": failed, "of": len(ids)}) + b"\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @api.post("/alerts/{alert_id}/{verb}", tags=["alerts"])
    async def act_on_alert(request: Request, alert_id: uuid.UUID, verb: Verb,
                           who: Annotated[Principal, require("operator")],
                           body: ActionBody | None = None) -> JSONResponse:  # fmt: skip
        """Acknowledge (stops escalation), resolve (two people for the two-person rules), comment, or assign.
        Answers the alert after the action; 409 when the action does not fit its state."""
        body = body or ActionBody()
        scope = None if who.tenant == ALL_TENANTS else who.tenant
        decision, doc = await stored(
            request.app.state.rt.actions.act(
                Act(
                    str(alert_id),
                    verb,
                    who.label,
                    scope,
                    note=body.note,
                    assignee=body.assignee,
                    identity=who.identity,
                )
            )
        )
        if decision.error is not None:
            raise HTTPException(decision.code, decision.error)
        steps = [action for action, _ in decision.history]
        return JSONResponse({"alert": doc.document() if doc is not None else None, "recorded": steps})

    @api.get("/people", tags=["alerts"])
    async def assignable_people(request: Request, who: Annotated[Principal, require("operator")],
                                tenant: str | None = None) -> dict[str, Any]:  # fmt: skip
        """The people of the tenant an alert can be assigned to (the alert page's pick list)."""
        scope = tenant_scope(who, tenant)
        async with request.app.state.rt.pool.connection() as conn:
            found = await people.assignable(conn, scope)
        return {"people": [{"username": u, "name": n, "role": r, "label": f"{n} ({u})"} for u, n, r in found]}

    @api.post("/silences", tags=["silences"], status_code=201)
    async def create_silence(request: Request, body: SilenceBody,
                             who: Annotated[Principal, require("admin")]) -> dict[str, Any]:  # fmt: skip
        """Mute notifications (not alerts: they are still raised, stored and shown) for matching alerts."""
        tenant = tenant_scope(who, body.tenant)
        if tenant is None:
            raise HTTPException(422, "an all-tenants token must name the tenant of the silence")
        now = datetime.now(UTC)
        starts = body.starts_at or now
        ends = body.ends_at or starts + timedelta(minutes=body.duration_minutes or 0)
        if ends <= starts:
            raise HTTPException(422, "ends_at must be after starts_at")
        async with request.app.state.rt.pool.connection() as conn:
            made = await silences.create(conn, tenant, body.matchers, starts, ends, who.label, body.reason, now)
        return _silence_json(made)

    @api.get("/silences", tags=["silences"])
    async def list_silences(request: Request, who: Annotated[Principal, require("operator")],
                            tenant: str | None = None, active: bool = False) -> dict[str, Any]:  # fmt: skip
        scope = tenant_scope(who, tenant)
        async with request.app.state.rt.pool.connection() as conn:
            found = await silences.listed(conn, scope, datetime.now(UTC) if active else None)
        return {"silences": [_silence_json(r) for r in found]}

    @api.delete("/silences/{silence_id}", tags=["silences"])
    async def expire_silence(request: Request, silence_id: uuid.UUID,
                             who: Annotated[Principal, require("admin")]) -> dict[str, Any]:  # fmt: skip
        """Expire a silence now (it is kept, with the time it was expired)."""
        scope = tenant_scope(who, None)
        async with request.app.state.rt.pool.connection() as conn:
            expired = await silences.expire(conn, silence_id, scope, datetime.now(UTC))
        if expired is None:
            raise HTTPException(404, f"no silence {silence_id}")
        return _silence_json(expired)

    return api
