"""Retention of recordings and snapshots: by age, and oldest-first below a free-disk floor.

Only the directories of this worker's own cameras are touched (each camera is written by
one worker), and never anything under the exports directory: evidence exports are kept
until a person removes them. A segment under a legal hold is never deleted, by age or
for space: below the floor the unheld segments go, oldest first, and when only held ones
are left (or the holds cannot be read, so nothing may go) a ``retention.blocked`` event
raises an alert; ``retention.ok`` follows once there is room again.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from compoundeye.events import Event, EventKind, make_event
from compoundeye.legal_holds import HeldWindows
from compoundeye.recordings import camera_dir, parse_segment_start

log = logging.getLogger(__name__)

FreeBytes = Callable[[Path], int]
HoldSource = Callable[[list[str]], HeldWindows]
"""The active legal holds of these cameras (raises when they cannot be read)."""
Alarm = Callable[[Event], object]
ONLY_HELD_LEFT = "only recordings under legal hold are left"


class HoldsUnreadableError(RuntimeError):
    """The legal holds could not be read, so no recording may be deleted this pass."""


def disk_free(path: Path) -> int:
    """Free bytes on the filesystem holding ``path``."""
    return shutil.disk_usage(path).free


@dataclass
class RetentionStats:
    """What retention removed so far."""

    segments_removed: int = 0
    bytes_removed: int = 0
    snapshots_removed: int = 0
    runs: int = 0
    segments_held: int = 0
    """Segments kept in the last pass because a legal hold covers them."""
    holds_unreadable: int = 0
    """Passes that deleted no recording because the holds could not be read."""


def _is_day(name: str) -> bool:
    try:
        datetime.strptime(name, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return False
    return True


class Retention:
    """Deletes old segments and snapshots of the given cameras."""

    def __init__(self, recordings_root: Path, snapshots_root: Path, exports_root: Path,
                 camera_ids: list[str], *, recordings_days: float, snapshots_days: float,
                 min_free_bytes: int, free_bytes: FreeBytes = disk_free,
                 holds: HoldSource | None = None, alarm: Alarm | None = None,
                 worker_id: str = "edge", segment_seconds: float = 10.0) -> None:
        self.recordings_root = recordings_root
        self.snapshots_root = snapshots_root
        self.exports_root = exports_root.resolve()
        self.camera_ids = list(camera_ids)
        self.recordings_age = timedelta(days=recordings_days)
        self.snapshots_age = timedelta(days=snapshots_days)
        self.min_free_bytes = min_free_bytes
        self._free_bytes = free_bytes
        self._holds = holds
        self._alarm = alarm
        self.worker_id = worker_id
        self._margin = timedelta(seconds=2 * segment_seconds)
        self._blocked: str | None = None
        self._pass_holds: HeldWindows | None = None
        self.stats = RetentionStats()

    @property
    def blocked(self) -> str | None:
        """Why retention cannot make room (None when it can, or has no need to)."""
        return self._blocked

    def run_once(self, now: datetime | None = None) -> None:
        """One pass: age limits first, then the free-space floor; held segments stay."""
        now = now or datetime.now(UTC)
        self.stats.runs += 1
        self.stats.segments_held = 0
        self._pass_holds = None
        try:
            self._by_age(now - self.recordings_age)
            self._snapshots(now - self.snapshots_age)
            self._by_space(now)
        except HoldsUnreadableError as exc:
            # No holds known: deleting any recording could lose evidence.
            self.stats.holds_unreadable += 1
            log.error("retention: legal holds unreadable (%s); no recording deleted", exc)
            self._snapshots(now - self.snapshots_age)
            free = self._free()
            if free is not None and free < self.min_free_bytes:
                self._block(now, f"legal holds unreadable: {exc}"[:300], free, 0, 0)

    def _holds_now(self) -> HeldWindows:
        """The active holds, read once per pass and only when something would be deleted."""
        if self._pass_holds is None:
            if self._holds is None:
                self._pass_holds = HeldWindows(margin=self._margin)
            else:
                try:
                    self._pass_holds = self._holds(self.camera_ids)
                except Exception as exc:
                    raise HoldsUnreadableError(str(exc) or type(exc).__name__) from exc
        return self._pass_holds

    def _free(self) -> int | None:
        if self.min_free_bytes <= 0:
            return None
        self.recordings_root.mkdir(parents=True, exist_ok=True)
        return self._free_bytes(self.recordings_root)

    def _held(self, start: datetime, path: Path) -> bool:
        held = self._holds_now()
        # <root>/<camera>/<day>/<hour>/<MM.SS>.ts
        return bool(held) and held.held(path.parents[2].name, start)

    def _protected(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.exports_root)

    def _camera_dirs(self, root: Path) -> Iterator[Path]:
        for camera_id in self.camera_ids:
            try:
                path = camera_dir(root, camera_id)
            except ValueError:
                continue
            if path.is_dir() and not self._protected(path):
                yield path

    def _segments_oldest_first(self) -> Iterator[tuple[datetime, Path]]:
        """Every segment of our cameras in start order, listing one hour at a time."""
        hours: list[tuple[str, str, Path]] = []
        for cam in self._camera_dirs(self.recordings_root):
            for day in _listdir(cam):
                if not _is_day(day):
                    continue
                for hour in _listdir(cam / day):
                    if len(hour) == 2 and hour.isdigit():
                        hours.append((day, hour, cam / day / hour))
        hours.sort()
        i = 0
        while i < len(hours):
            # All cameras' files of the same hour, merged in time order.
            j = i
            batch: list[tuple[datetime, Path]] = []
            while j < len(hours) and hours[j][:2] == hours[i][:2]:
                for name in _listdir(hours[j][2]):
                    path = hours[j][2] / name
                    start = parse_segment_start(path)
                    if start is not None:
                        batch.append((start, path))
                j += 1
            yield from sorted(batch)
            i = j

    def _remove_segment(self, path: Path) -> None:
        if self._protected(path):
            return
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return
        self.stats.segments_removed += 1
        self.stats.bytes_removed += size
        _prune_empty(path.parent, stop_at=self.recordings_root)

    def _by_age(self, cutoff: datetime) -> None:
        removed = kept = 0
        for start, path in self._segments_oldest_first():
            if start >= cutoff:
                break
            if self._held(start, path):
                kept += 1
                continue
            self._remove_segment(path)
            removed += 1
        self.stats.segments_held = kept
        if removed:
            log.info("retention: removed %d segments older than %s", removed, cutoff.date())
        if kept:
            log.info("retention: kept %d segments older than %s under legal hold", kept,
                     cutoff.date())

    def _by_space(self, now: datetime) -> None:
        free = self._free()
        if free is None:
            return
        if free >= self.min_free_bytes:
            self._unblock(now, free)
            return
        removed = kept = kept_bytes = 0
        for start, path in self._segments_oldest_first():
            if self._held(start, path):
                kept += 1
                kept_bytes += _size(path)
                continue
            self._remove_segment(path)
            removed += 1
            if removed % 16 == 0:
                free = self._free_bytes(self.recordings_root)
                if free >= self.min_free_bytes:
                    self._unblock(now, free)
                    break
        else:
            free = self._free_bytes(self.recordings_root)
            if free >= self.min_free_bytes:
                self._unblock(now, free)
            elif kept:
                self._block(now, ONLY_HELD_LEFT, free, kept, kept_bytes)
            else:
                log.error("retention: free disk %d B below floor %d B and nothing to remove",
                          free, self.min_free_bytes)
        self.stats.segments_held = max(self.stats.segments_held, kept)
        if removed:
            log.warning("retention: free disk below %d B, removed the %d oldest unheld segments",
                        self.min_free_bytes, removed)

    def _block(self, now: datetime, reason: str, free: int, kept: int, kept_bytes: int) -> None:
        log.error("retention: free disk %d B below floor %d B: %s (%d held segments, %d B)",
                  free, self.min_free_bytes, reason, kept, kept_bytes)
        if self._blocked == reason:
            return
        self._blocked = reason
        self._announce(EventKind.RETENTION_BLOCKED, now, {
            "reason": reason, "free_bytes": free, "min_free_bytes": self.min_free_bytes,
            "held_segments": kept, "held_bytes": kept_bytes, "worker": self.worker_id})

    def _unblock(self, now: datetime, free: int) -> None:
        if self._blocked is None:
            return
        self._blocked = None
        log.warning("retention: free disk back above the floor (%d B)", free)
        self._announce(EventKind.RETENTION_OK, now, {"free_bytes": free,
                                                     "worker": self.worker_id})

    def _announce(self, kind: EventKind, now: datetime, attrs: dict[str, Any]) -> None:
        if self._alarm is None:
            return
        try:
            self._alarm(make_event(kind, "worker", self.worker_id, now, attrs))
        except Exception:  # the log line above stays; retention goes on
            log.exception("retention: could not publish %s", kind.value)

    def _snapshots(self, cutoff: datetime) -> None:
        cutoff_day = cutoff.astimezone(UTC).date()
        for cam in self._camera_dirs(self.snapshots_root):
            for day in _listdir(cam):
                if not _is_day(day):
                    continue
                # A whole day goes once all of it is older than the cutoff.
                if datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).date() >= cutoff_day:
                    continue
                directory = cam / day
                if self._protected(directory):
                    continue
                count = sum(1 for _ in _listdir(directory))
                shutil.rmtree(directory, ignore_errors=True)
                self.stats.snapshots_removed += count
            _prune_empty(cam, stop_at=self.snapshots_root)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _listdir(path: Path) -> list[str]:
    try:
        return sorted(entry.name for entry in path.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _prune_empty(directory: Path, *, stop_at: Path) -> None:
    """Remove ``directory`` and its parents while empty, never ``stop_at`` itself."""
    stop = stop_at.resolve()
    current = directory.resolve()
    while current != stop and current.is_relative_to(stop):
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent
