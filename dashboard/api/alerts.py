"""Alerts: listing, lifecycle changes, the live stream, snapshots and clips."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

import redis
from fastapi import APIRouter, Body, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from compoundeye import names
from compoundeye.redis_text import text, text_or_none
from compoundeye.store import Alert, AlertFilter, AlertStatus, InvalidTransitionError, NotFoundError
from compoundeye.store.models import OPEN_STATUSES
from dashboard.audit import record_audit
from dashboard.clip_response import ClipView, serve_clip
from dashboard.deps import OperatorDep, StateDep, client_ip
from dashboard.playback import media_summary
from dashboard.state import AppState
from dashboard.validation import (
    ID_RE_TEXT,
    TimeQuery,
    check_stream_id,
    check_window,
    query_time,
    safe_child,
)

router = APIRouter(prefix="/api/alerts", tags=["alerts"])

AlertId = Annotated[str, PathParam(pattern=r"^[0-9a-zA-Z_-]{1,40}$", description="alert id")]
SiteId = Annotated[str | None, Query(pattern=ID_RE_TEXT)]
SSE_BLOCK_MS = 2000
"""How long one XREAD waits: also the longest a stream takes to notice a shutdown."""
SSE_BATCH = 200
SSE_RETRY_SECONDS = 2.0
log = logging.getLogger(__name__)


class ChangeBody(BaseModel):
    """Optional body of a lifecycle change."""

    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=4000)


class AssignBody(ChangeBody):
    """Who takes the alert (default: the caller)."""

    assignee: str | None = Field(default=None, min_length=1, max_length=128)


class NoteBody(BaseModel):
    """A note to attach."""

    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=4000)


def _stream_tail(state: AppState) -> str:
    """The id of the newest entry of ``ce:alerts`` ("0-0" when it is empty)."""
    newest: Any = state.redis.xrevrange(names.ALERTS_STREAM, count=1)
    if not newest:
        return "0-0"
    return text(newest[0][0])


@router.get("", summary="Alerts, newest first (header X-Stream-Id: ce:alerts position)")
async def list_alerts(
    state: StateDep,
    _caller: OperatorDep,
    response: Response,
    status: Annotated[AlertStatus | Literal["open"] | None,
                      Query(description='an alert status, or "open" for new and acknowledged')
                      ] = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    kind: Annotated[str | None, Query(pattern=r"^[a-z_.]{1,64}$")] = None,
    camera: SiteId = None,
    door: SiteId = None,
    building: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    since_at, until_at = query_time(since, "since"), query_time(until, "until")
    if since_at is not None and until_at is not None:
        check_window(since_at, until_at, max_days=366)
    # Read the stream position first: a change made meanwhile is replayed by the stream.
    tail = await run_in_threadpool(_stream_tail, state)
    wanted = OPEN_STATUSES if status == "open" else status
    flt = AlertFilter(status=wanted, since=since_at, until=until_at, kind=kind, camera=camera,
                      door=door, building=building, limit=limit)
    alerts = await run_in_threadpool(state.store.alerts.list, flt)
    response.headers["X-Stream-Id"] = tail
    return [a.as_dict(details=False) for a in alerts]


async def _event_source(state: AppState, request: Request, last_id: str) -> AsyncIterator[str]:
    state.metrics.sse_connected(1)
    try:
        yield "retry: 2000\n\n"
        cursor = last_id
        while not state.stopping.is_set():
            if await request.is_disconnected():
                break
            try:
                reply: Any = await state.aredis.xread({names.ALERTS_STREAM: cursor},
                                                 count=SSE_BATCH, block=SSE_BLOCK_MS)
            except (redis.RedisError, OSError) as exc:
                # Keep the browser connected; it catches up from ``cursor`` when Redis is back.
                log.warning("alert stream read failed (%s); retrying", exc)
                yield ": redis unavailable, retrying\n\n"
                await asyncio.sleep(SSE_RETRY_SECONDS)
                continue
            if not reply:
                yield ": keep-alive\n\n"
                continue
            sent = 0
            for _stream, entries in reply:
                for entry_id, fields in entries:
                    cursor = text(entry_id)
                    data = text_or_none(fields.get(names.ALERT_FIELD.encode())
                                        or fields.get(names.ALERT_FIELD))
                    if data is None:
                        continue
                    try:
                        # One line of data: compact JSON never holds a raw newline.
                        data = json.dumps(json.loads(data), separators=(",", ":"))
                    except ValueError:
                        log.warning("skipping %s entry %s: not JSON", names.ALERTS_STREAM,
                                    cursor)
                        continue
                    yield f"id: {cursor}\nevent: alert\ndata: {data}\n\n"
                    sent += 1
            state.metrics.sse_sent(sent)
    finally:
        state.metrics.sse_connected(-1)


@router.get("/stream", summary="Server-Sent Events: one `alert` event per change",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream(
    state: StateDep,
    _caller: OperatorDep,
    request: Request,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)] = None,
    after: Annotated[str | None, Query(max_length=64,
                                       description="stream id to start after")] = None,
) -> StreamingResponse:
    start = last_event_id or after or "$"
    if start != "$":
        check_stream_id(start)
    if start == "$":
        start = await run_in_threadpool(_stream_tail, state)
    return StreamingResponse(
        _event_source(state, request, start), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _get(state: AppState, alert_id: str) -> Alert:
    try:
        return state.store.alerts.get(alert_id)
    except NotFoundError:
        raise HTTPException(404, detail=f"no alert {alert_id}") from None


@router.get("/{alert_id}", summary="One alert with its history and notes")
async def get_alert(state: StateDep, _caller: OperatorDep, alert_id: AlertId) -> dict[str, Any]:
    alert = await run_in_threadpool(_get, state, alert_id)
    return alert.as_dict()


async def _change(state: AppState, request: Request, alert_id: str, action: str,
                  actor: str, role: str, note: str | None, **extra: Any) -> dict[str, Any]:
    def work() -> Alert:
        try:
            if action == "ack":
                return state.store.alerts.ack(alert_id, actor=actor, note=note)
            if action == "resolve":
                return state.store.alerts.resolve(alert_id, actor=actor, note=note)
            if action == "assign":
                return state.store.alerts.assign(alert_id, extra["assignee"], actor=actor,
                                                 note=note)
            return state.store.alerts.add_note(alert_id, actor=actor, text=note or "")
        except NotFoundError:
            raise HTTPException(404, detail=f"no alert {alert_id}") from None
        except InvalidTransitionError as exc:
            raise HTTPException(409, detail=str(exc)) from None

    alert = await run_in_threadpool(work)
    details: dict[str, Any] = {"note": note, **extra, "status": alert.status}
    await run_in_threadpool(record_audit, state, actor, role, f"alert.{action}", alert_id,
                            details, client_ip(request))
    return alert.as_dict()


@router.post("/{alert_id}/ack", summary="Acknowledge an alert")
async def ack(state: StateDep, caller: OperatorDep, request: Request, alert_id: AlertId,
              body: Annotated[ChangeBody | None, Body()] = None) -> dict[str, Any]:
    return await _change(state, request, alert_id, "ack", caller.name, caller.role.value,
                         body.note if body else None)


@router.post("/{alert_id}/assign", summary="Assign an alert (default: to the caller)")
async def assign(state: StateDep, caller: OperatorDep, request: Request, alert_id: AlertId,
                 body: Annotated[AssignBody | None, Body()] = None) -> dict[str, Any]:
    assignee = (body.assignee if body else None) or caller.name
    return await _change(state, request, alert_id, "assign", caller.name, caller.role.value,
                         body.note if body else None, assignee=assignee)


@router.post("/{alert_id}/resolve", summary="Resolve an alert")
async def resolve(state: StateDep, caller: OperatorDep, request: Request, alert_id: AlertId,
                  body: Annotated[ChangeBody | None, Body()] = None) -> dict[str, Any]:
    return await _change(state, request, alert_id, "resolve", caller.name, caller.role.value,
                         body.note if body else None)


@router.post("/{alert_id}/notes", summary="Add a note to an alert")
async def add_note(state: StateDep, caller: OperatorDep, request: Request, alert_id: AlertId,
                   body: NoteBody) -> dict[str, Any]:
    return await _change(state, request, alert_id, "note", caller.name, caller.role.value,
                         body.note)


@router.get("/{alert_id}/snapshot", summary="The alert's snapshot image",
            response_class=FileResponse)
async def snapshot(state: StateDep, _caller: OperatorDep, alert_id: AlertId) -> FileResponse:
    alert = await run_in_threadpool(_get, state, alert_id)
    if not alert.snapshot:
        raise HTTPException(404, detail="this alert has no snapshot")
    path = safe_child(state.settings.snapshots_dir, alert.snapshot)
    if path is None or not path.is_file():
        raise HTTPException(404, detail="snapshot file not found")
    return FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})


def _linked_clip(state: AppState, alert_id: str,
                 camera: str | None) -> tuple[str, datetime, datetime]:
    """The linked camera asked for (default: the first) and the alert's clip window;
    404 when the alert has no clip or the camera is not linked to it."""
    alert = _get(state, alert_id)
    if not alert.cameras or alert.clip_start is None or alert.clip_end is None:
        raise HTTPException(404, detail="this alert has no linked clip")
    chosen = camera or alert.cameras[0]
    if chosen not in alert.cameras:
        raise HTTPException(404, detail=f"camera {chosen} is not linked to this alert")
    return chosen, alert.clip_start, alert.clip_end


@router.get("/{alert_id}/clip/media", summary="Whether the linked clip plays in the browser")
async def clip_media(state: StateDep, _caller: OperatorDep, alert_id: AlertId,
                     camera: SiteId = None) -> dict[str, Any]:
    """The clip's codec and ``playable``; for H.265 a plain reason (the browser cannot
    decode it) so the desk offers the download instead of a black video."""
    chosen, start, end = await run_in_threadpool(_linked_clip, state, alert_id, camera)
    summary: dict[str, Any] = await run_in_threadpool(
        media_summary, state.settings.recordings_dir,
        float(state.site.edge.segment_seconds), chosen, start, end)
    return summary


@router.get("/{alert_id}/clip", summary="The linked clip as MP4 (HTTP Range supported)",
            response_class=FileResponse, responses={200: {"content": {"video/mp4": {}}}})
async def clip(state: StateDep, caller: OperatorDep, request: Request, alert_id: AlertId,
               camera: SiteId = None) -> FileResponse:
    chosen, start, end = await run_in_threadpool(_linked_clip, state, alert_id, camera)
    return await serve_clip(state, chosen, start, end, ClipView(
        caller.name, caller.role.value, "alert.clip", alert_id, client_ip(request)))
