"""Activity per camera zone and hour, against the learnt baseline of that hour of week.

Motion time per (camera, zone) is summed from ``motion.start``/``motion.end`` pairs into
hourly slots (in the site's time zone). When a zone's hour is over (the first motion
event of a later hour shows it) the fraction of the hour in motion is checked against
:class:`detectors.activity.ActivityBaseline` and then learnt; hours with no motion at all
count as zero. Baselines are loaded from and saved to the Redis hash
``names.activity_key(camera)`` through the callables given, so this module stays pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from detectors.activity import ActivityAnomaly, ActivityBaseline, hour_of_week

HOUR = timedelta(hours=1)
MAX_GAP_HOURS = 168


@dataclass
class _ZoneHour:
    start: datetime
    busy_seconds: float = 0.0
    motion_since: datetime | None = None


class ActivityTracker:
    """Feeds motion events, returns anomalies of finished hours; saves dirty baselines."""

    def __init__(self, tz: ZoneInfo, load: Callable[[str], dict[str, str]] | None = None
                 ) -> None:
        self.tz = tz
        self._load = load
        self._baselines: dict[str, ActivityBaseline] = {}
        self._hours: dict[tuple[str, str], _ZoneHour] = {}
        self.dirty: set[str] = set()

    def baseline(self, camera: str) -> ActivityBaseline:
        """The camera's baseline, loaded on first use (empty when unknown or corrupt)."""
        found = self._baselines.get(camera)
        if found is None:
            state = self._load(camera) if self._load is not None else {}
            try:
                found = ActivityBaseline.from_state(camera, state)
            except ValueError:
                found = ActivityBaseline(camera)
            self._baselines[camera] = found
        return found

    def _hour_start(self, at: datetime) -> datetime:
        local = at.astimezone(self.tz)
        return local.replace(minute=0, second=0, microsecond=0)

    def motion(self, camera: str, zone: str, at: datetime, started: bool
               ) -> list[ActivityAnomaly]:
        """Note motion starting or ending in a zone; anomalies of any hour that finished."""
        zone = zone.replace("|", "_") or "*"
        key = (camera, zone)
        slot = self._hours.get(key)
        if slot is not None and slot.start <= at < slot.start + HOUR:
            hour = slot.start  # the common case: no time zone arithmetic
        else:
            hour = self._hour_start(at)
        anomalies: list[ActivityAnomaly] = []
        if slot is None:
            slot = self._hours[key] = _ZoneHour(hour)
        elif hour > slot.start:
            anomalies = self._close(camera, zone, slot, hour)
            slot = self._hours[key]
        if started:
            if slot.motion_since is None:
                slot.motion_since = max(at, slot.start)
        elif slot.motion_since is not None:
            slot.busy_seconds += max(0.0, (at - slot.motion_since).total_seconds())
            slot.motion_since = None
        return anomalies

    def _close(self, camera: str, zone: str, slot: _ZoneHour, new_hour: datetime
               ) -> list[ActivityAnomaly]:
        baseline = self.baseline(camera)
        out: list[ActivityAnomaly] = []
        carry = slot.motion_since is not None
        start = slot.start
        busy = slot.busy_seconds + ((start + HOUR - slot.motion_since).total_seconds()
                                    if slot.motion_since is not None else 0.0)
        for step in range(MAX_GAP_HOURS):
            if start >= new_hour:
                break
            value = min(1.0, max(0.0, busy / 3600.0))
            how = hour_of_week(start)
            found = baseline.check(zone, how, value)
            if found is not None:
                out.append(found)
            baseline.observe(zone, how, value)
            start += HOUR
            busy = 3600.0 if carry and step >= 0 and start < new_hour else 0.0
        self.dirty.add(camera)
        self._hours[(camera, zone)] = _ZoneHour(
            new_hour, 0.0, new_hour if carry else None)
        return out

    def take_dirty(self) -> dict[str, dict[str, str]]:
        """States of baselines changed since the last call, to save."""
        out = {camera: self.baseline(camera).to_state() for camera in self.dirty}
        self.dirty.clear()
        return out
