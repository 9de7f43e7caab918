"""Camera offline from heartbeats that went stale (the camera's edge worker died).

Edge workers refresh ``names.camera_status_key(camera)`` with a TTL. A worker that dies
publishes no ``camera.offline``; its cameras' keys simply expire. The watchdog scans every
known camera's key, and a camera with no key (after a start-up grace period) is offline.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import redis

from alerts.dedupe import Intent
from alerts.rules import RuleEngine
from compoundeye.camera_status import CameraState, read_states

SCAN_CHUNK = 1000


class CameraWatchdog:
    """Finds cameras whose status heartbeat went stale, and those that came back."""

    def __init__(self, rules: RuleEngine, client: redis.Redis, started: datetime) -> None:
        self.rules = rules
        self.client = client
        self.grace = timedelta(seconds=rules.site.alerting.camera_stale_seconds)
        self.started = started
        self._flagged: set[str] = set()

    def scan(self, now: datetime) -> list[Intent]:
        """Open ``camera_offline`` for silent cameras; resolve it for those back."""
        if now - self.started < self.grace:
            return []
        cameras = [c.id for c in self.rules.site.cameras]
        out: list[Intent] = []
        for start in range(0, len(cameras), SCAN_CHUNK):
            chunk = cameras[start:start + SCAN_CHUNK]
            for camera, state in zip(chunk, read_states(self.client, chunk), strict=True):
                if state is None and camera not in self._flagged:
                    self._flagged.add(camera)
                    out.append(self.rules.open_intent(
                        "camera_offline", "camera", camera, now, None,
                        attrs={"reason": "status heartbeat stale (edge worker silent)"}))
                elif (state is not None and state != CameraState.OFFLINE
                      and camera in self._flagged):
                    self._flagged.discard(camera)
                    out.append(self.rules.resolve_intent("camera_offline", "camera", camera, now,
                                                   None, details={"by": "watchdog"}))
        return out
