"""Recordings whose every frame carries its own wall-clock time (the clock pattern of
:mod:`sample_streams.clock_stream`), cut the way the recorder cuts them: ffmpeg's segment
muxer, MPEG-TS, timestamps reset per segment, placed in the recordings layout.

A player showing a frame can then say which instant it shows, and so can ``ffmpeg -ss``
on the same segment: the playback tests and ``bench live`` compare the two.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from datetime import datetime, timedelta
from pathlib import Path

from compoundeye.recordings import segment_path
from sample_streams.clock_stream import HEIGHT, WIDTH, clock_frame

FPS = 15


def write_clock_segments(root: Path, camera_id: str, start: datetime, seconds: int,
                         workdir: Path, *, segment_seconds: int = 10,
                         fps: int = FPS, codec: str = "libx264") -> list[Path]:
    """Encode ``seconds`` of clock frames from ``start`` (aware) and file the segments
    (``codec`` libx264, or libx265 for an H.265 camera).

    The GOP is one second, so segments start exactly on ``segment_seconds`` boundaries and
    each segment's name is the time of its first frame.
    """
    staging = workdir / f"clock-staging-{camera_id}"
    staging.mkdir(parents=True, exist_ok=True)
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p",
           "-s", f"{WIDTH}x{HEIGHT}", "-r", str(fps), "-i", "pipe:0",
           "-c:v", codec, "-preset", "ultrafast", "-bf", "0",
           "-g", str(fps), "-keyint_min", str(fps), "-sc_threshold", "0",
           *(["-tune", "zerolatency"] if codec == "libx264"
             else ["-x265-params", "log-level=error"]),
           "-pix_fmt", "yuv420p", "-f", "segment", "-segment_time", str(segment_seconds),
           "-segment_format", "mpegts", "-reset_timestamps", "1", str(staging / "%05d.ts")]
    process = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert process.stdin is not None
    start_ms = int(start.timestamp() * 1000)
    failure: list[BaseException] = []

    def feed() -> None:
        assert process.stdin is not None
        try:
            for i in range(seconds * fps):
                process.stdin.write(clock_frame(start_ms + (i * 1000) // fps))
        except BaseException as exc:  # ffmpeg died: reported below
            failure.append(exc)
        finally:
            process.stdin.close()

    writer = threading.Thread(target=feed, name="clock-frames")
    writer.start()
    writer.join()
    if process.wait(timeout=300) != 0 or failure:
        raise RuntimeError(
            f"ffmpeg could not encode clock segments: {failure or process.returncode}")
    out = []
    for index, part in enumerate(sorted(staging.glob("*.ts"))):
        target = segment_path(root, camera_id, start + timedelta(seconds=segment_seconds * index))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(part, target)
        out.append(target)
    return out


def fill_day(root: Path, camera_id: str, day_start: datetime, pattern: list[Path], *,
             hours: int = 24, segment_seconds: int = 10) -> int:
    """Hard-link ``pattern`` segments, round-robin, into every slot of ``hours`` hours from
    ``day_start`` (a day of recordings in seconds and no disk; each segment stands alone,
    since the recorder resets timestamps per segment). Returns how many were linked."""
    count = 0
    slots = hours * 3600 // segment_seconds
    for i in range(slots):
        target = segment_path(root, camera_id, day_start + timedelta(seconds=i * segment_seconds))
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(pattern[i % len(pattern)], target)
        count += 1
    return count
