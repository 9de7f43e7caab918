"""One camera's sub stream read packet by packet (PyAV), in full or health mode.

OpenCV's capture decodes every frame it grabs: it cannot leave a packet undecoded. PyAV
(FFmpeg's libraries, bundled in its wheels) hands over the demuxed packets, and the reader
decides which ones the decoder sees:

- ``full``: every packet is decoded, frames are sampled to ``detect_fps`` and queued like
  :class:`ingest.reader.CameraReader`'s (the decoder's luma plane, halved for motion);
- ``health``: packets are only counted (liveness, bytes, keyframes) and the keyframes
  :class:`ingest.health.KeyframeGate` picks are decoded, each on its own (the decoder is
  flushed after it), and queued as :class:`HealthFrame`.

:meth:`PacketReader.set_mode` switches between them on the open session: no reconnect.
Going to full waits for the next keyframe (a P-frame needs the pictures before it).
Reconnects, back-off and counters are as :class:`~ingest.reader.CameraReader`'s, whose
:class:`~ingest.reader.ReaderStats` this extends, so status, metrics and the worker read
either reader alike.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import av
import av.error
import numpy as np

from detectors.base import Frame
from detectors.frames import halve
from ingest.health import KeyframeGate
from ingest.reader import Backoff, ReaderOptions, ReaderStats, SampledFrame
from ingest.sampler import DropQueue, FrameSampler

log = logging.getLogger(__name__)

Mode = Literal["full", "health"]
MAX_CONSECUTIVE_DECODE_ERRORS = 25
LUMA_FIRST = frozenset(("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
                        "nv12", "nv21", "gray"))
"""Pixel formats whose first plane is the picture's luma (the frame handed to detection)."""
RTSP_OPTIONS = {"rtsp_transport": "tcp", "allowed_media_types": "video",
                "analyzeduration": "1000000", "probesize": "500000"}
"""As :data:`ingest.reader.CAPTURE_OPTIONS`: RTSP over TCP, video only, a short probe."""


@dataclass
class PacketReaderStats(ReaderStats):
    """:class:`ReaderStats` plus the packet flow and the mode.

    ``frames_in`` counts packets received (a frame each), decoded or not, and
    ``last_frame`` is when the last one arrived: liveness never needs a decode.
    """

    bytes_in: int = 0
    keyframes_in: int = 0
    frames_decoded: int = 0
    keyframes_decoded: int = 0
    mode: str = "full"
    mode_switches: int = 0


@dataclass
class HealthFrame(SampledFrame):
    """A frame sampled by a :class:`PacketReader`: ``health`` when a health-mode keyframe."""

    health: bool = False


def _luma(frame: av.VideoFrame) -> Frame | None:
    """The decoder's luma plane as a contiguous array (no conversion), or None."""
    if frame.format.name not in LUMA_FIRST:
        return None
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(frame.height, plane.line_size)
    return np.ascontiguousarray(rows[:, : frame.width])


