"""The gaps query for ops: where each camera's recording has holes over any window.

Read straight from the recordings layout (:mod:`compoundeye.recordings`, the same
segment selection search and export use), so it answers what is on disk now, whatever
the TSDB says. The cost is one directory listing per camera and hour of the window: a
query is refused past :data:`MAX_HOUR_LISTINGS` of them (all 2,400 cameras over a day,
or one camera over eleven years, is well inside).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from compoundeye.recordings import gaps, list_segments
from compoundeye.site.models import Camera
from compoundeye.timeutil import to_rfc3339

MAX_HOUR_LISTINGS = 100_000


class GapQueryTooLarge(ValueError):  # noqa: N818 - reads as the condition it is
    """The window times the cameras would list too many hour directories."""


@dataclass(frozen=True)
class CameraGaps:
    """One camera's recording over the window: what is there and every hole."""

    camera: str
    building: str
    record: bool
    recorded_seconds: float
    fraction: float
    gaps: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def hour_listings(cameras: int, start: datetime, end: datetime) -> int:
    """Directory listings a query needs (one per camera and hour, plus one hour before)."""
    return cameras * (math.ceil((end - start).total_seconds() / 3600) + 2)


def recording_gaps(root: Path, cameras: list[Camera], start: datetime, end: datetime, *,
                   segment_seconds: float, min_gap_seconds: float = 1.0) -> list[CameraGaps]:
    """Each camera's gaps in ``[start, end)`` of at least ``min_gap_seconds``."""
    needed = hour_listings(len(cameras), start, end)
    if needed > MAX_HOUR_LISTINGS:
        raise GapQueryTooLarge(
            f"{len(cameras)} cameras over {(end - start).total_seconds() / 3600:.0f} h need "
            f"{needed} directory listings (at most {MAX_HOUR_LISTINGS}): fewer cameras or a "
            "shorter window")
    window = (end - start).total_seconds()
    out = []
    for camera in cameras:
        segments = list_segments(root, camera.id, start, end, segment_seconds=segment_seconds)
        holes = gaps(segments, start, end, tolerance_seconds=min_gap_seconds)
        missing = sum(h.seconds for h in holes)
        out.append(CameraGaps(
            camera=camera.id, building=camera.location.building, record=camera.record,
            recorded_seconds=round(window - missing, 3),
            fraction=round((window - missing) / window, 5),
            gaps=[{"start": to_rfc3339(h.start), "end": to_rfc3339(h.end),
                   "seconds": round(h.seconds, 3)} for h in holes]))
    return out
