"""Legal holds: placed by an investigator or admin, released by an admin only; each change
is audited in the same transaction (``hold.place``, ``hold.release``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from compoundeye.store import InvalidTransitionError, NotFoundError
from compoundeye.timeutil import UtcTimestamp
from dashboard.deps import AdminDep, InvestigatorDep, StateDep, client_ip
from dashboard.validation import ID_RE_TEXT, check_window

router = APIRouter(prefix="/api/holds", tags=["holds"])

HoldId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{24}$", description="hold id")]
MAX_HOLD_DAYS = 3660.0


class HoldBody(BaseModel):
    """A hold to place: cameras and a window, for a case, with the reason."""

    model_config = ConfigDict(extra="forbid")
    case_id: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")
    reason: str = Field(min_length=1, max_length=4000)
    camera_ids: list[Annotated[str, Field(pattern=ID_RE_TEXT)]] = Field(min_length=1,
                                                                        max_length=4096)
    start: UtcTimestamp
    end: UtcTimestamp


class ReleaseBody(BaseModel):
    """Why a hold ends."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=4000)


@router.post("", status_code=201, summary="Place a legal hold (investigator, admin)")
async def place(state: StateDep, caller: InvestigatorDep, request: Request,
                body: HoldBody) -> dict[str, Any]:
    check_window(body.start, body.end, max_days=MAX_HOLD_DAYS)
    unknown = [c for c in body.camera_ids if state.site.camera(c) is None]
    if unknown:
        raise HTTPException(400, detail=f"unknown camera(s): {', '.join(unknown[:10])}")
    if not body.reason.strip() or not body.case_id.strip():
        raise HTTPException(400, detail="case id and reason must not be blank")
    hold = await run_in_threadpool(lambda: state.store.holds.place(
        case_id=body.case_id.strip(), reason=body.reason.strip(), camera_ids=body.camera_ids,
        start=body.start, end=body.end, actor=caller.name, role=caller.role.value,
        ip=client_ip(request)))
    return hold.as_dict()


@router.get("", summary="Legal holds, newest first")
async def list_holds(
    state: StateDep,
    _caller: InvestigatorDep,
    case_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    camera: Annotated[str | None, Query(pattern=ID_RE_TEXT)] = None,
    active: Annotated[bool | None, Query(description="only active (true) or released")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    holds = await run_in_threadpool(lambda: state.store.holds.list(
        active=active, case_id=case_id, camera_id=camera, limit=limit))
    return [h.as_dict() for h in holds]


@router.get("/{hold_id}", summary="One legal hold")
async def get_hold(state: StateDep, _caller: InvestigatorDep, hold_id: HoldId) -> dict[str, Any]:
    try:
        hold = await run_in_threadpool(state.store.holds.get, hold_id)
    except NotFoundError:
        raise HTTPException(404, detail=f"no hold {hold_id}") from None
    return hold.as_dict()


@router.post("/{hold_id}/release", summary="Release a legal hold (admin only)")
async def release(state: StateDep, caller: AdminDep, request: Request, hold_id: HoldId,
                  body: ReleaseBody) -> dict[str, Any]:
    try:
        hold = await run_in_threadpool(lambda: state.store.holds.release(
            hold_id, actor=caller.name, role=caller.role.value, reason=body.reason.strip(),
            ip=client_ip(request)))
    except NotFoundError:
        raise HTTPException(404, detail=f"no hold {hold_id}") from None
    except InvalidTransitionError as exc:
        raise HTTPException(409, detail=str(exc)) from None
    return hold.as_dict()
