"""The one TS join and stream-copy remux behind both the desk's clips and the export.

MPEG-TS concatenates by bytes, so a window's segments are fed, in order, to one ffmpeg
reading MPEG-TS on stdin: the first segment from the keyframe at or before the requested
start (with the stream's PSI tables in front, so the demuxer still knows the PIDs), the
others whole. ffmpeg copies the streams into an MP4 trimmed to the window, with
``+faststart`` so a browser can play it at once. Nothing is ever re-encoded.

The export also keeps every source byte (the master) and hashes each segment on the
same single read; ``taps`` and ``hash_segments`` let it do so without a second pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from compoundeye.recordings import Segment
from evidence.segments import BadSegment, StartPoint

CHUNK = 1 << 20
Sink = Callable[[memoryview], object]


@dataclass(frozen=True)
class JoinedSegment:
    """One source segment as it was read: its size and its SHA-256 (empty unless the
    join was asked to hash segments)."""

    segment: Segment
    size: int
    sha256: str


@dataclass(frozen=True)
class RemuxResult:
    """What one remux did: ffmpeg's exit code and error output, and the segments read
    (a segment that could no longer be opened is listed as vanished, not raised)."""

    code: int
    stderr: str
    segments: list[JoinedSegment]
    vanished: list[BadSegment]


class _Feed:
    """The ffmpeg remux's stdin; stops feeding quietly once ffmpeg has all it wants."""

    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink
        self.open = True

    def write(self, data: memoryview | bytes) -> None:
        if not self.open:
            return
        try:
            self.sink.write(data)
        except (BrokenPipeError, ValueError):
            self.open = False

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self.sink.close()
        self.open = False


def remux_command(out: Path, duration: float, *, ffmpeg: str = "ffmpeg",
                  metadata: Mapping[str, str] | None = None) -> list[str]:
    """ffmpeg reading MPEG-TS on stdin, writing ``duration`` seconds of it to the MP4
    ``out`` by stream copy (video and audio when present), ``+faststart``."""
    tags = [arg for key, value in (metadata or {}).items()
            for arg in ("-metadata", f"{key}={value}")]
    return [ffmpeg, "-hide_banner", "-nostdin", "-v", "error",
            "-f", "mpegts", "-i", "pipe:0", "-t", f"{max(duration, 0.001):.3f}",
            "-map", "0:v?", "-map", "0:a?", "-c", "copy",
            "-movflags", "+faststart", *tags,
            "-f", "mp4", "-y", str(out)]


def join_segments(segments: Sequence[Segment], first: StartPoint,
                  feed: Callable[[memoryview | bytes], None], *, chunk: int = CHUNK,
                  taps: Iterable[Sink] = (), hash_segments: bool = False,
                  progress: Callable[[int], None] | None = None
                  ) -> tuple[list[JoinedSegment], list[BadSegment]]:
    """The TS join: ``first.prefix``, then the first segment from ``first.offset``, then
    every other segment whole, written to ``feed``.

    Every byte of every segment, uncut, also goes to each of ``taps`` (the export's
    master file and its hash); ``progress`` gets the size of each chunk read. A segment
    that can no longer be opened (removed by retention, say) is returned as vanished.
    """
    sinks = tuple(taps)
    buf = bytearray(chunk)
    view = memoryview(buf)
    read: list[JoinedSegment] = []
    vanished: list[BadSegment] = []
    if first.prefix:
        feed(first.prefix)
    for index, seg in enumerate(segments):
        digest = hashlib.sha256() if hash_segments else None
        size = 0
        # only the first segment is cut, at the keyframe start_point chose
        cut = first.offset if index == 0 else 0
        try:
            fd = os.open(seg.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            vanished.append(BadSegment(seg, f"unreadable at copy: {exc.strerror}"))
            continue
        with os.fdopen(fd, "rb", buffering=0) as source:
            while n := source.readinto(buf):
                part = view[:n]
                if digest is not None:
                    digest.update(part)
                for sink in sinks:
                    sink(part)
                if size >= cut:
                    feed(part)
                elif size + n > cut:
                    feed(part[cut - size:])
                size += n
                if progress is not None:
                    progress(n)
        read.append(JoinedSegment(seg, size, digest.hexdigest() if digest else ""))
    return read, vanished


def remux_segments(segments: Sequence[Segment], first: StartPoint, out: Path,
                   duration: float, *, timeout: float, ffmpeg: str = "ffmpeg",
                   metadata: Mapping[str, str] | None = None, chunk: int = CHUNK,
                   taps: Iterable[Sink] = (), hash_segments: bool = False,
                   progress: Callable[[int], None] | None = None) -> RemuxResult:
    """Join ``segments`` (see :func:`join_segments`) straight into one ffmpeg that
    remuxes them to the MP4 ``out``; the caller judges the exit code and the file.

    Raises :class:`subprocess.TimeoutExpired` when ffmpeg has not finished ``timeout``
    seconds after the last byte; ffmpeg is never left running, whatever is raised.
    """
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(remux_command(out, duration, ffmpeg=ffmpeg, metadata=metadata),
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
        try:
            assert proc.stdin is not None
            feed = _Feed(proc.stdin)
            read, vanished = join_segments(segments, first, feed.write, chunk=chunk, taps=taps,
                                           hash_segments=hash_segments, progress=progress)
            feed.close()
            code = proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        errors.seek(0)
        stderr = errors.read().decode("utf-8", "replace").strip()
    return RemuxResult(code, stderr, read, vanished)
