"""One camera's sub-stream reader: OpenCV's FFmpeg backend over RTSP/TCP, never blocking.

The reader thread decodes every frame (``grab``) so the decoder keeps pace with the camera,
takes only the frames the sampler keeps (``retrieve``) and puts them in a
:class:`~ingest.sampler.DropQueue`. By default the kept frames are the decoder's luma plane
as is (``CAP_PROP_CONVERT_RGB`` off: no colour conversion at all, which is most of the
pipeline's cost over pure decoding); with ``colour=True`` they are converted to BGR, for
colour snapshots at about twice the per-frame cost. A grey frame is also halved at once
(``SampledFrame.half``), while it is still in the cache, for the motion detector's shrinking.
A stream whose pixel format has no plain luma plane first is switched to colour
automatically. A stream that fails to open or stops delivering is reopened after an
exponential back-off with jitter, spent waiting on the stop event (no CPU). Decoding runs
in the reader's own thread (one FFmpeg thread per camera), so the thread's CPU time is the
decode cost reported per frame.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import cv2

from detectors.base import Frame
from detectors.frames import halve
from ingest.sampler import DropQueue, FrameSampler

log = logging.getLogger(__name__)

CAPTURE_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
FAST_FAILURE_SECONDS = 0.5
"""A grab that fails faster than this is a frame that would not decode, not a dead stream."""
MAX_CONSECUTIVE_DECODE_ERRORS = 25
CAPTURE_OPTIONS = (
    "rtsp_transport;tcp|allowed_media_types;video|analyzeduration;1000000|probesize;500000"
)
"""RTSP over TCP, video only, and a short probe (a camera's SPS/PPS come with every keyframe)."""


def configure_ffmpeg_capture() -> None:
    """Make OpenCV's FFmpeg backend use RTSP over TCP (read at every capture creation).

    Process-wide by nature (FFmpeg reads it from the environment); call it once before
    the first reader starts.
    """
    os.environ[CAPTURE_OPTIONS_ENV] = CAPTURE_OPTIONS
    # FFmpeg's per-macroblock complaints about a corrupt stream would flood the log; the
    # reader counts decode errors instead. 8 = AV_LOG_FATAL.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")
    # Without this OpenCV opens one stream at a time behind a global lock: with a camera
    # taking a second or two to answer, a worker's cameras would come up one by one.
    # FFmpeg's open is thread-safe since 4.0.
    os.environ.setdefault("OPENCV_FFMPEG_IS_THREAD_SAFE", "1")
    # OpenCV warns at every open that BGR conversion is off: that is the point.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    # The worker's parallelism is its cameras (a reader and a detection thread each).
    # OpenCV's own thread pool would only split work on small detection images into
    # hand-offs between threads that cost more than the work, and it spins while idle.
    cv2.setNumThreads(1)


@dataclass
class SampledFrame:
    """A frame kept for detection, with when it was read (epoch seconds)."""

    image: Frame
    wall_ts: float
    stream_ts: float
    seq: int
    half: Frame | None = None
    """A grey frame halved (2x2 area averages) by the reader right after decoding, while
    the frame is still in the CPU cache: detectors working at a quarter of the height or
    less start from it instead of reading the whole frame again."""


@dataclass
class ReaderStats:
    """Counters of one camera's reader; written by its thread, read by anyone."""

    frames_in: int = 0
    frames_sampled: int = 0
    decode_errors: int = 0
    decode_cpu_seconds: float = 0.0
    reconnects: int = 0
    open_failures: int = 0
    last_frame: float | None = None
    connected: bool = False
    last_error: str = ""
    width: int = 0
    height: int = 0


@dataclass
class Backoff:
    """Exponential back-off with jitter: each delay is drawn from [d/2, d], d doubling."""

    initial: float = 1.0
    maximum: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    _attempt: int = 0

    def next(self) -> float:
        ceiling = min(self.maximum, self.initial * (2 ** min(self._attempt, 30)))
        self._attempt += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self._attempt = 0


@dataclass(frozen=True)
class ReaderOptions:
    """How a reader opens and paces its stream."""

    open_timeout_ms: int = 10_000
    read_timeout_ms: int = 5000
    backoff_initial: float = 1.0
    backoff_max: float = 10.0
    """A camera back on the air is read again within this (plus its connect time)."""
    decode_threads: int = 1
    colour: bool = False
    """BGR frames (colour snapshots) instead of the luma plane (grey, much cheaper)."""
    max_frames: int | None = None
    """Stop after this many frames (benchmarks over a file); None reads until stop."""


class CameraReader:
    """Reads one stream in its own thread and feeds sampled frames into ``queue``."""

    def __init__(self, camera_id: str, url: str, detect_fps: float, queue: DropQueue[SampledFrame],
                 options: ReaderOptions | None = None) -> None:
        self.camera_id = camera_id
        self.url = url
        self.queue = queue
        self.options = options or ReaderOptions()
        self.sampler = FrameSampler(detect_fps)
        self.stats = ReaderStats()
        self._max_frames = self.options.max_frames
        self._stop = threading.Event()
        self._backoff = Backoff(self.options.backoff_initial, self.options.backoff_max)
        self.colour = self.options.colour
        self._not_luma = False

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _open(self) -> Any:
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self.options.open_timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, self.options.read_timeout_ms,
            cv2.CAP_PROP_N_THREADS, self.options.decode_threads,
            cv2.CAP_PROP_CONVERT_RGB, int(self.colour),
        ]
        cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            return None
        return cap

    def run(self) -> None:
        """Open, read until the stream ends or stop, reopen with back-off; until stop."""
        first = True
        try:
            while not self._stop.is_set():
                if not first:
                    self.stats.reconnects += 1
                first = False
                cap = self._open()
                if cap is None:
                    self.stats.open_failures += 1
                    self.stats.last_error = "cannot open stream"
                    log.debug("camera %s: cannot open %s", self.camera_id, self.url)
                    self._stop.wait(self._backoff.next())
                    continue
                try:
                    got = self._read(cap)
                    if not self.colour and self._not_luma:
                        log.warning("camera %s: pixel format has no luma plane first; "
                                    "reading in colour", self.camera_id)
                        self.colour = True
                        continue
                finally:
                    cap.release()
                    self.stats.connected = False
                if self._max_frames is not None and self.stats.frames_in >= self._max_frames:
                    return
                if self._stop.is_set():
                    return
                if got:
                    self._backoff.reset()
                    self.stats.last_error = "stream ended or read timed out"
                else:
                    self.stats.last_error = "opened but no frame"
                log.info("camera %s: %s, reconnecting", self.camera_id, self.stats.last_error)
                self._stop.wait(self._backoff.next())
        finally:
            self.stats.connected = False

    def _luma_ok(self, cap: Any, image: Any) -> bool:
        """Whether a frame read without conversion is the luma plane of the picture."""
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        return bool(image.ndim == 2 and image.dtype == "uint8"
                    and (width, height) in ((0, 0), (image.shape[1], image.shape[0])))

    def _read(self, cap: Any) -> int:
        """Read frames until the stream fails or stop; return how many were read."""
        self._not_luma = False
        checked = self.colour
        self.stats.connected = True
        self.sampler.reset()
        stats = self.stats
        sampler = self.sampler
        queue = self.queue
        stop = self._stop
        limit = self._max_frames
        pos_msec = cv2.CAP_PROP_POS_MSEC
        thread_time = time.thread_time
        got = 0
        failures = 0
        cpu = thread_time()
        while not stop.is_set():
            began = time.monotonic()
            if not cap.grab():
                # A corrupt frame fails at once and the stream goes on; a dead stream fails
                # after the read timeout (or at the end of a file, repeatedly).
                if (got and time.monotonic() - began < FAST_FAILURE_SECONDS
                        and failures < MAX_CONSECUTIVE_DECODE_ERRORS):
                    failures += 1
                    stats.decode_errors += 1
                    continue
                break
            failures = 0
            got += 1
            now = time.time()
            stats.frames_in += 1
            stats.last_frame = now
            stream_ts = cap.get(pos_msec) / 1000.0
            if sampler.due(stream_ts):
                ok, image = cap.retrieve()
                if ok and image is not None and image.size:
                    if not checked:
                        checked = True
                        if not self._luma_ok(cap, image):
                            self._not_luma = True
                            break
                    stats.frames_sampled += 1
                    if not stats.width:
                        stats.height, stats.width = image.shape[:2]
                    half = halve(image) if image.ndim == 2 and min(image.shape) >= 2 else None
                    queue.put(SampledFrame(image, now, stream_ts, stats.frames_in, half))
                else:
                    stats.decode_errors += 1
            if got % 16 == 0:
                spent = thread_time()
                stats.decode_cpu_seconds += spent - cpu
                cpu = spent
            if limit is not None and stats.frames_in >= limit:
                break
        stats.decode_cpu_seconds += thread_time() - cpu
        return got
