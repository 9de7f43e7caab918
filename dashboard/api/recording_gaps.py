"""``GET /api/recordings/gaps``: each camera's recording gaps over any window (ops)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from dashboard.deps import OpsDep, StateDep
from dashboard.recording_gaps import GapQueryTooLarge, recording_gaps
from dashboard.validation import RequiredTimeQuery, check_window, required_time

router = APIRouter(prefix="/api/recordings", tags=["recordings"])

MAX_WINDOW_DAYS = 366 * 10


@router.get("/gaps", summary="Recording gaps per camera over a window, from the layout")
async def get_gaps(
    state: StateDep,
    _caller: OpsDep,
    start: RequiredTimeQuery,
    end: RequiredTimeQuery,
    camera: Annotated[list[str] | None, Query(max_length=4096,
                                              description="camera ids (default: all)")] = None,
    building: Annotated[str | None, Query(max_length=64)] = None,
    min_gap_seconds: Annotated[float, Query(ge=0, le=86_400)] = 1.0,
    only_gaps: Annotated[bool, Query(description="leave out cameras with no gap")] = False,
) -> dict[str, Any]:
    start_at, end_at = required_time(start, "start"), required_time(end, "end")
    check_window(start_at, end_at, max_days=MAX_WINDOW_DAYS)
    site = state.site
    if building is not None and building not in state.buildings:
        raise HTTPException(404, detail=f"unknown building {building!r}")
    for camera_id in camera or []:
        if site.camera(camera_id) is None:
            raise HTTPException(404, detail=f"unknown camera {camera_id[:64]!r}")
    wanted = set(camera or [])
    cameras = [c for c in site.cameras if (not wanted or c.id in wanted)
               and (building is None or c.location.building == building)]
    try:
        found = await run_in_threadpool(
            recording_gaps, state.settings.recordings_dir, cameras, start_at, end_at,
            segment_seconds=float(site.edge.segment_seconds), min_gap_seconds=min_gap_seconds)
    except GapQueryTooLarge as exc:
        raise HTTPException(400, detail=str(exc)) from None
    rows = [g.as_dict() for g in found if g.gaps or not only_gaps]
    return {"start": start_at.isoformat(), "end": end_at.isoformat(),
            "min_gap_seconds": min_gap_seconds, "cameras": rows}
