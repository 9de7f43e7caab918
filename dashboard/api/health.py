"""``GET /api/health``: whether the dashboard and what it depends on answer (no token)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from dashboard.deps import StateDep
from dashboard.state import AppState

router = APIRouter(tags=["health"])


def _checks(state: AppState) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        state.redis.ping()
        out["redis"] = "ok"
    except Exception as exc:  # any failure is reported, not raised
        out["redis"] = f"error: {type(exc).__name__}"
    try:
        state.store.ping()
        out["store"] = "ok"
    except Exception as exc:
        out["store"] = f"error: {type(exc).__name__}"
    return out


@router.get("/api/health", summary="Liveness and dependencies; needs no token")
async def health(state: StateDep, response: Response) -> dict[str, Any]:
    checks = await run_in_threadpool(_checks, state)
    healthy = all(v == "ok" for v in checks.values())
    if not healthy:
        response.status_code = 503
    return {"status": "ok" if healthy else "degraded", "checks": checks,
            "site": state.site.name, "cameras": len(state.site.cameras)}
