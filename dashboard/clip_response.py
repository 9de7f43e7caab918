"""The desk's clip as an HTTP response, shared by the alert and the recordings clip routes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from dashboard.state import AppState
from evidence.clips import ClipError


async def serve_clip(state: AppState, camera: str, start: datetime, end: datetime
                     ) -> FileResponse:
    """The MP4 of a camera's window, remuxed (or taken from the cache)."""
    try:
        path, hit = await run_in_threadpool(state.clips.clip, camera, start, end)
    except ClipError as exc:
        raise HTTPException(exc.status, detail=exc.reason) from None
    state.metrics.clip(hit)
    return FileResponse(Path(path), media_type="video/mp4",
                        headers={"Cache-Control": "private, max-age=600"})
