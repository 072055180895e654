"""Compliance figures over HTTP: a tenant's CTPAT figures over a period, grouped by facility, carrier or
lane, as JSON for the page's charts and as CSV for a spreadsheet (docs/evidence.md)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response

from sealguard.evidence.figures import Period, document, to_csv
from sealguard.store import compliance
from sealguard.store.tokens import Principal
from sealguard.web.auth import require, tenant_scope

MAX_SPAN = timedelta(days=3 * 366)


def router() -> APIRouter:
    api = APIRouter(prefix="/api/v1")

    @api.get("/compliance", tags=["evidence"], responses={200: {"content": {"text/csv": {}}}})
    async def figures(request: Request, who: Annotated[Principal, require("operator")],
                      since: Annotated[datetime, Query(description="start of the period (trips planned from)")],
                      until: Annotated[datetime, Query(description="end of the period (exclusive)")],
                      by: Literal["facility", "carrier", "lane", "tenant"] = "facility",
                      tenant: Annotated[str | None, Query(max_length=64)] = None,
                      format: Literal["json", "csv"] = "json") -> Any:  # fmt: skip
        """Share of trips inspected (and passed) before sealing, share with a passing VVTT at arrival, seal
        discrepancies per 100 trips, alerts by rule and severity, time to acknowledge and to resolve (median,
        p90), share of two-person closures done by two people; per group and for the tenant."""
        scope = tenant_scope(who, tenant)
        if scope is None:
            raise HTTPException(422, "an all-tenants token must name the tenant")
        for t in (since, until):
            if t.tzinfo is None:
                raise HTTPException(422, "times need a UTC offset, e.g. 2026-01-01T00:00:00Z")
        if until <= since or until - since > MAX_SPAN:
            raise HTTPException(422, "until must be after since, and the period at most three years")
        rt = request.app.state.rt
        async with rt.pool.connection() as conn, conn.transaction():
            await compliance.bounded(conn)
            trips = await compliance.trip_counts(conn, scope, since, until, by)
            alerts = await compliance.alert_counts(conn, scope, since, until, by, rt.two_person_rules)
        doc = document(Period(scope, since.astimezone(UTC), until.astimezone(UTC), by), trips, alerts)
        if format == "csv":
            name = f"compliance-{scope}-{since:%Y%m%d}-{until:%Y%m%d}-{by}.csv".replace('"', "")
            return Response(to_csv(doc), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
        return doc

    return api
