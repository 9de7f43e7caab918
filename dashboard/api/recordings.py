"""Recordings: which cameras saw a place in a window (coverage, gaps), and clip playback."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import ValidationError

from dashboard.clip_response import ClipView, serve_clip
from dashboard.deps import InvestigatorDep, StateDep, client_ip
from dashboard.validation import ID_RE_TEXT, RequiredTimeQuery, check_window, required_time
from evidence import Place, SearchError, record_search, search_coverage
from evidence.search import MAX_SEARCH_HOURS

router = APIRouter(prefix="/api/recordings", tags=["recordings"])

Moment = RequiredTimeQuery


def _near(text: str) -> tuple[float, float]:
    try:
        lat_text, lon_text = text.split(",")
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise HTTPException(400, detail="near must be 'lat,lon', e.g. 31.11,121.38") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise HTTPException(400, detail="near: lat in -90..90, lon in -180..180")
    return lat, lon


@router.get("/search", summary="Cameras that could have seen a place, with coverage and gaps")
async def search(
    state: StateDep,
    caller: InvestigatorDep,
    request: Request,
    start: Moment,
    end: Moment,
    building: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    zone: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    door: Annotated[str | None, Query(pattern=ID_RE_TEXT)] = None,
    near: Annotated[str | None, Query(max_length=64, description="lat,lon")] = None,
    radius_m: Annotated[float, Query(ge=0, le=10_000)] = 50.0,
    camera: Annotated[list[str] | None, Query(max_length=4096)] = None,
    case_id: Annotated[str | None, Query(min_length=1, max_length=128,
                                         description="the case this search is for")] = None,
) -> dict[str, Any]:
    start_at, end_at = required_time(start, "start"), required_time(end, "end")
    check_window(start_at, end_at, max_days=MAX_SEARCH_HOURS / 24)
    lat, lon = _near(near) if near else (None, None)
    try:
        place = Place(building=building, zone=zone, door=door, lat=lat, lon=lon,
                      radius_m=radius_m, camera_ids=camera or None)
    except ValidationError as exc:
        reasons = "; ".join(e["msg"] for e in exc.errors(include_url=False))
        raise HTTPException(400, detail=f"place: {reasons}") from None
    try:
        found = await run_in_threadpool(search_coverage, state.site,
                                        state.settings.recordings_dir, start_at, end_at,
                                        place)
    except SearchError as exc:
        raise HTTPException(400, detail=str(exc)) from None
    await run_in_threadpool(
        lambda: record_search(state.store.audit, actor=caller.name, role=caller.role.value,
                              place=place, start=start_at, end=end_at, results=found,
                              ip=client_ip(request), case_id=case_id))
    return {"place": place.describe(), "start": start_at.isoformat(),
            "end": end_at.isoformat(),
            "cameras": [c.model_dump(mode="json") for c in found]}


@router.get("/clip", summary="A camera's recorded window as MP4 (HTTP Range supported)",
            response_class=FileResponse, responses={200: {"content": {"video/mp4": {}}}})
async def clip(
    state: StateDep,
    caller: InvestigatorDep,
    request: Request,
    camera: Annotated[str, Query(pattern=ID_RE_TEXT)],
    start: Moment,
    end: Moment,
) -> FileResponse:
    start_at, end_at = required_time(start, "start"), required_time(end, "end")
    check_window(start_at, end_at, max_days=1 / 24)
    if state.site.camera(camera) is None:
        raise HTTPException(404, detail=f"unknown camera {camera!r}")
    return await serve_clip(state, camera, start_at, end_at, ClipView(
        caller.name, caller.role.value, "recordings.clip", camera, client_ip(request)))
