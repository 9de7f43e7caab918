"""Segment-level helpers: which segments cover a window, whether each is readable, and
where in the first one the working copy should start (the keyframe at or before the
requested start).

A segment that is missing, empty, unreadable or not MPEG-TS is never a crash: it is set
aside with a reason and becomes a gap in the answer.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from compoundeye.recordings import (
    Interval,
    Segment,
    UnsafePathError,
    camera_dir,
    gaps,
    list_segments,
)
from compoundeye.site.models import is_valid_id

TS_PACKET = 188
TS_SYNC = 0x47
MIN_SEGMENT_BYTES = 2 * TS_PACKET
PAT_PID = 0x0000
SDT_PID = 0x0011
FFPROBE_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class BadSegment:
    """A segment set aside: its file, its time span and why it cannot be used."""

    segment: Segment
    reason: str


@dataclass(frozen=True)
class GapSpan:
    """A span of the window without usable recording, and why."""

    start: datetime
    end: datetime
    reason: str

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Selection:
    """The usable segments of a camera over a window, the bad ones, and the gaps."""

    camera_id: str
    start: datetime
    end: datetime
    segments: list[Segment]
    sizes: list[int]
    bad: list[BadSegment]
    gaps: list[GapSpan]

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes)


def segment_problem(path: Path, *, want_size: bool = True) -> tuple[int, str | None]:
    """The segment's size and why it cannot be used (None when it looks like MPEG-TS).

    Checks what is cheap and catches what matters: the file opens without following a
    symlink, holds at least two TS packets, and has the sync byte at 0 and 188. Without
    ``want_size`` the size is not looked up (0 is returned) and one syscall is saved.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        return 0, f"unreadable: {exc.strerror or exc}"
    try:
        head = os.pread(fd, MIN_SEGMENT_BYTES + 1, 0)
        size = os.fstat(fd).st_size if want_size else 0
    except OSError as exc:
        return 0, f"unreadable: {exc.strerror or exc}"
    finally:
        os.close(fd)
    if len(head) < MIN_SEGMENT_BYTES:
        return len(head), f"too short ({len(head)} bytes)"
    if head[0] != TS_SYNC or head[TS_PACKET] != TS_SYNC:
        return size, "not MPEG-TS (no sync byte at 0 and 188)"
    return size, None


def _inside(path: Path, root: Path, cache: dict[Path, bool]) -> bool:
    """Whether a segment's real directory is under ``root`` (a symlinked day or hour
    directory could otherwise point anywhere)."""
    parent = path.parent
    known = cache.get(parent)
    if known is None:
        known = Path(os.path.realpath(parent)).is_relative_to(root)
        cache[parent] = known
    return known


def select(
    recordings_root: Path,
    camera_id: str,
    start: datetime,
    end: datetime,
    *,
    segment_seconds: float = 10.0,
    check: bool = True,
    want_sizes: bool = True,
) -> Selection:
    """The segments of ``camera_id`` covering ``[start, end)``, each checked readable.

    ``want_sizes=False`` skips the size lookup (a search needs no sizes; an export does).
    Raises :class:`compoundeye.recordings.UnsafePathError` for an id that is not safe; a
    well-formed id whose directory leads out of the root is one gap with that reason.
    """
    root = Path(os.path.realpath(recordings_root))
    if not is_valid_id(camera_id):
        raise UnsafePathError(f"invalid camera id {camera_id!r}")
    try:
        camera_dir(root, camera_id)
    except UnsafePathError as exc:  # e.g. a camera directory symlinked out of the root
        return Selection(camera_id, start, end, [], [], [],
                         [GapSpan(start, end, f"recordings directory refused: {exc}")])
    found = list_segments(root, camera_id, start, end, segment_seconds=segment_seconds)
    good: list[Segment] = []
    sizes: list[int] = []
    bad: list[BadSegment] = []
    cache: dict[Path, bool] = {}
    for seg in found:
        if not _inside(seg.path, root, cache):
            bad.append(BadSegment(seg, "outside the recordings directory"))
            continue
        if check:
            size, problem = segment_problem(seg.path, want_size=want_sizes)
            if problem is not None:
                bad.append(BadSegment(seg, problem))
                continue
        else:
            size = 0
        good.append(seg)
        sizes.append(size)
    holes = gaps(good, start, end)
    return Selection(camera_id, start, end, good, sizes, bad, explain_gaps(holes, bad))


