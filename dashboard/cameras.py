"""Camera statuses for the ops page: one pipelined read of every status hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from compoundeye import names
from compoundeye.site.models import Site

STATUSES = ("offline", "tampered", "degraded", "online")
"""Worst first: the order the ops page lists cameras in."""

_RANK = {status: rank for rank, status in enumerate(STATUSES)}
STATUS_FIELDS = ("status", "since", "last_frame", "fps", "worker", "reason")
NO_STATUS_REASON = "no status reported (worker silent or camera never seen)"


@dataclass(frozen=True)
class CameraRow:
    """One camera's line on the ops page."""

    id: str
    name: str
    building: str
    zone: str
    floor: int
    lat: float
    lon: float
    status: str
    since: str | None
    last_frame: str | None
    fps: float | None
    worker: str | None
    reason: str | None
    reported: bool

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value)
    return text or None


def _fps(value: Any) -> float | None:
    text = _text(value)
    if text is None:
        return None
    try:
        fps = float(text)
    except ValueError:
        return None
    return fps if fps == fps and fps >= 0 else None  # NaN and negatives are not rates


def read_statuses(
    client: redis.Redis, site: Site, *, status: str | None = None, building: str | None = None
) -> list[CameraRow]:
    """Every configured camera's status (one pipelined HMGET round), worst first."""
    cameras = [c for c in site.cameras if building is None or c.location.building == building]
    pipe = client.pipeline(transaction=False)
    for camera in cameras:
        pipe.hmget(names.camera_status_key(camera.id), STATUS_FIELDS)
    replies: list[list[Any]] = pipe.execute() if cameras else []
    rows = []
    for camera, values in zip(cameras, replies, strict=True):
        state, since, last_frame, fps, worker, reason = values
        reported = state is not None
        state_text = _text(state) or "offline"
        if state_text not in _RANK:
            state_text = "degraded"
            reason = f"unknown status {_text(state)!r} reported"
        row = CameraRow(
            id=camera.id, name=camera.name or camera.id, building=camera.location.building,
            zone=camera.location.zone, floor=camera.location.floor,
            lat=camera.location.lat, lon=camera.location.lon,
            status=state_text, since=_text(since), last_frame=_text(last_frame),
            fps=_fps(fps), worker=_text(worker),
            reason=_text(reason) if reported else NO_STATUS_REASON, reported=reported,
        )
        if status is None or row.status == status:
            rows.append(row)
    rows.sort(key=lambda r: (_RANK[r.status], r.building, r.id))
    return rows


def count_by_status(rows: list[CameraRow]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        counts[row.status] += 1
    return counts


def read_door_statuses(client: redis.Redis, site: Site) -> dict[str, dict[str, str]]:
    """Each door controller's liveness hash (empty when none was reported)."""
    pipe = client.pipeline(transaction=False)
    for door in site.doors:
        pipe.hgetall(names.door_status_key(door.id))
    replies: list[dict[Any, Any]] = pipe.execute() if site.doors else []
    out = {}
    for door, fields in zip(site.doors, replies, strict=True):
        out[door.id] = {(_text(k) or ""): (_text(v) or "") for k, v in fields.items()}
    return out
