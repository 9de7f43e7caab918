"""Camera statuses for the ops page: one scripted read of every status hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from compoundeye import names
from compoundeye.camera_status import (
    STATE_FIELD,
    WORST_FIRST,
    CameraState,
    CameraStatus,
    RecordingState,
)
from compoundeye.redis_read import hmget_many
from compoundeye.redis_text import text_map
from compoundeye.site.models import Site

_RANK = {status: rank for rank, status in enumerate(WORST_FIRST)}
_NOT_RECORDING_RANK = 0.5
NO_STATUS_REASON = "no status reported (worker silent or camera never seen)"


@dataclass(frozen=True, kw_only=True)
class _Place:
    """Where a camera is, from the site file."""

    id: str
    name: str
    building: str
    zone: str
    floor: int
    lat: float
    lon: float


# Fields in the order of the JSON: the place, then the status hash's shared fields
# (dataclasses collect the fields of the last base first), then ``reported``.
@dataclass(frozen=True, kw_only=True)
class CameraRow(CameraStatus, _Place):
    """One camera's line on the ops page: its place and its status."""

    reported: bool
    """Whether the camera's worker wrote a status (else it is listed as offline)."""

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def read_statuses(
    client: redis.Redis, site: Site, *, status: CameraState | None = None,
    building: str | None = None, recording: RecordingState | None = None,
) -> list[CameraRow]:
    """Every configured camera's status (:func:`compoundeye.redis_read.hmget_many`), worst
    first.

    A camera with ``record: false`` whose worker has not said reads as recording
    ``disabled``; the ``recording`` filter keeps only cameras in that recording state.
    """
    cameras = [c for c in site.cameras if building is None or c.location.building == building]
    hash_fields = CameraStatus.hash_fields()
    state_at = hash_fields.index(STATE_FIELD)
    replies = hmget_many(client, [names.camera_status_key(c.id) for c in cameras], hash_fields)
    rows = []
    for camera, values in zip(cameras, replies, strict=True):
        fields = CameraStatus.decode_values(values)
        reported = values[state_at] is not None
        if not reported:
            fields["reason"] = NO_STATUS_REASON
        if fields["recording"] is None and not camera.record:
            fields["recording"] = RecordingState.DISABLED
        location = camera.location
        row = CameraRow(
            id=camera.id, name=camera.name or camera.id, building=location.building,
            zone=location.zone, floor=location.floor, lat=location.lat, lon=location.lon,
            **fields, reported=reported,
        )
        if (status is None or row.status == status) and (recording is None
                                                          or row.recording == recording):
            rows.append(row)
    # A camera that is up but not recording comes right after the offline ones.
    rows.sort(key=lambda r: (min(_RANK[r.status], _NOT_RECORDING_RANK)
                             if r.recording is RecordingState.FAILING else _RANK[r.status],
                             r.building, r.id))
    return rows


def count_by_status(rows: list[CameraRow]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(WORST_FIRST, 0)
    for row in rows:
        counts[row.status] += 1
    return counts


def count_by_recording(rows: list[CameraRow]) -> dict[str, int]:
    """How many cameras are in each recording state (``unknown``: nothing reported)."""
    counts: dict[str, int] = dict.fromkeys([*RecordingState, "unknown"], 0)
    for row in rows:
        counts[row.recording or "unknown"] += 1
    return counts


def read_door_statuses(client: redis.Redis, site: Site) -> dict[str, dict[str, str]]:
    """Each door controller's liveness hash (empty when none was reported)."""
    pipe = client.pipeline(transaction=False)
    for door in site.doors:
        pipe.hgetall(names.door_status_key(door.id))
    replies: list[dict[Any, Any]] = pipe.execute() if site.doors else []
    out = {}
    for door, fields in zip(site.doors, replies, strict=True):
        out[door.id] = text_map(fields)
    return out
