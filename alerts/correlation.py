"""Correlation: which cameras an alert links to, its clip window and nearest snapshot.

A door alert carries the cameras that see the door; a motion or tamper alert carries its
own camera. The clip window runs from ``clip_before`` seconds before the event to
``clip_after`` after. The snapshot is the one nearest in time among the recent motion and
tamper events of those cameras (their ``attrs.snapshot``), remembered for a few minutes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from compoundeye.events import Event, EventKind
from compoundeye.site.models import Site

SNAPSHOT_KINDS = frozenset({EventKind.MOTION_START, EventKind.MOTION_END,
                            EventKind.CAMERA_TAMPER})


@dataclass(frozen=True)
class Context:
    """What an alert links to."""

    cameras: list[str]
    clip_start: datetime
    clip_end: datetime
    snapshot: str | None
    building: str
    location: dict[str, Any]


class Correlator:
    """Links alerts to cameras, clip windows and snapshots (bounded memory per camera)."""

    def __init__(self, site: Site, memory: timedelta = timedelta(minutes=5),
                 per_camera: int = 16) -> None:
        self.site = site
        self.before = timedelta(seconds=site.alerting.clip_before_seconds)
        self.after = timedelta(seconds=site.alerting.clip_after_seconds)
        self.memory = memory
        self._per_camera = per_camera
        self._snapshots: dict[str, deque[tuple[datetime, str]]] = {}
        self._places: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}

    def note(self, event: Event) -> None:
        """Remember the snapshot a camera event carries, if any."""
        if event.source.type != "camera" or event.kind not in SNAPSHOT_KINDS:
            return
        snapshot = event.attrs.get("snapshot")
        if not isinstance(snapshot, str) or not snapshot:
            return
        shots = self._snapshots.setdefault(event.source.id, deque(maxlen=self._per_camera))
        shots.append((event.ts, snapshot[:1024]))

    def nearest_snapshot(self, cameras: list[str], at: datetime) -> str | None:
        """The remembered snapshot of these cameras nearest to ``at`` (within memory)."""
        best: tuple[timedelta, str] | None = None
        for camera in cameras:
            for ts, path in self._snapshots.get(camera, ()):
                gap = abs(ts - at)
                if gap <= self.memory and (best is None or gap < best[0]):
                    best = (gap, path)
        return None if best is None else best[1]

    def place(self, source_type: str, source_id: str) -> tuple[str, dict[str, Any]]:
        """(building, location dict) of a door or camera; empty for an unknown one."""
        key = (source_type, source_id)
        cached = self._places.get(key)
        if cached is not None:
            return cached
        thing = (self.site.door(source_id) if source_type == "door"
                 else self.site.camera(source_id) if source_type == "camera" else None)
        if thing is None:
            place: tuple[str, dict[str, Any]] = ("", {})
        else:
            place = (thing.location.building, thing.location.model_dump(mode="json"))
        self._places[key] = place
        return place

    def context(self, source_type: str, source_id: str, at: datetime,
                snapshot: str | None = None) -> Context:
        """Cameras, clip window, snapshot and place of an alert about this source."""
        door = source_type == "door"
        if door:
            cameras = self.site.cameras_for_door(source_id)
        else:  # a camera links to itself; an edge worker to no camera
            cameras = [source_id] if source_type == "camera" else []
        building, location = self.place(source_type, source_id)
        return Context(
            cameras=cameras, clip_start=at - self.before, clip_end=at + self.after,
            snapshot=snapshot or self.nearest_snapshot(cameras, at),
            building=building, location=location,
        )

    def prune(self, now: datetime) -> None:
        """Forget snapshots older than the memory."""
        cutoff = now - self.memory
        for camera in list(self._snapshots):
            shots = self._snapshots[camera]
            while shots and shots[0][0] < cutoff:
                shots.popleft()
            if not shots:
                del self._snapshots[camera]
