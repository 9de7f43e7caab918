"""Clips for the desk: recorded TS segments remuxed to MP4 on the fly, then cached.

The covering segments' bytes are concatenated (MPEG-TS concatenates by bytes) and remuxed
by stream copy, trimmed to the window, with ``+faststart`` so the browser can start
playing at once: the same join and remux as the evidence export (:mod:`evidence.remux`).
The result is cached under ``CE_DATA_DIR/cache/clips`` by a key that names the camera,
the window and the exact segments (name and size), so a segment that grows or a new one
that lands gives a new clip.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import tempfile
import threading
from datetime import datetime
from pathlib import Path

from compoundeye.recordings import Segment
from evidence.remux import remux_segments
from evidence.segments import select, start_point

log = logging.getLogger(__name__)

MAX_CLIP_SECONDS = 3600.0
FFMPEG_TIMEOUT_SECONDS = 120.0


class ClipError(Exception):
    """A clip that cannot be made; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ClipCache:
    """Makes and caches MP4 clips of recorded windows."""

    def __init__(self, recordings_dir: Path, cache_dir: Path, *, segment_seconds: float) -> None:
        self._recordings = recordings_dir
        self._cache = cache_dir
        self._segment_seconds = segment_seconds
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_guard:
            if len(self._locks) > 1024:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            return self._locks.setdefault(key, threading.Lock())

    @staticmethod
    def sha256(clip: Path) -> str:
        """The SHA-256 of a cached clip (for the audit row of each view), computed once
        when it is first asked for and kept beside it."""
        sidecar = clip.with_suffix(".sha256")
        try:
            known = sidecar.read_text(encoding="ascii").strip()
            if len(known) == 64:
                return known
        except (OSError, UnicodeError):
            pass
        digest = hashlib.sha256()
        with clip.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        value = digest.hexdigest()
        tmp = sidecar.with_name(f".{sidecar.name}.{threading.get_ident()}")
        tmp.write_text(value, encoding="ascii")
        tmp.replace(sidecar)
        return value

    def clip(self, camera_id: str, start: datetime, end: datetime) -> tuple[Path, bool]:
        """The MP4 of ``[start, end)`` for a camera, and whether it came from the cache."""
        if end <= start:
            raise ClipError(400, "clip window: end must be after start")
        if (end - start).total_seconds() > MAX_CLIP_SECONDS:
            raise ClipError(400, f"clip window longer than {MAX_CLIP_SECONDS:.0f} s")
        try:
            chosen = select(self._recordings, camera_id, start, end,
                            segment_seconds=self._segment_seconds)
        except ValueError as exc:
            raise ClipError(400, str(exc)) from exc
        if not chosen.segments:
            raise ClipError(404, f"no recording of camera {camera_id} in that window")
        signature = hashlib.sha256()
        signature.update(f"{camera_id}|{start.isoformat()}|{end.isoformat()}".encode())
        for seg, size in zip(chosen.segments, chosen.sizes, strict=True):
            signature.update(f"|{seg.path.name}:{seg.start.isoformat()}:{size}".encode())
        key = signature.hexdigest()[:32]
        target = self._cache / f"{key}.mp4"
        if target.is_file():
            return target, True
        with self._lock_for(key):
            if target.is_file():
                return target, True
            self._cache.mkdir(parents=True, exist_ok=True)
            self._remux(chosen.segments, start, end, target)
        return target, False

    def _remux(self, segments: list[Segment], start: datetime, end: datetime,
               target: Path) -> None:
        # Start at the keyframe at or before ``start`` (as the evidence export does), so
        # the clip begins with a decodable picture; stream copy, never re-encode.
        first = start_point(segments[0], start)
        duration = (min(end, segments[-1].end) - first.wallclock).total_seconds()
        with tempfile.TemporaryDirectory(dir=self._cache, prefix=".clip-") as work:
            partial = Path(work) / "clip.mp4"
            try:
                result = remux_segments(segments, first, partial, max(duration, 0.1),
                                        timeout=FFMPEG_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired as exc:
                raise ClipError(503, "ffmpeg took too long to remux the clip") from exc
            for gone in result.vanished:
                log.warning("segment %s vanished while making a clip (%s)",
                            gone.segment.path, gone.reason)
            if result.code != 0 or not partial.is_file() or partial.stat().st_size == 0:
                message = result.stderr[-300:]
                log.warning("remux failed for %s: %s", target.name, message)
                raise ClipError(422, f"recorded segments could not be remuxed: {message}")
            partial.replace(target)
