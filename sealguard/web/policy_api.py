"""The policy page's API: the effective policy, and a backtest of a proposed one over a stored window
(``sealguard backtest``, run as its own process at low priority, one at a time: the live engine is
neither touched nor starved)."""

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from sealguard.rules.policy import Policy, PolicyError, render
from sealguard.store.tokens import Principal
from sealguard.web.auth import require, tenant_scope

TIMEOUT_S = 900.0
_running = asyncio.Lock()


class BacktestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: str = Field(min_length=1, max_length=64 * 1024, description="the proposed policy (YAML)")
    since: datetime
    until: datetime
    tenant: str | None = Field(None, max_length=64)
    warmup_hours: float = Field(48.0, ge=0, le=24 * 31)


def policy_in_force(request: Request) -> Policy:
    """The policy in force (loaded once per process; a policy change restarts the roles)."""
    state = request.app.state
    if getattr(state, "policy", None) is None:
        path = state.rt.policy_path
        state.policy = Policy.load(path) if path else Policy()
    found: Policy = state.policy
    return found


def router() -> APIRouter:
    api = APIRouter(prefix="/api/v1")

    @api.get("/policy", tags=["policy"])
    async def effective_policy(request: Request, who: Annotated[Principal, require("operator")]) -> dict[str, Any]:
        """The policy in force, as the caller's tenant sees it: YAML with each rule's meaning as comments."""
        tenant = tenant_scope(who, None)
        return {"tenant": tenant, "yaml": render(policy_in_force(request), tenant)}

    @api.post("/backtest", tags=["policy"])
    async def backtest(request: Request, body: BacktestBody,
                       who: Annotated[Principal, require("admin")]) -> dict[str, Any]:  # fmt: skip
        """Replay the stored events of ``[since, until)`` under the proposed policy and the current one;
        the alerts that would appear, disappear, or change severity or time, per rule, with examples."""
        for t in (body.since, body.until):
            if t.tzinfo is None:
                raise HTTPException(422, "times need a UTC offset, e.g. 2026-11-01T00:00:00Z")
        if body.until <= body.since or (body.until - body.since).days > 92:
            raise HTTPException(422, "until must be after since, and the window at most 92 days")
        try:
            Policy.parse(body.policy, source="proposed policy")
        except PolicyError as exc:
            raise HTTPException(422, str(exc)) from None
        tenant = tenant_scope(who, body.tenant)
        if _running.locked():
            raise HTTPException(429, "a backtest is running; try again when it is done", {"Retry-After": "30"})
        async with _running:
            return await _run(request, body, tenant)

    return api


async def _run(request: Request, body: BacktestBody, tenant: str | None) -> dict[str, Any]:
    rt = request.app.state.rt
    with tempfile.TemporaryDirectory(prefix="sg-backtest-") as tmp:
        proposed = Path(tmp) / "proposed.yaml"
        proposed.write_text(body.policy, encoding="utf-8")
        args = [sys.executable, "-m", "sealguard.cli", "backtest", "--policy", str(proposed), "--since",
                body.since.isoformat(), "--until", body.until.isoformat(), "--warmup-hours", str(body.warmup_hours),
                "--json"]  # fmt: skip
        if rt.policy_path is not None:
            args += ["--current", str(rt.policy_path)]
        if tenant is not None:
            args += ["--tenant", tenant]
        env = {**os.environ, "SEALGUARD_DATABASE_URL": rt.pool.conninfo}
        nice = shutil.which("nice")
        if nice:  # below the live path's priority
            args = [nice, "-n", "10", *args]
        proc = await asyncio.create_subprocess_exec(*args, env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)  # fmt: skip
        try:
            out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
        except (TimeoutError, asyncio.CancelledError):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise HTTPException(504, f"the backtest took longer than {TIMEOUT_S:.0f} s") from None
    if proc.returncode != 0:
        raise HTTPException(500, "the backtest failed: " + err.decode(errors="replace").strip()[-500:])
    doc: dict[str, Any] = orjson.loads(out)
    return doc
