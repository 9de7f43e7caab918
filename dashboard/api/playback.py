"""Recorded-video playback: a camera's 24 h timeline, audited playback sessions, their
HLS playlists and the segments themselves (served as recorded, never re-encoded).

Investigators and admins only; operators watch their alerts' clips (``/api/alerts``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from compoundeye.recordings import camera_dir, covered, gaps
from compoundeye.store import AlertFilter
from compoundeye.timeutil import UtcTimestamp, utcnow
from compoundeye.tsdb import MetricsQueryError
from dashboard.audit import record_audit
from dashboard.deps import InvestigatorDep, StateDep, client_ip
from dashboard.playback import (
    END_ACTION,
    MAX_CAMERAS,
    MAX_WINDOW_HOURS,
    START_ACTION,
    PlaybackSession,
    media_summary,
    playlist,
    segment_in_window,
    window_segments,
)
from dashboard.state import AppState
from dashboard.validation import ID_RE_TEXT, RequiredTimeQuery, check_window, required_time

router = APIRouter(prefix="/api/playback", tags=["playback"])

CameraId = Annotated[str, PathParam(pattern=ID_RE_TEXT)]
SessionId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{24}$")]
MOTION_LEVEL = 0.01
"""A minute whose peak motion fraction is above this shows as motion on the timeline."""
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HOUR = re.compile(r"^\d{2}$")
_NAME = re.compile(r"^\d{2}\.\d{2}\.ts$")


def _camera(state: AppState, camera: str) -> None:
    if state.site.camera(camera) is None:
        raise HTTPException(404, detail=f"unknown camera {camera!r}")


def _span(items: list[Any]) -> list[dict[str, str]]:
    return [{"start": i.start.isoformat(), "end": i.end.isoformat()} for i in items]


def _motion(state: AppState, camera: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    step = max(60.0, (end - start).total_seconds() / 1440)
    series = state.tsdb.query_range(
        f'max_over_time(camera_motion_fraction{{camera="{camera}"}}[{int(step)}s])',
        start, end, step)
    out: list[dict[str, Any]] = []
    for s in series:
        for at, value in s.points:
            if value > MOTION_LEVEL:
                out.append({"start": (at - timedelta(seconds=step)).isoformat(),
                            "end": at.isoformat(), "level": round(value, 4)})
    return out


def _timeline(state: AppState, camera: str, start: datetime, end: datetime) -> dict[str, Any]:
    seg_s = float(state.site.edge.segment_seconds)
    segments = window_segments(state.settings.recordings_dir, camera, start, end, seg_s)
    tolerance = seg_s / 2
    out: dict[str, Any] = {
        "camera": camera, "start": start.isoformat(), "end": end.isoformat(),
        "segments": len(segments),
        "covered": _span(covered(segments, start, end, tolerance_seconds=tolerance)),
        "gaps": _span(gaps(segments, start, end, tolerance_seconds=tolerance)),
        "motion": [], "alerts": [], "warnings": []}
    try:
        out["motion"] = _motion(state, camera, start, end)
    except MetricsQueryError as exc:
        out["warnings"].append(f"motion markers unavailable: {exc}")
    # The store filters on when an alert was opened; the mark goes where its event was
    # (a controller replaying its buffer opens alerts late: an hour of slack each side).
    slack = timedelta(hours=1)
    alerts = state.store.alerts.list(AlertFilter(camera=camera, since=start - slack,
                                                 until=end + slack, limit=500))
    for a in alerts:
        at = a.last_event_at or a.created_at
        if start <= at < end:
            out["alerts"].append({"id": a.id, "at": at.isoformat(), "title": a.title,
                                  "priority": a.priority, "rule": a.rule})
    return out


@router.get("/timeline", summary="A camera's recorded coverage, gaps, motion and alerts")
async def timeline(state: StateDep, _caller: InvestigatorDep,
                   camera: Annotated[str, Query(pattern=ID_RE_TEXT)], start: RequiredTimeQuery,
                   end: RequiredTimeQuery) -> dict[str, Any]:
    window = required_time(start, "start"), required_time(end, "end")
    check_window(*window, max_days=MAX_WINDOW_HOURS / 24)
    _camera(state, camera)
    return await run_in_threadpool(_timeline, state, camera, *window)


class SessionBody(BaseModel):
    """What a player asks to play: up to four cameras over one window."""

    model_config = ConfigDict(extra="forbid")
    cameras: list[Annotated[str, Field(pattern=ID_RE_TEXT)]] = Field(min_length=1,
                                                                     max_length=MAX_CAMERAS)
    start: UtcTimestamp
    end: UtcTimestamp
    at: UtcTimestamp | None = None


@router.post("/sessions", status_code=201, summary="Open an audited playback session")
async def open_session(state: StateDep, caller: InvestigatorDep, request: Request,
                       body: SessionBody) -> dict[str, Any]:
    check_window(body.start, body.end, max_days=MAX_WINDOW_HOURS / 24)
    cameras = list(dict.fromkeys(body.cameras))
    for camera in cameras:
        _camera(state, camera)
    media = {c: await run_in_threadpool(
        media_summary, state.settings.recordings_dir, float(state.site.edge.segment_seconds), c,
        body.start, body.end, body.at)
             for c in cameras}
    ip = client_ip(request)
    session = await run_in_threadpool(state.playback.open, caller.name, caller.role.value,
                                      cameras, body.start, body.end, ip)
    details = {**session.audit_window(), "start": session.opened.isoformat(),
               "at": body.at.isoformat() if body.at else None}
    try:
        await run_in_threadpool(record_audit, state, caller.name, caller.role.value,
                                START_ACTION, ",".join(cameras), details, ip)
    except Exception:
        await run_in_threadpool(state.playback.close, session.id, "audit failed")
        raise
    return {"id": session.id, "start": body.start.isoformat(), "end": body.end.isoformat(),
            "cameras": [{"id": c, "playlist": f"/api/playback/sessions/{session.id}/{c}/"
                                              "index.m3u8", **media[c]} for c in cameras]}


def _session(state: AppState, session_id: str, caller_name: str,
             camera: str | None = None) -> PlaybackSession:
    session = state.playback.get(session_id)
    if session is None:
        raise HTTPException(404, detail="no such playback session (closed or expired)")
    if session.actor != caller_name:
        raise HTTPException(403, detail="this playback session belongs to someone else")
    if camera is not None and camera not in session.cameras:
        raise HTTPException(404, detail=f"camera {camera!r} is not in this session")
    return session


@router.get("/sessions/{session_id}/{camera}/index.m3u8",
            summary="HLS playlist of the session's window for one camera",
            responses={200: {"content": {"application/vnd.apple.mpegurl": {}}}})
async def session_playlist(state: StateDep, caller: InvestigatorDep, session_id: SessionId,
                           camera: CameraId) -> Response:
    session = await run_in_threadpool(_session, state, session_id, caller.name, camera)
    seg_s = float(state.site.edge.segment_seconds)
    segments = await run_in_threadpool(window_segments, state.settings.recordings_dir, camera,
                                       session.start, session.end, seg_s)
    await run_in_threadpool(state.playback.touch, session, None)
    text = playlist(segments, finished=session.end <= utcnow() - timedelta(seconds=2 * seg_s))
    return Response(text, media_type="application/vnd.apple.mpegurl",
                    headers={"Cache-Control": "no-store"})


@router.get("/sessions/{session_id}/{camera}/{day}/{hour}/{name}",
            summary="One recorded segment (MPEG-TS, as recorded)", response_class=FileResponse,
            responses={200: {"content": {"video/mp2t": {}}}})
async def session_segment(state: StateDep, caller: InvestigatorDep, session_id: SessionId,
                          camera: CameraId, day: str, hour: str, name: str) -> FileResponse:
    if not (_DAY.match(day) and _HOUR.match(hour) and _NAME.match(name)):
        raise HTTPException(400, detail="not a segment path (YYYY-MM-DD/HH/MM.SS.ts)")
    session = await run_in_threadpool(_session, state, session_id, caller.name, camera)
    relpath = Path(camera, day, hour, name)
    start = segment_in_window(session, relpath, float(state.site.edge.segment_seconds) * 2)
    if start is None:
        raise HTTPException(404, detail="segment outside the session's window")
    path = camera_dir(state.settings.recordings_dir, camera) / day / hour / name
    if not path.is_file():
        raise HTTPException(404, detail="segment not found (removed by retention?)")
    await run_in_threadpool(state.playback.touch, session, start)
    return FileResponse(path, media_type="video/mp2t", headers={"Cache-Control": "private"})


def record_end(state: AppState, details: dict[str, Any]) -> None:
    """Write ``playback.end`` for a claimed session."""
    state.store.audit.record(actor=details["actor"], role=details["role"], action=END_ACTION,
                             target=",".join(details["cameras"]), details=details,
                             ip=details.get("ip"), at=datetime.fromisoformat(details["end"]))


@router.post("/sessions/{session_id}/close", summary="End a playback session (audited)")
async def close_session(state: StateDep, caller: InvestigatorDep,
                        session_id: SessionId) -> dict[str, Any]:
    await run_in_threadpool(_session, state, session_id, caller.name)
    details = await run_in_threadpool(state.playback.close, session_id, "closed by the viewer")
    if details is None:
        raise HTTPException(404, detail="already closed")
    await run_in_threadpool(record_end, state, details)
    return {"closed": session_id, "end": details["end"]}
