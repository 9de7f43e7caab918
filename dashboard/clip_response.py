"""The desk's clip as an HTTP response, shared by the alert and the recordings clip routes;
every view is audited with the clip's SHA-256 (the custody report reads it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from compoundeye.timeutil import to_rfc3339
from dashboard.audit import record_audit
from dashboard.state import AppState
from evidence.clips import ClipError


@dataclass(frozen=True)
class ClipView:
    """Who is viewing a clip, for its audit row."""

    actor: str
    role: str
    action: str
    target: str
    ip: str | None


async def serve_clip(state: AppState, camera: str, start: datetime, end: datetime,
                     view: ClipView) -> FileResponse:
    """The MP4 of a camera's window, remuxed (or taken from the cache), audited."""
    try:
        path, hit = await run_in_threadpool(state.clips.clip, camera, start, end)
    except ClipError as exc:
        raise HTTPException(exc.status, detail=exc.reason) from None
    digest = await run_in_threadpool(state.clips.sha256, path)
    await run_in_threadpool(record_audit, state, view.actor, view.role, view.action,
                            view.target, {"camera": camera, "start": to_rfc3339(start),
                                          "end": to_rfc3339(end), "clip_sha256": digest},
                            view.ip)
    state.metrics.clip(hit)
    return FileResponse(Path(path), media_type="video/mp4",
                        headers={"Cache-Control": "private, max-age=600"})