class PacketReader:
    """Reads one stream in its own thread, decoding all of it or chosen keyframes."""

    def __init__(self, camera_id: str, url: str, detect_fps: float,
                 queue: DropQueue[SampledFrame], options: ReaderOptions | None = None, *,
                 mode: Mode = "full", keyframe_interval: float = 4.0,
                 bitrate_change: float = 2.0) -> None:
        self.camera_id = camera_id
        self.url = url
        self.queue = queue
        self.options = options or ReaderOptions()
        self.sampler = FrameSampler(detect_fps)
        self.gate = KeyframeGate(keyframe_interval, bitrate_change)
        self.stats = PacketReaderStats(mode=mode)
        self.confirm = False
        """Set by detection while a health check waits for confirmation: the next keyframe
        is decoded whatever the interval."""
        self.replay = False
        """Stamp frames with the stream's own clock instead of the wall clock: a file read
        faster than real time then looks to detection like the live camera it came from
        (benchmarks). Off for live streams."""
        self._replay_origin: float | None = None
        self._mode: Mode = mode
        self._stop = threading.Event()
        self._backoff = Backoff(self.options.backoff_initial, self.options.backoff_max)

    @property
    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode) -> None:
        """Switch to full or health mode; takes effect at the next packet, same session."""
        self._mode = mode

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _open(self) -> Any:
        opts = self.options
        options = dict(RTSP_OPTIONS) if self.url.startswith(("rtsp://", "rtsps://")) else {}
        try:
            container = av.open(self.url, options=options,
                                timeout=(opts.open_timeout_ms / 1000, opts.read_timeout_ms / 1000))
        except (av.error.FFmpegError, OSError) as exc:
            self.stats.last_error = f"cannot open stream: {type(exc).__name__}"
            return None
        if not container.streams.video:
            container.close()
            self.stats.last_error = "no video stream"
            return None
        return container

    def run(self) -> None:
        """Open, read until the stream ends or stop, reopen with back-off; until stop."""
        first = True
        stats = self.stats
        limit = self.options.max_frames
        try:
            while not self._stop.is_set():
                if not first:
                    stats.reconnects += 1
                first = False
                container = self._open()
                if container is None:
                    stats.open_failures += 1
                    log.debug("camera %s: cannot open %s", self.camera_id, self.url)
                    self._stop.wait(self._backoff.next())
                    continue
                try:
                    got = self._read(container)
                finally:
                    container.close()
                    stats.connected = False
                if (limit is not None and stats.frames_in >= limit) or self._stop.is_set():
                    return
                if got:
                    self._backoff.reset()
                    stats.last_error = stats.last_error or "stream ended or read timed out"
                else:
                    stats.last_error = stats.last_error or "opened but no packet"
                log.info("camera %s: %s, reconnecting", self.camera_id, stats.last_error)
                self._stop.wait(self._backoff.next())
        finally:
            stats.connected = False

    def _read(self, container: Any) -> int:
        """Read packets until the stream fails or stop; return how many were read."""
        stats = self.stats
        stream = container.streams.video[0]
        ctx = stream.codec_context
        ctx.thread_count = self.options.decode_threads
        ctx.thread_type = "NONE" if self.options.decode_threads <= 1 else "AUTO"
        base = float(stream.time_base or Fraction(1, 90_000))
        stats.connected = True
        stats.last_error = ""
        self.sampler.reset()
        self.gate.reset()
        limit = self.options.max_frames
        thread_time = time.thread_time
        cpu = thread_time()
        mode: Mode | None = None
        need_key = True
        got = failures = 0
        try:
            for packet in container.demux(stream):
                if self._stop.is_set():
                    break
                size = packet.size
                if not size:
                    continue  # the demuxer's end-of-stream marker
                got += 1
                stats.frames_in += 1
                stats.bytes_in += size
                key = packet.is_keyframe
                if key:
                    stats.keyframes_in += 1
                pts = packet.pts if packet.pts is not None else packet.dts
                stream_ts = pts * base if pts is not None else time.monotonic()
                stats.last_frame = self._wall(stream_ts)
                wanted = self._mode
                if wanted != mode:
                    if mode is not None:
                        stats.mode_switches += 1
                        log.info("camera %s: %s mode", self.camera_id, wanted)
                    mode = stats.mode = wanted
                    need_key = True
                    ctx.flush_buffers()
                    self.sampler.reset()
                    self.gate.reset()
                if mode == "full":
                    if need_key and not key:
                        continue
                    need_key = False
                    failures = self._decode_full(ctx, packet, stream_ts, base, failures)
                else:
                    self.gate.packet(size, key)
                    if key and self.gate.due(stream_ts, self.confirm):
                        failures = self._decode_key(ctx, packet, stream_ts, failures)
                if failures > MAX_CONSECUTIVE_DECODE_ERRORS:
                    stats.last_error = "too many decode errors"
                    break
                if got % 16 == 0:
                    spent = thread_time()
                    stats.decode_cpu_seconds += spent - cpu
                    cpu = spent
                if limit is not None and stats.frames_in >= limit:
                    break
        except (av.error.FFmpegError, OSError) as exc:
            stats.last_error = f"stream failed: {type(exc).__name__}"
        finally:
            stats.decode_cpu_seconds += thread_time() - cpu
        return got

    def _decode_full(self, ctx: Any, packet: Any, stream_ts: float, base: float,
                     failures: int) -> int:
        try:
            frames = ctx.decode(packet)
        except av.error.FFmpegError:
            self.stats.decode_errors += 1
            return failures + 1
        for frame in frames:
            self.stats.frames_decoded += 1
            ts = frame.pts * base if frame.pts is not None else stream_ts
            if self.sampler.due(ts):
                self._put(frame, ts, health=False)
        return 0

    def _decode_key(self, ctx: Any, packet: Any, stream_ts: float, failures: int) -> int:
        """Decode one keyframe on its own: the packets after it are never sent."""
        try:
            frames = ctx.decode(packet)
            if not frames:  # a decoder that holds frames back (B-frame reordering)
                frames = ctx.decode(None)
            ctx.flush_buffers()
        except av.error.FFmpegError:
            self.stats.decode_errors += 1
            ctx.flush_buffers()
            return failures + 1
        for frame in frames[:1]:
            self.stats.frames_decoded += 1
            self.stats.keyframes_decoded += 1
            self._put(frame, stream_ts, health=True)
        return 0

    def _wall(self, stream_ts: float) -> float:
        now = time.time()
        if not self.replay:
            return now
        if self._replay_origin is None:
            self._replay_origin = now - stream_ts
        return self._replay_origin + stream_ts

    def _put(self, frame: Any, stream_ts: float, *, health: bool) -> None:
        image = None if self.options.colour else _luma(frame)
        if image is None:
            image = frame.to_ndarray(format="bgr24" if self.options.colour else "gray")
        stats = self.stats
        stats.frames_sampled += 1
        if not stats.width:
            stats.height, stats.width = image.shape[:2]
        half = None if health or min(image.shape) < 2 else halve(image)
        self.queue.put(HealthFrame(image, self._wall(stream_ts), stream_ts, stats.frames_in,
                                   half, health=health))
