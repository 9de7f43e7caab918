"""Retention of recordings and snapshots: by age, and oldest-first below a free-disk floor.

Only the directories of this worker's own cameras are touched (each camera is written by
one worker), and never anything under the exports directory: evidence exports are kept
until a person removes them.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from compoundeye.recordings import camera_dir, parse_segment_start

log = logging.getLogger(__name__)

FreeBytes = Callable[[Path], int]


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
                 min_free_bytes: int, free_bytes: FreeBytes = disk_free) -> None:
        self.recordings_root = recordings_root
        self.snapshots_root = snapshots_root
        self.exports_root = exports_root.resolve()
        self.camera_ids = list(camera_ids)
        self.recordings_age = timedelta(days=recordings_days)
        self.snapshots_age = timedelta(days=snapshots_days)
        self.min_free_bytes = min_free_bytes
        self._free_bytes = free_bytes
        self.stats = RetentionStats()

    def run_once(self, now: datetime | None = None) -> None:
        """One pass: age limits first, then the free-space floor."""
        now = now or datetime.now(UTC)
        self.stats.runs += 1
        self._by_age(now - self.recordings_age)
        self._snapshots(now - self.snapshots_age)
        self._by_space()

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
        removed = 0
        for start, path in self._segments_oldest_first():
            if start >= cutoff:
                break
            self._remove_segment(path)
            removed += 1
        if removed:
            log.info("retention: removed %d segments older than %s", removed, cutoff.date())

    def _by_space(self) -> None:
        if self.min_free_bytes <= 0:
            return
        self.recordings_root.mkdir(parents=True, exist_ok=True)
        free = self._free_bytes(self.recordings_root)
        if free >= self.min_free_bytes:
            return
        removed = 0
        for _start, path in self._segments_oldest_first():
            self._remove_segment(path)
            removed += 1
            if removed % 16 == 0 and self._free_bytes(self.recordings_root) >= self.min_free_bytes:
                break
        else:
            if removed == 0:
                log.error("retention: free disk %d B below floor %d B and nothing to remove",
                          free, self.min_free_bytes)
        if removed:
            log.warning("retention: free disk below %d B, removed the %d oldest segments",
                        self.min_free_bytes, removed)

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
