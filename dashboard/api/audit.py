"""``GET /api/audit``: who did what, when (admin); ``GET /api/audit/verify``: whether the
audit hash chain is whole, and the first broken row if not."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from compoundeye.store.audit_chain import verify_chain
from dashboard.deps import AdminDep, StateDep
from dashboard.validation import TimeQuery, check_window, query_time

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("", summary="Audit trail, newest first: sign-ins, alert changes, searches, exports")
async def list_audit(
    state: StateDep,
    _caller: AdminDep,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target: Annotated[str | None, Query(max_length=256)] = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict[str, Any]]:
    since_at, until_at = query_time(since, "since"), query_time(until, "until")
    if since_at is not None and until_at is not None:
        check_window(since_at, until_at, max_days=3660)
    entries = await run_in_threadpool(
        lambda: state.store.audit.list(actor=actor, action=action, target=target,
                                       since=since_at, until=until_at, limit=limit, offset=offset))
    return [e.as_dict() for e in entries]


@router.get("/verify", summary="Walk the audit hash chain; the first broken row if any")
async def verify_audit(state: StateDep, _caller: AdminDep) -> dict[str, Any]:
    report = await run_in_threadpool(verify_chain, state.store.engine)
    return report.as_dict()
