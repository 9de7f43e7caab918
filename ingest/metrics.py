"""Per-camera and per-worker metrics, written every interval through the TSDB writer.

Line protocol shape: measurement ``camera`` with fields ``up``, ``fps_in``,
``fps_processed``, ``dropped``, ``decode_ms``, ``reconnects``, ``motion_fraction``,
``recorded_bytes``, ``recorded_seconds`` (cameras recorded by this worker only) and tags
``camera``, ``building``, ``worker``; VictoriaMetrics names the series ``camera_up``,
``camera_fps_in`` ... Measurement ``worker`` gives ``worker_cpu_percent``,
``worker_rss_bytes`` and a few counters. ``dropped``, ``reconnects``, ``recorded_bytes`` and
``recorded_seconds`` (media seconds of the segments finished in the interval) are counts
over the interval (not running totals), so a worker restart never shows as a negative
rate; ``decode_ms`` is decode CPU time per frame read in the interval. The recorded
fraction of a window is ``sum_over_time(camera_recorded_seconds)`` over the seconds the
samples span (``count_over_time`` x the interval).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import psutil

from compoundeye.tsdb import FieldValue


class PointWriter(Protocol):
    """What the collector needs from :class:`compoundeye.tsdb.MetricsWriter`."""

    def write(self, measurement: str, fields: Mapping[str, FieldValue],
              tags: Mapping[str, str] | None = None, ts: datetime | None = None) -> None: ...


@dataclass(frozen=True)
class CameraCounters:
    """Running totals of one camera at one moment (from reader, detection and recorder)."""

    t: float
    up: bool
    frames_in: int
    processed: int
    dropped: int
    decode_cpu_seconds: float
    reconnects: int
    motion_sum: float
    motion_frames: int
    recorded_bytes: int
    recorded_seconds: float | None = None
    """Media seconds finished so far; None when this worker does not record the camera."""


def camera_fields(prev: CameraCounters, cur: CameraCounters) -> dict[str, FieldValue]:
    """The interval's fields of one camera from two successive snapshots."""
    span = max(cur.t - prev.t, 1e-6)
    frames = cur.frames_in - prev.frames_in
    motion_frames = cur.motion_frames - prev.motion_frames
    out: dict[str, FieldValue] = {
        "up": int(cur.up),
        "fps_in": round(frames / span, 3),
        "fps_processed": round((cur.processed - prev.processed) / span, 3),
        "dropped": max(0, cur.dropped - prev.dropped),
        "decode_ms": round(1000 * (cur.decode_cpu_seconds - prev.decode_cpu_seconds)
                           / frames, 3) if frames > 0 else 0.0,
        "reconnects": max(0, cur.reconnects - prev.reconnects),
        "motion_fraction": round((cur.motion_sum - prev.motion_sum) / motion_frames, 5)
        if motion_frames > 0 else 0.0,
        "recorded_bytes": max(0, cur.recorded_bytes - prev.recorded_bytes),
    }
    if cur.recorded_seconds is not None:
        done = cur.recorded_seconds - (prev.recorded_seconds or 0.0)
        out["recorded_seconds"] = round(max(0.0, done), 3)
    return out


class MetricsCollector:
    """Turns counter snapshots into points; one instance per worker."""

    def __init__(self, writer: PointWriter, worker_id: str,
                 buildings: Mapping[str, str]) -> None:
        self._writer = writer
        self._worker = worker_id
        self._buildings = dict(buildings)
        self._previous: dict[str, CameraCounters] = {}
        self._process = psutil.Process()
        self._process.cpu_percent()  # the first call only starts the measurement

    def record(self, counters: Mapping[str, CameraCounters], ts: datetime,
               worker_extra: Mapping[str, FieldValue] | None = None) -> int:
        """Write one interval's points; return how many were queued."""
        written = 0
        for camera_id, cur in counters.items():
            prev = self._previous.get(camera_id)
            self._previous[camera_id] = cur
            if prev is None:
                continue  # the first snapshot only sets the baseline
            tags = {"camera": camera_id, "building": self._buildings.get(camera_id, ""),
                    "worker": self._worker}
            self._writer.write("camera", camera_fields(prev, cur), tags, ts)
            written += 1
        fields: dict[str, FieldValue] = {
            "cpu_percent": float(self._process.cpu_percent()),
            "rss_bytes": int(self._process.memory_info().rss),
            "cameras": len(counters),
        }
        fields.update(worker_extra or {})
        self._writer.write("worker", fields, {"worker": self._worker}, ts)
        return written + 1
