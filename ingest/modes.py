"""Which cameras run in full and which in health mode, now, from the site file.

A camera's ``detect_mode`` (or the edge default) is ``full``, ``health`` or ``armed``;
``armed`` follows the armed schedules of the camera's zones in the site's time zone
(:meth:`compoundeye.site.models.Site.needs_full_rate`). The worker asks
:meth:`ModeSchedule.changes` every status tick and tells the changed pipelines; each
pipeline switches on its open RTSP session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from compoundeye.site.models import Camera, Site
from compoundeye.timeutil import utcnow
from ingest.packet_reader import Mode
from ingest.status import FPS_WINDOW_SECONDS

Clock = Callable[[], datetime]


class ModeSchedule:
    """The mode each camera of a shard should be in at the clock's time."""

    def __init__(self, site: Site, cameras: Iterable[Camera], clock: Clock = utcnow) -> None:
        self.site = site
        self.clock = clock
        self._switchable = {c.id: c for c in cameras if site.detect_mode_of(c) != "full"}
        self._current: dict[str, Mode] = {}

    def can_switch(self, camera: Camera) -> bool:
        """Whether the camera is ever in health mode (and so needs a packet reader)."""
        return camera.id in self._switchable

    def wanted(self, camera: Camera, moment: datetime | None = None) -> Mode:
        """The mode the camera should be in at ``moment`` (default: the clock's now)."""
        at = moment or self.clock()
        return "full" if self.site.needs_full_rate(camera, at) else "health"

    def initial(self) -> dict[str, Mode]:
        """Every switchable camera's mode now (and the start of :meth:`changes`)."""
        self._current = self._modes(self.clock())
        return dict(self._current)

    def changes(self) -> dict[str, Mode]:
        """The cameras whose mode changed since the last call, with their new mode."""
        now = self._modes(self.clock())
        changed = {cid: mode for cid, mode in now.items() if self._current.get(cid) != mode}
        self._current = now
        return changed

    def _modes(self, at: datetime) -> dict[str, Mode]:
        # Each schedule once per tick, not once per camera: 2,600 cameras share a handful.
        names = {name for c in self._switchable.values() for name in c.armed_schedules}
        active = {name: self.site.schedule_active(name, at) for name in names}
        out: dict[str, Mode] = {}
        for cid, camera in self._switchable.items():
            if self.site.detect_mode_of(camera) == "health":
                out[cid] = "health"
            else:
                armed = any(active[name] for name in camera.armed_schedules)
                out[cid] = "full" if armed else "health"
        return out


def expected_sample_fps(detect_fps: float, mode: Mode, mode_since: float, now: float) -> float:
    """The sampled frame rate the status check expects (0: none expected).

    Health mode samples a keyframe every few seconds by design: not 'degraded'. Just after
    a switch to full, the status window still holds health-mode seconds: none expected
    until it has passed.
    """
    if mode == "health" or now - mode_since < FPS_WINDOW_SECONDS + 1.0:
        return 0.0
    return detect_fps
