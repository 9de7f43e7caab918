"""``GET /api/uptime``: uptime and recorded fraction per camera and per building from the
TSDB (kept briefly by the dashboard's :class:`dashboard.uptime.UptimeCache`)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from compoundeye.tsdb import MetricsQueryError
from dashboard.deps import OpsDep, StateDep
from dashboard.uptime import Uptime, recorded, uptime
from dashboard.validation import ID_RE_TEXT

router = APIRouter(prefix="/api/uptime", tags=["uptime"])


class RecordedBody(BaseModel):
    """Recorded fractions (0..1) over the same window."""

    cameras: dict[str, float]
    buildings: dict[str, float]


class UptimeBody(BaseModel):
    """Uptime fractions (0..1) over one window, and the recorded fraction."""

    window: str
    cameras: dict[str, float]
    buildings: dict[str, float]
    recorded: RecordedBody


@router.get("", summary="Uptime and recorded fraction (0..1) per camera and building over a "
            "window", response_class=Response, responses={200: {"model": UptimeBody}})
async def get_uptime(
    state: StateDep,
    _caller: OpsDep,
    window: Annotated[Literal["1h", "24h", "7d", "30d"], Query()] = "24h",
    building: Annotated[str | None, Query(max_length=64)] = None,
    camera: Annotated[str | None, Query(pattern=ID_RE_TEXT)] = None,
) -> Response:
    if building is not None and building not in state.buildings:
        raise HTTPException(404, detail=f"unknown building {building!r}")
    if camera is not None and state.site.camera(camera) is None:
        raise HTTPException(404, detail=f"unknown camera {camera!r}")
    interval = state.site.edge.metrics_interval_seconds
    key = (window, building, camera)

    def up() -> Uptime:
        return uptime(state.tsdb, window, building=building, camera=camera)

    def rec() -> Uptime:
        return recorded(state.tsdb, window, interval, building=building, camera=camera)

    found, refresh = state.uptime_cache.lookup(key)
    if found is None:
        try:  # the two at once: the TSDB answers them in parallel
            up_now, rec_now = await asyncio.gather(run_in_threadpool(up),
                                                   run_in_threadpool(rec))
        except MetricsQueryError as exc:
            raise HTTPException(503, detail=f"TSDB unavailable: {exc}") from None
        found = (up_now, rec_now)
        state.uptime_cache.store(key, found)
    elif refresh:
        state.uptime_cache.refresh_in_background(key, lambda: (up(), rec()))
    result, rec_result = found
    body = {"window": result.window, "cameras": result.cameras, "buildings": result.buildings,
            "recorded": {"cameras": rec_result.cameras, "buildings": rec_result.buildings}}
    # 2,700 cameras: plain json.dumps skips FastAPI's per-field encoder (values are floats).
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")