def explain_gaps(holes: list[Interval], bad: list[BadSegment]) -> list[GapSpan]:
    """Each hole with its reason: the bad segments inside it, or "no recording"."""
    out = []
    for hole in holes:
        reasons = [
            f"{b.segment.path.name} {b.reason}"
            for b in bad
            if b.segment.start < hole.end and b.segment.end > hole.start
        ]
        reason = "; ".join(reasons) if reasons else "no recording"
        out.append(GapSpan(hole.start, hole.end, reason))
    return out


@dataclass(frozen=True)
class StartPoint:
    """Where to start feeding the first segment, and the wall-clock time that is."""

    offset: int
    prefix: bytes
    wallclock: datetime
    keyframe_forced: bool


def psi_prefix(head: bytes) -> bytes:
    """The leading PSI packets (SDT, PAT, PMT) of a TS segment, so that a stream cut
    at a later keyframe still tells the demuxer which PIDs carry what."""
    pmt_pids: set[int] = set()
    out = []
    for off in range(0, len(head) - TS_PACKET + 1, TS_PACKET):
        pkt = head[off:off + TS_PACKET]
        if pkt[0] != TS_SYNC:
            break
        pid = ((pkt[1] & 0x1F) << 8) | pkt[2]
        if pid == PAT_PID:
            pmt_pids |= _pat_pmt_pids(pkt)
        elif pid != SDT_PID and pid not in pmt_pids:
            break
        out.append(pkt)
    return b"".join(out)


def _pat_pmt_pids(pkt: bytes) -> set[int]:
    pos = 4
    if (pkt[3] >> 4) & 0x2:  # adaptation field present
        pos += 1 + pkt[4]
    if pkt[1] & 0x40:  # payload unit start: skip the pointer field
        pos += 1 + pkt[pos] if pos < len(pkt) else 0
    if pos + 8 > len(pkt):
        return set()
    section_length = ((pkt[pos + 1] & 0x0F) << 8) | pkt[pos + 2]
    stop = min(pos + 3 + section_length - 4, len(pkt))
    pids = set()
    for entry in range(pos + 8, stop - 3, 4):
        program = (pkt[entry] << 8) | pkt[entry + 1]
        if program != 0:
            pids.add(((pkt[entry + 2] & 0x1F) << 8) | pkt[entry + 3])
    return pids


def video_keyframes(path: Path) -> list[tuple[float, int]]:
    """(seconds since the segment's first video packet, byte offset) of each video
    keyframe, from ffprobe's packet list (no decoding). Empty if ffprobe cannot tell."""
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0",
           "-show_entries", "packet=pts_time,flags,pos", "-of", "json", str(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=FFPROBE_TIMEOUT_SECONDS,
                              check=False)
        packets = json.loads(proc.stdout or b"{}").get("packets", [])
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return []
    times = []
    for packet in packets:
        try:
            times.append((float(packet["pts_time"]), int(packet["pos"]),
                          "K" in packet.get("flags", "")))
        except (KeyError, ValueError):
            continue
    if not times:
        return []
    first = min(t for t, _, _ in times)
    return [(round(t - first, 6), pos) for t, pos, key in times if key]


def start_point(first: Segment, requested: datetime) -> StartPoint:
    """The keyframe of the first segment at or before ``requested`` (or its first
    keyframe when the request starts earlier), as a byte offset into the segment."""
    if requested <= first.start:
        return StartPoint(0, b"", first.start, keyframe_forced=False)
    keyframes = video_keyframes(first.path)
    wanted = (requested - first.start).total_seconds()
    chosen = [(t, pos) for t, pos in keyframes if t <= wanted + 1e-6]
    if not chosen or chosen[-1][1] <= 0:
        at = chosen[-1][0] if chosen else 0.0
        return StartPoint(0, b"", first.start + timedelta(seconds=at),
                          keyframe_forced=at < wanted)
    at, pos = chosen[-1]
    offset = pos - pos % TS_PACKET
    try:
        with first.path.open("rb") as handle:
            prefix = psi_prefix(handle.read(min(offset, 16 * TS_PACKET)))
    except OSError:
        return StartPoint(0, b"", first.start, keyframe_forced=False)
    return StartPoint(offset, prefix, first.start + timedelta(seconds=at),
                      keyframe_forced=at < wanted - 1e-3)
