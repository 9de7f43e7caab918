"""JPEG snapshots of events: ``CE_DATA_DIR/snapshots/<camera>/<YYYY-MM-DD>/<event-id>.jpg``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import cv2

from compoundeye.recordings import camera_dir
from detectors.base import Frame

log = logging.getLogger(__name__)

JPEG_QUALITY = 80


def snapshot_relpath(camera_id: str, ts: datetime, event_id: str) -> Path:
    """Path of an event's snapshot relative to the snapshots directory (UTC day)."""
    return Path(camera_id, ts.astimezone(UTC).strftime("%Y-%m-%d"), f"{event_id}.jpg")


def save_snapshot(root: Path, camera_id: str, ts: datetime, event_id: str,
                  frame: Frame) -> str | None:
    """Write the frame as JPEG atomically; return its relative path, or None on failure."""
    camera_dir(root, camera_id)  # refuses ids that would leave the directory
    rel = snapshot_relpath(camera_id, ts, event_id)
    path = root / rel
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        log.warning("camera %s: could not encode snapshot for %s", camera_id, event_id)
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data.tobytes())
        tmp.replace(path)
    except OSError as exc:
        log.warning("camera %s: cannot write snapshot %s: %s", camera_id, path, exc)
        return None
    return rel.as_posix()
