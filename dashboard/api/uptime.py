"""``GET /api/uptime``: uptime fraction per camera and per building from the TSDB."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from compoundeye.tsdb import MetricsQueryError
from dashboard.deps import OpsDep, StateDep
from dashboard.uptime import recorded, uptime
from dashboard.validation import ID_RE_TEXT

router = APIRouter(prefix="/api/uptime", tags=["uptime"])


@router.get("", summary="Uptime and recorded fraction (0..1) per camera and building over a "
            "window")
async def get_uptime(
    state: StateDep,
    _caller: OpsDep,
    window: Annotated[Literal["1h", "24h", "7d", "30d"], Query()] = "24h",
    building: Annotated[str | None, Query(max_length=64)] = None,
    camera: Annotated[str | None, Query(pattern=ID_RE_TEXT)] = None,
) -> dict[str, Any]:
    if building is not None and building not in state.buildings:
        raise HTTPException(404, detail=f"unknown building {building!r}")
    if camera is not None and state.site.camera(camera) is None:
        raise HTTPException(404, detail=f"unknown camera {camera!r}")
    interval = state.site.edge.metrics_interval_seconds
    try:  # the two at once: the TSDB answers them in parallel
        result, rec = await asyncio.gather(
            run_in_threadpool(uptime, state.tsdb, window, building=building, camera=camera),
            run_in_threadpool(recorded, state.tsdb, window, interval, building=building,
                              camera=camera))
    except MetricsQueryError as exc:
        raise HTTPException(503, detail=f"TSDB unavailable: {exc}") from None
    return {"window": result.window, "cameras": result.cameras, "buildings": result.buildings,
            "recorded": {"cameras": rec.cameras, "buildings": rec.buildings}}
