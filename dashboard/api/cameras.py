"""``GET /api/cameras``: every camera's current status, worst first."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from compoundeye.camera_status import CameraState, RecordingState
from compoundeye.timeutil import to_rfc3339, utcnow
from compoundeye.tsdb import MetricsQueryError
from dashboard.cameras import CameraRow, count_by_recording, count_by_status, read_statuses
from dashboard.deps import CameraViewerDep, StateDep
from dashboard.uptime import fps_history

router = APIRouter(prefix="/api/cameras", tags=["cameras"])

Building = Annotated[str | None, Query(max_length=64, description="only this building")]


class CameraList(BaseModel):
    """Every camera, worst first, with counts by status and by recording state."""

    generated_at: str
    total: int
    counts: dict[str, int]
    recording_counts: dict[str, int]
    cameras: list[CameraRow]


@router.get("", summary="Current status of every camera, offline/tampered/degraded first",
            response_class=Response, responses={200: {"model": CameraList}})
async def list_cameras(
    state: StateDep,
    _caller: CameraViewerDep,
    status: Annotated[CameraState | None, Query()] = None,
    building: Building = None,
    recording: Annotated[RecordingState | None, Query(description="recording state")] = None,
) -> Response:
    if building is not None and building not in state.buildings:
        raise HTTPException(404, detail=f"unknown building {building!r}")
    rows = await run_in_threadpool(read_statuses, state.redis, state.site,
                                   status=status, building=building, recording=recording)
    counts = count_by_status(rows) if status is None else {status: len(rows)}
    payload = {
        "generated_at": to_rfc3339(utcnow()),
        "total": len(rows),
        "counts": counts,
        "recording_counts": count_by_recording(rows),
        "cameras": [r.as_dict() for r in rows],
    }
    # 2,400 rows: plain json.dumps skips FastAPI's per-field encoder (values are JSON types).
    return Response(json.dumps(payload, separators=(",", ":")), media_type="application/json")


@router.get("/fps", summary="Processed fps history of some cameras, for sparklines")
async def fps(
    state: StateDep,
    _caller: CameraViewerDep,
    camera: Annotated[list[str], Query(max_length=200, description="camera ids (1-200)")],
    window: Annotated[Literal["1h", "24h", "7d"], Query()] = "1h",
) -> dict[str, Any]:
    unknown = [c for c in camera if state.site.camera(c) is None]
    if not camera or unknown:
        raise HTTPException(404 if unknown else 400,
                            detail=f"unknown camera(s): {unknown[:5]}" if unknown
                            else "give at least one camera")
    try:
        series = await run_in_threadpool(fps_history, state.tsdb, list(dict.fromkeys(camera)),
                                         window)
    except MetricsQueryError as exc:
        raise HTTPException(503, detail=f"TSDB unavailable: {exc}") from None
    return {"window": window, "points": 31, "fps": series}
