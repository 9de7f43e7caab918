"""Per-camera recorder: ffmpeg's segment muxer with stream copy, segments moved into place.

ffmpeg (command in :mod:`ingest.recorder_ffmpeg`) writes staging files and prints one CSV
line to stdout each time a segment is finished (``-segment_list pipe:1``). Each finished
file is renamed (same filesystem, atomic) to :func:`compoundeye.recordings.segment_path`
at its UTC wall-clock start, worked out by :class:`ingest.segment_clock.SegmentClock`, so
a reader of the layout never sees a half-written segment and segments never overlap.
ffmpeg is restarted with back-off when it dies, and the reason read from its stderr (401,
404, connection refused, timeout...) is kept for the status. It is restarted at once,
without back-off, when the camera's timestamps jump back (a reboot: ffmpeg would clamp
them and never cut another segment) or when the camera turns out to send G.711 audio
(recorded in G.711 mode from then on). A run that finishes no segment for
``2 x segment_seconds + 10 s`` (a camera that accepts the connection and then sends
nothing) is stopped as stalled and retried with back-off.
On stop ffmpeg gets SIGINT, closes the open segment, and that segment is moved as well.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from compoundeye.recordings import segment_path
from compoundeye.redact import redact_text
from ingest.reader import Backoff
from ingest.recorder_ffmpeg import (
    JUMP_TICKS,
    STAGING_DIRNAME,
    backward_jump,
    classify_stderr,
    ffmpeg_command,
    g711_codec,
    parse_segment_line,
    staging_start,
)
from ingest.segment_clock import SegmentClock

log = logging.getLogger(__name__)

__all__ = ["STAGING_DIRNAME", "Recorder", "RecorderStats", "classify_stderr", "ffmpeg_command",
           "staging_start"]


@dataclass
class RecorderStats:
    """Counters of one recorder."""

    segments: int = 0
    bytes: int = 0
    restarts: int = 0
    running: bool = False
    last_error: str = ""
    last_segment: float | None = None
    clock_jumps: int = 0  # camera timestamps that jumped (either way)
    stalls: int = 0  # runs stopped for sending nothing
    audio_original: str = ""  # "pcm_mulaw"/"pcm_alaw" once the camera is recorded in G.711 mode
    recorded_seconds: float = 0.0
    """Media seconds in the finished segments (ffmpeg's segment list: end - start)."""
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    """ffmpeg's last stderr lines, credentials masked."""


class Recorder:
    """Records one camera's main stream until :meth:`stop`; ``run`` is its thread body."""

    def __init__(self, camera_id: str, url: str, recordings_root: Path, *,
                 segment_seconds: int = 10, stop_grace: float = 5.0,
                 backoff_initial: float = 1.0, backoff_max: float = 10.0) -> None:
        self.camera_id = camera_id
        self.url = url
        self.root = recordings_root
        self.staging = recordings_root / STAGING_DIRNAME / camera_id
        self.segment_seconds = segment_seconds
        self.stop_grace = stop_grace
        self.stats = RecorderStats()
        self._stop = threading.Event()
        self._backoff = Backoff(backoff_initial, backoff_max)
        self._process: subprocess.Popen[bytes] | None = None
        self._clock = SegmentClock()
        self._run_id = ""
        self._restart_now = ""  # why the current run is being cut short on purpose
        self._progress = 0.0  # monotonic time of the run's start or its last segment
        self.stall_seconds = 2 * segment_seconds + 10.0

    def stop(self) -> None:
        """Ask ffmpeg to close its open segment and the loop to end."""
        self._stop.set()
        process = self._process
        if process is not None and process.poll() is None:
            _signal(process, signal.SIGINT)

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def run(self) -> None:
        """Run ffmpeg, move finished segments, restart with back-off; until stop."""
        segment_path(self.root, self.camera_id, datetime.now(UTC))  # refuses unsafe ids
        while not self._stop.is_set():
            try:
                self.staging.mkdir(parents=True, exist_ok=True)
                self.move_leftovers()
            except OSError as exc:  # a full or read-only disk: keep trying, say why
                self.stats.last_error = f"recordings directory: {exc.strerror}"
                log.error("camera %s: %s", self.camera_id, self.stats.last_error)
                self._stop.wait(self._backoff.next())
                continue
            started = time.monotonic()
            segments_before = self.stats.segments
            code = self._run_once()
            if self._stop.is_set():
                self.move_leftovers()
                break
            self.stats.restarts += 1
            if self._restart_now:
                log.info("camera %s: recorder restarted: %s", self.camera_id, self._restart_now)
                self._restart_now = ""
                continue
            if time.monotonic() - started > 60 and self.stats.segments > segments_before:
                self._backoff.reset()
            delay = self._backoff.next()
            last_line = self.stats.stderr_tail[-1] if self.stats.stderr_tail else ""
            log.warning("camera %s: recorder ffmpeg exited (%s): %s; restarting in %.1f s (%s)",
                        self.camera_id, code, self.stats.last_error or "no reason given", delay,
                        last_line[:200])
            self._stop.wait(delay)

    def _run_once(self) -> int | None:
        env = {**os.environ, "TZ": "UTC"}
        self._clock = SegmentClock()
        self._run_id = f"r{time.time_ns() // 1_000_000}"
        cmd = ffmpeg_command(self.url, self.staging, self.segment_seconds, run=self._run_id,
                             g711=self.stats.audio_original or None)
        try:
            process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, env=env)
        except OSError as exc:
            self.stats.last_error = f"cannot start ffmpeg: {exc}"
            return None
        self._process = process
        self._progress = time.monotonic()
        self.stats.running = True
        if self._stop.is_set():  # stop() raced with the start
            _signal(process, signal.SIGINT)
        try:
            self._pump(process)
        finally:
            self._reap(process)
            self.stats.running = False
            self._process = None
        return process.returncode

    def _pump(self, process: subprocess.Popen[bytes]) -> None:
        """Read segment-list lines and stderr until ffmpeg exits (or stop's grace ends)."""
        assert process.stdout is not None and process.stderr is not None
        buffers = {process.stdout.fileno(): b"", process.stderr.fileno(): b""}
        sel = selectors.DefaultSelector()
        sel.register(process.stdout, selectors.EVENT_READ, "out")
        sel.register(process.stderr, selectors.EVENT_READ, "err")
        stop_deadline: float | None = None
        try:
            while sel.get_map():
                if self._stop.is_set() and stop_deadline is None:
                    stop_deadline = time.monotonic() + self.stop_grace
                if (stop_deadline is None and not self._restart_now
                        and time.monotonic() - self._progress > self.stall_seconds):
                    self.stats.stalls += 1
                    self.stats.last_error = "stalled (no data)"
                    log.warning("camera %s: recorder stalled, no segment in %.0f s",
                                self.camera_id, self.stall_seconds)
                    _signal(process, signal.SIGINT)
                    stop_deadline = time.monotonic() + self.stop_grace
                if self._restart_now and stop_deadline is None:
                    stop_deadline = time.monotonic() + self.stop_grace
                if stop_deadline is not None and time.monotonic() > stop_deadline:
                    log.warning("camera %s: ffmpeg did not stop in %.0f s, killing",
                                self.camera_id, self.stop_grace)
                    break
                for key, _ in sel.select(timeout=0.5):
                    fd = key.fd
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        sel.unregister(key.fileobj)
                        continue
                    data = buffers[fd] + chunk
                    *lines, buffers[fd] = data.split(b"\n")
                    for raw in lines:
                        line = raw.decode("utf-8", "replace").strip()
                        if line:
                            self._on_line(key.data, line, process)
        finally:
            sel.close()

    def _on_line(self, stream: str, line: str,
                 process: subprocess.Popen[bytes] | None = None) -> None:
        if stream == "out":
            entry = parse_segment_line(line)
            if entry is not None:
                self._progress = time.monotonic()
                jumps = self._clock.jumps
                start = self._clock.place(entry.start, entry.end, time.time())
                if self._clock.jumps > jumps:
                    self.stats.clock_jumps += 1
                    log.warning("camera %s: stream time ran %.1f s ahead of the wall clock "
                                "(camera clock stepped forward?); segment placed by the wall "
                                "clock", self.camera_id, self._clock.last_jump_seconds)
                length = entry.end - entry.start if entry.end >= entry.start else None
                self._finish(self.staging / entry.name, start, length)
            return
        line = redact_text(line)  # ffmpeg names the URL it failed on, password and all
        self.stats.stderr_tail.append(line)
        reason = classify_stderr(line)
        if reason is not None:
            self.stats.last_error = reason
        log.debug("camera %s ffmpeg: %s", self.camera_id, line)
        codec = g711_codec(line)
        if codec is not None and not self.stats.audio_original:
            self.stats.audio_original = codec
            self._cut_short(process, f"{codec} audio: recording it in G.711 mode")
            return
        back = backward_jump(line)
        if back is not None and back >= JUMP_TICKS:
                self.stats.clock_jumps += 1
                self._cut_short(process, "camera timestamps jumped back (reboot?)")

    def _cut_short(self, process: subprocess.Popen[bytes] | None, why: str) -> None:
        """End this run on purpose (ffmpeg closes its segment); run() starts the next."""
        if self._restart_now:
            return
        self._restart_now = why
        if process is not None:
            _signal(process, signal.SIGINT)

    def _reap(self, process: subprocess.Popen[bytes]) -> None:
        try:
            # Its pipes are closed (it exited) or stop's grace is already spent: not long.
            process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()

    def _finish(self, staged: Path, start: datetime | None = None,
                seconds: float | None = None) -> None:
        """Move one finished staging file into the layout (atomic rename) at ``start``
        (default: the time in its staging name); ``seconds`` is its media length from the
        segment list."""
        start = start or staging_start(staged.name)
        if start is None or not staged.is_file():
            return
        start = start.replace(microsecond=0)
        size = staged.stat().st_size
        if size == 0:
            staged.unlink(missing_ok=True)
            return
        target = segment_path(self.root, self.camera_id, start)
        for _ in range(5):  # two segments started within one second: keep both
            if not target.exists():
                break
            start += timedelta(seconds=1)
            target = segment_path(self.root, self.camera_id, start)
        try:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                staged.replace(target)
            except FileNotFoundError:  # retention pruned the empty hour directory meanwhile
                target.parent.mkdir(parents=True, exist_ok=True)
                staged.replace(target)
        except OSError as exc:
            self.stats.last_error = f"cannot move segment: {exc.strerror}"
            log.error("camera %s: cannot move %s to %s: %s", self.camera_id, staged, target, exc)
            return
        self.stats.segments += 1
        self.stats.bytes += size
        self.stats.last_segment = time.time()
        if seconds is None:  # a leftover: no list line, at most one segment length
            seconds = min(float(self.segment_seconds),
                          max(0.0, self.stats.last_segment - start.timestamp()))
        self.stats.recorded_seconds += seconds
        self.stats.last_error = ""  # recording works: older failures are history

    def move_leftovers(self) -> None:
        """Move staging files left by an ffmpeg that is no longer running (in time order).

        The open file of the run that just ended starts where its last finished segment
        ended; older leftovers (a worker that died) go by the time in their name.
        """
        try:
            leftovers = sorted((p for p in self.staging.iterdir() if staging_start(p.name)),
                               key=lambda p: (staging_start(p.name), p.name))
        except FileNotFoundError:
            return
        for path in leftovers:
            start = None
            if self._run_id and path.name.startswith(f"{self._run_id}-"):
                start = self._clock.next_start
            self._finish(path, start)


def _signal(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
