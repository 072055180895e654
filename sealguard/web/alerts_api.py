"""Alert detail and actions, and silences. The actor of every action is the token's label, never a
name the caller types, so the audit trail says who really did it (issue one token per person)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from psycopg import sql
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sealguard.alerts.matchers import validate_all
from sealguard.pipeline import Act
from sealguard.rules.catalog import RULES
from sealguard.rules.guidance import GUIDANCE
from sealguard.store.alert_rows import fetch_alerts, select_alerts, utc_iso
from sealguard.store.tokens import ALL_TENANTS, Principal
from sealguard.web.auth import require, tenant_scope
from sealguard.web.bodies import Text
from sealguard.web.waiting import stored

Verb = Literal["acknowledge", "resolve", "comment", "assign"]


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text | None = Field(None, max_length=4000)
    assignee: Text | None = Field(None, min_length=1, max_length=200)


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


def _history_json(r: Any) -> dict[str, Any]:
    return {"chain_seq": r[0], "action": r[1], "actor": r[2], "note": r[3], "at": utc_iso(r[4]), "detail": r[5]}


def _silence_json(r: Any) -> dict[str, Any]:
    return {"silence_id": r[0], "tenant": r[1], "matchers": r[2], "starts_at": utc_iso(r[3]), "ends_at": utc_iso(r[4]),
            "created_by": r[5], "reason": r[6], "created_at": utc_iso(r[7]),
            "expired_at": utc_iso(r[8]) if r[8] else None}  # fmt: skip


SILENCE_COLUMNS = sql.SQL(
    "silence_id::text, tenant, matchers, starts_at, ends_at, created_by, reason, created_at, expired_at"
)


def rule_guide(rule_id: str) -> dict[str, Any] | None:
    """The rule's title, criterion, default severity, whether it resolves itself, its condition and what to do."""
    spec, guide = RULES.get(rule_id), GUIDANCE.get(rule_id)
    if spec is None or guide is None:
        return None
    return {"rule_id": rule_id, "title": spec.title, "criterion": spec.criterion, "severity": spec.severity,
            "resolves": "itself when its condition clears" if spec.auto else "when people resolve it",
            "when": guide.when, "what_to_do": list(guide.steps)}  # fmt: skip


def router() -> APIRouter:
    api = APIRouter(prefix="/api/v1")

    @api.get("/alerts/{alert_id}", tags=["alerts"])
    async def get_alert(request: Request, alert_id: uuid.UUID,
                        who: Annotated[Principal, require("operator")]) -> dict[str, Any]:  # fmt: skip
        """One alert with its evidence events, its full history (who did what), its notifications, and its
        rule: the condition, the CTPAT criterion and what to do (``rule``; null for an unknown rule)."""
        scope = tenant_scope(who, None)
        async with request.app.state.rt.pool.connection() as conn:
            found = await fetch_alerts(
                conn, select_alerts("alert_id = %s AND (%s::text IS NULL OR tenant = %s)"), (alert_id, scope, scope)
            )
            if not found:
                raise HTTPException(404, f"no alert {alert_id}")
            alert = found[0]
            cur = await conn.execute(
                "SELECT chain_seq, action, actor, note, at, detail FROM alert_history"
                " WHERE tenant = %s AND alert_id = %s ORDER BY chain_seq",
                (alert["tenant"], alert_id),
            )
            history = [_history_json(r) for r in await cur.fetchall()]
            cur = await conn.execute(
                "SELECT e.payload FROM event_ids i JOIN events e ON e.seq = i.seq"
                " WHERE i.tenant = %s AND i.event_id = ANY(%s) ORDER BY e.occurred_at, e.seq",
                (alert["tenant"], list(alert["evidence"])),
            )
            evidence = [r[0] for r in await cur.fetchall()]
            cur = await conn.execute(
                "SELECT receiver, channel, kind, tier, status, attempts, due_at, sent_at, last_error, reason"
                " FROM outbox WHERE alert_id = %s ORDER BY id",
                (alert_id,),
            )
            notifications = [
                {"receiver": r[0], "channel": r[1], "kind": r[2], "tier": r[3], "status": r[4], "attempts": r[5],
                 "due_at": utc_iso(r[6]), "sent_at": utc_iso(r[7]) if r[7] else None, "last_error": r[8],
                 "reason": r[9]}
                for r in await cur.fetchall()
            ]  # fmt: skip
        return {"alert": alert, "history": history, "evidence": evidence, "notifications": notifications,
                "rule": rule_guide(alert["rule_id"])}  # fmt: skip

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
        return JSONResponse({"alert": doc, "recorded": steps})

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
            cur = await conn.execute(
                sql.SQL(
                    "INSERT INTO silences (silence_id, tenant, matchers, starts_at, ends_at, created_by, reason,"
                    " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {columns}"
                ).format(columns=SILENCE_COLUMNS),
                (uuid.uuid4(), tenant, Jsonb(body.matchers), starts, ends, who.label, body.reason, now),
            )
            row = await cur.fetchone()
        return _silence_json(row)

    @api.get("/silences", tags=["silences"])
    async def list_silences(request: Request, who: Annotated[Principal, require("operator")],
                            tenant: str | None = None, active: bool = False) -> dict[str, Any]:  # fmt: skip
        scope = tenant_scope(who, tenant)
        now = datetime.now(UTC)
        async with request.app.state.rt.pool.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT {columns} FROM silences WHERE (%s::text IS NULL OR tenant = %s)"
                    " AND (NOT %s OR (expired_at IS NULL AND ends_at > %s)) ORDER BY created_at DESC LIMIT 1000"
                ).format(columns=SILENCE_COLUMNS),
                (scope, scope, active, now),
            )
            rows = await cur.fetchall()
        return {"silences": [_silence_json(r) for r in rows]}

    @api.delete("/silences/{silence_id}", tags=["silences"])
    async def expire_silence(request: Request, silence_id: uuid.UUID,
                             who: Annotated[Principal, require("admin")]) -> dict[str, Any]:  # fmt: skip
        """Expire a silence now (it is kept, with the time it was expired)."""
        scope = tenant_scope(who, None)
        async with request.app.state.rt.pool.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "UPDATE silences SET expired_at = COALESCE(expired_at, %s) WHERE silence_id = %s"
                    " AND (%s::text IS NULL OR tenant = %s) RETURNING {columns}"
                ).format(columns=SILENCE_COLUMNS),
                (datetime.now(UTC), silence_id, scope, scope),
            )
            row = await cur.fetchone()
        if row is None:
            raise HTTPException(404, f"no silence {silence_id}")
        return _silence_json(row)

    return api
