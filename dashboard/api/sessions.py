"""``/api/sessions``: an admin lists the signed-in sessions and ends one or all of them."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool

from dashboard.audit import record_audit
from dashboard.deps import AdminDep, StateDep, client_ip

router = APIRouter(prefix="/api/sessions", tags=["sessions"])

SessionId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{16}$", description="session id")]


@router.get("", summary="Signed-in sessions, newest first (admin)")
async def list_sessions(state: StateDep, _caller: AdminDep) -> list[dict[str, Any]]:
    found = await run_in_threadpool(state.sessions.list, time.time())
    return [s.as_dict() for s in found]


@router.delete("", summary="End every session at once (admin); bearer tokens still work")
async def end_all(state: StateDep, caller: AdminDep, request: Request) -> dict[str, int]:
    ended = await run_in_threadpool(state.sessions.end_all, time.time())
    await run_in_threadpool(record_audit, state, caller.name, caller.role.value,
                            "session.end_all", "", {"ended": ended}, client_ip(request))
    return {"ended": ended}


@router.delete("/{session_id}", summary="End one session (admin)")
async def end_one(state: StateDep, caller: AdminDep, request: Request,
                  session_id: SessionId) -> dict[str, int]:
    ended = await run_in_threadpool(state.sessions.end_by_id, session_id, time.time())
    if not ended:
        raise HTTPException(404, detail=f"no session {session_id}")
    await run_in_threadpool(record_audit, state, caller.name, caller.role.value, "session.end",
                            session_id, {}, client_ip(request))
    return {"ended": 1}
