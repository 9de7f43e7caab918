"""The recordings layout, which is also the index.

``<root>/<camera>/<YYYY-MM-DD>/<HH>/<MM>.<SS>.ts``, UTC: a segment's path says when it
starts. One definition used by the recorder (where to put a finished segment) and by
search and export (which segments cover a window, and where the gaps are).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from compoundeye.site.models import is_valid_id

SEGMENT_SUFFIX = ".ts"
_NAME_RE = re.compile(r"^(\d{2})\.(\d{2})\.ts$")
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HOUR_RE = re.compile(r"^\d{2}$")


class UnsafePathError(ValueError):
    """A camera id or path that would leave the recordings directory."""


@dataclass(frozen=True)
class Segment:
    """One recorded segment: its file, when it starts, and when it is taken to end."""

    path: Path
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Interval:
    """A half-open time span ``[start, end)``."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def camera_dir(root: Path, camera_id: str) -> Path:
    """The camera's recordings directory, refusing ids that could escape ``root``."""
    if not is_valid_id(camera_id):
        raise UnsafePathError(f"invalid camera id {camera_id!r}")
    base = root.resolve()
    path = (base / camera_id).resolve()
    if not path.is_relative_to(base) or path == base:
        raise UnsafePathError(f"camera id {camera_id!r} leaves the recordings directory")
    return path


def segment_relpath(camera_id: str, start: datetime) -> Path:
    """Relative path of the segment of ``camera_id`` that starts at ``start`` (aware)."""
    if start.tzinfo is None:
        raise ValueError("segment start must be timezone-aware")
    utc = start.astimezone(UTC)
    return Path(camera_id, utc.strftime("%Y-%m-%d"), utc.strftime("%H"),
                utc.strftime("%M.%S") + SEGMENT_SUFFIX)


def segment_path(root: Path, camera_id: str, start: datetime) -> Path:
    """Absolute path of a segment under ``root``."""
    camera_dir(root, camera_id)
    return root / segment_relpath(camera_id, start)


def parse_segment_start(path: Path) -> datetime | None:
    """When a segment starts, from its path's last three parts; None if not a segment."""
    match = _NAME_RE.match(path.name)
    hour, day = path.parent.name, path.parent.parent.name
    if not match or not _HOUR_RE.match(hour) or not _DAY_RE.match(day):
        return None
    try:
        return datetime.strptime(f"{day} {hour}:{match[1]}:{match[2]}",
                                 "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _hours(start: datetime, end: datetime) -> list[datetime]:
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    out = []
    while hour < end:
        out.append(hour)
        hour += timedelta(hours=1)
    return out


def list_segments(
    root: Path,
    camera_id: str,
    start: datetime,
    end: datetime,
    *,
    segment_seconds: float = 10.0,
) -> list[Segment]:
    """Segments of a camera that overlap ``[start, end)``, in time order.

    A segment is taken to end where the next one starts when that is within 1.5 nominal
    lengths. Otherwise (the last one before a gap, or the newest) it ends at its file's
    modification time when that falls inside its nominal length (the recorder stamps a
    finished segment's mtime with its media end, so the short segment an outage cut off is
    not counted as a whole one), else after one nominal length. Only the hour directories
    the window touches are listed.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware")
    base = camera_dir(root, camera_id)
    nominal = timedelta(seconds=segment_seconds)
    starts: list[tuple[datetime, Path]] = []
    # One hour earlier too: a segment starting just before the window may overlap it.
    for hour in _hours(start - nominal * 2, end):
        directory = base / hour.strftime("%Y-%m-%d") / hour.strftime("%H")
        try:
            names = _scandir_names(directory)
        except FileNotFoundError:
            continue
        for name in names:
            match = _NAME_RE.match(name)
            if match:
                moment = hour.replace(minute=int(match[1]), second=int(match[2]))
                starts.append((moment, directory / name))
    starts.sort()
    segments = []
    for i, (moment, path) in enumerate(starts):
        nominal_end = moment + nominal
        if i + 1 < len(starts) and starts[i + 1][0] - moment <= nominal * 1.5:
            seg_end = starts[i + 1][0]
        else:
            seg_end = _stamped_end(path, moment, nominal_end)
        if seg_end > start and moment < end:
            segments.append(Segment(path, moment, seg_end))
    return segments


def _stamped_end(path: Path, start: datetime, nominal_end: datetime) -> datetime:
    """The end a segment's mtime says, if it lies within its nominal span, else nominal."""
    try:
        stamped = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except (OSError, OverflowError, ValueError):
        return nominal_end
    return stamped if start < stamped < nominal_end else nominal_end


def _scandir_names(directory: Path) -> list[str]:
    """Names of the regular files in ``directory`` (no Path objects: this is the hot loop
    of a search over thousands of segments)."""
    import os

    with os.scandir(directory) as entries:
        return [e.name for e in entries if e.is_file(follow_symlinks=False)]


def gaps(segments: list[Segment], start: datetime, end: datetime,
         *, tolerance_seconds: float = 1.0) -> list[Interval]:
    """Spans of ``[start, end)`` that no segment covers, ignoring gaps under tolerance."""
    tolerance = timedelta(seconds=tolerance_seconds)
    out = []
    cursor = start
    for seg in segments:
        if seg.start - cursor > tolerance:
            out.append(Interval(cursor, min(seg.start, end)))
        cursor = max(cursor, seg.end)
        if cursor >= end:
            break
    if end - cursor > tolerance:
        out.append(Interval(cursor, end))
    return out


def covered(segments: list[Segment], start: datetime, end: datetime,
            *, tolerance_seconds: float = 1.0) -> list[Interval]:
    """Spans of ``[start, end)`` that recordings cover (the complement of :func:`gaps`)."""
    holes = gaps(segments, start, end, tolerance_seconds=tolerance_seconds)
    out = []
    cursor = start
    for hole in holes:
        if hole.start > cursor:
            out.append(Interval(cursor, hole.start))
        cursor = hole.end
    if cursor < end:
        out.append(Interval(cursor, end))
    return out
