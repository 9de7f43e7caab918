"""Per-camera recorder: ffmpeg's segment muxer with stream copy, segments moved into place.

ffmpeg writes ``<staging>/<YYYYmmddTHHMMSS>.ts`` (UTC wall time of the segment's start,
``TZ=UTC`` in its environment) and prints one CSV line to stdout each time a segment is
finished (``-segment_list pipe:1``). Each finished file is then renamed (same filesystem,
atomic) to :func:`compoundeye.recordings.segment_path`, so a reader of the layout never
sees a half-written segment. ffmpeg is restarted with back-off when it dies, and the reason
read from its stderr (401, 404, connection refused, timeout...) is kept for the status.
On stop ffmpeg gets SIGINT, closes the open segment, and that segment is moved as well.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import selectors
import shutil
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

log = logging.getLogger(__name__)

STAGING_DIRNAME = ".staging"
STAGING_FORMAT = "%Y%m%dT%H%M%S"
_STAGING_RE = re.compile(r"^(\d{8}T\d{6})\.ts$")

_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), reason) for pattern, reason in (
        (r"unauthori[sz]ed|authori[sz]ation failed", "unauthorized (401)"),
        (r"\b403 forbidden", "forbidden (403)"),
        (r"\b404 not found|stream not found", "not found (404)"),
        (r"connection refused", "connection refused"),
        (r"timed out|timeout", "timeout"),
        (r"no route to host|network is unreachable", "host unreachable"),
        (r"name or service not known|failed to resolve|temporary failure in name", "dns failure"),
        (r"invalid data found", "invalid data"),
        (r"connection reset|broken pipe", "connection reset"),
        (r"end of file", "stream ended"),
        (r"no space left", "disk full"),
        (r"permission denied", "permission denied"),
    )
)


def classify_stderr(line: str) -> str | None:
    """The failure an ffmpeg stderr line reports, in a few words; None if none known."""
    for pattern, reason in _REASONS:
        if pattern.search(line):
            return reason
    return None


def staging_start(name: str) -> datetime | None:
    """The UTC start time encoded in a staging file name, or None."""
    match = _STAGING_RE.match(name)
    if not match:
        return None
    try:
        return datetime.strptime(match[1], STAGING_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def ffmpeg_command(url: str, staging: Path, segment_seconds: int,
                   timeout_seconds: float = 10.0) -> list[str]:
    """The ffmpeg arguments that record ``url`` into ``staging`` by stream copy."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning"]
    if url.startswith(("rtsp://", "rtsps://")):
        cmd += ["-rtsp_transport", "tcp", "-timeout", str(int(timeout_seconds * 1_000_000))]
    cmd += [
        "-i", url, "-map", "0:v:0", "-map", "0:a?", "-c", "copy",
        "-f", "segment", "-segment_time", str(segment_seconds), "-segment_format", "mpegts",
        "-reset_timestamps", "1", "-strftime", "1",
        "-segment_list", "pipe:1", "-segment_list_type", "csv",
        str(staging / f"{STAGING_FORMAT}.ts"),
    ]
    if shutil.which("setpriv"):
        # If the worker dies without a clean stop, ffmpeg gets SIGINT and closes its file.
        cmd = ["setpriv", "--pdeathsig", "INT", *cmd]
    return cmd


@dataclass
class RecorderStats:
    """Counters of one recorder."""

    segments: int = 0
    bytes: int = 0
    restarts: int = 0
    running: bool = False
    last_error: str = ""
    last_segment: float | None = None
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
        cmd = ffmpeg_command(self.url, self.staging, self.segment_seconds)
        try:
            process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, env=env)
        except OSError as exc:
            self.stats.last_error = f"cannot start ffmpeg: {exc}"
            return None
        self._process = process
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
                            self._on_line(key.data, line)
        finally:
            sel.close()

    def _on_line(self, stream: str, line: str) -> None:
        if stream == "out":
            name, *times = line.split(",")
            self._finish(self.staging / Path(name).name, _listed_seconds(times))
            return
        line = redact_text(line)  # ffmpeg names the URL it failed on, password and all
        self.stats.stderr_tail.append(line)
        reason = classify_stderr(line)
        if reason is not None:
            self.stats.last_error = reason
        log.debug("camera %s ffmpeg: %s", self.camera_id, line)

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

    def _finish(self, staged: Path, seconds: float | None = None) -> None:
        """Move one finished staging file into the layout (atomic rename)."""
        start = staging_start(staged.name)
        if start is None or not staged.is_file():
            return
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
        """Move staging files left by an ffmpeg that is no longer running (in time order)."""
        try:
            leftovers = sorted(p for p in self.staging.iterdir() if staging_start(p.name))
        except FileNotFoundError:
            return
        for path in leftovers:
            self._finish(path)


def _listed_seconds(times: list[str]) -> float | None:
    """A segment's length from its CSV list line (``name,start,end``), or None."""
    try:
        start, end = float(times[0]), float(times[1])
    except (IndexError, ValueError):
        return None
    return end - start if end >= start else None


def _signal(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
