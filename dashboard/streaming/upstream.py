"""One upstream session: a single ``ffmpeg -c copy`` reading one camera stream over RTSP
and writing MPEG-TS, fanned out to every subscriber.

The last group of pictures (from the latest keyframe) is kept, bounded, so a new viewer
starts decoding at once instead of waiting up to a GOP; the page's player then skips to
the live edge. Delivery to a subscriber never waits: subscribers queue what they get and
are dropped by their own connection when they fall too far behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from compoundeye.redact import redact_text
from dashboard.streaming.ts import Aligner, TsState, scan

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
GOP_LIMIT_BYTES = 4 * 1024 * 1024
"""A GOP larger than this (a smart codec's 10 s GOP at 8 Mbit/s) is not cached: new viewers
then wait for the next keyframe instead."""

def ffmpeg_command(url: str, ffmpeg: str = "ffmpeg", timeout_s: float = 10.0) -> list[str]:
    """Stream copy of the video of ``url`` into MPEG-TS on stdout, flushed per packet."""
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error"]
    if url.startswith(("rtsp://", "rtsps://")):
        cmd += ["-rtsp_transport", "tcp", "-timeout", str(int(timeout_s * 1_000_000))]
    cmd += ["-fflags", "nobuffer", "-probesize", "500000", "-analyzeduration", "1000000",
            "-i", url, "-map", "0:v:0", "-an", "-c", "copy",
            "-f", "mpegts", "-muxdelay", "0", "-muxpreload", "0", "-flush_packets", "1",
            "pipe:1"]
    if shutil.which("setpriv"):
        cmd = ["setpriv", "--pdeathsig", "KILL", *cmd]  # never outlives the engine
    return cmd


class Subscriber(Protocol):
    """Where an upstream delivers: both calls must return at once."""

    def deliver(self, data: bytes) -> None: ...

    def notify(self, event: dict[str, object]) -> None: ...


@dataclass
class UpstreamStats:
    """Counters of one upstream session, for /status and the bench."""

    started_at: float = field(default_factory=time.time)
    bytes_in: int = 0
    chunks: int = 0
    restarts: int = 0
    pid: int | None = None
    last_error: str = ""


class Upstream:
    """Reads one camera stream while anyone watches (and ``linger`` seconds after)."""

    def __init__(self, camera: str, stream: str, url: str, *, ffmpeg: str = "ffmpeg",
                 gop_limit: int = GOP_LIMIT_BYTES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.camera = camera
        self.stream = stream
        self._url = url
        self._ffmpeg = ffmpeg
        self._gop_limit = gop_limit
        self._clock = clock
        self.subscribers: set[Subscriber] = set()
        self.ts = TsState()
        self.stats = UpstreamStats()
        self.idle_since: float | None = clock()
        self._gop: list[bytes] = []
        self._gop_bytes = 0
        self._gop_ok = False
        self._closing = asyncio.Event()
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.camera, self.stream

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self.run(), name=f"upstream-{self.camera}-{self.stream}")

    def attach(self, sub: Subscriber) -> None:
        """Add a subscriber; it gets the tables and the current GOP straight away."""
        self.subscribers.add(sub)
        self.idle_since = None
        if self.ts.codec:
            sub.notify({"event": "codec", "codec": self.ts.codec})
        if self._gop_ok and self._gop:
            sub.deliver(self.ts.headers() + b"".join(self._gop))

    def detach(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        if not self.subscribers and self.idle_since is None:
            self.idle_since = self._clock()

    async def close(self) -> None:
        """End the session: ffmpeg is killed and the reader task finishes."""
        self._closing.set()
        self._kill()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()

    async def run(self) -> None:
        """ffmpeg, restarted with back-off, until :meth:`close`."""
        backoff = 0.5
        while not self._closing.is_set():
            started = self._clock()
            code = await self._run_once()
            if self._closing.is_set():
                break
            self.stats.restarts += 1
            reason = self.stats.last_error or f"ffmpeg exited with {code}"
            for sub in list(self.subscribers):
                sub.notify({"event": "stalled", "reason": reason})
            if self._clock() - started > 30:
                backoff = 0.5
            log.warning("live %s/%s: %s; reconnecting in %.1f s", self.camera, self.stream,
                        reason, backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), backoff)
            backoff = min(backoff * 2, 10.0)

    async def _run_once(self) -> int | None:
        try:
            process = await asyncio.create_subprocess_exec(
                *ffmpeg_command(self._url, self._ffmpeg), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            self.stats.last_error = f"cannot start ffmpeg: {exc.strerror}"
            return None
        self._process = process
        self.stats.pid = process.pid
        self._gop, self._gop_bytes, self._gop_ok = [], 0, False
        assert process.stdout is not None and process.stderr is not None
        errors = asyncio.get_running_loop().create_task(self._read_errors(process.stderr))
        aligner = Aligner()
        try:
            while not self._closing.is_set():
                data = await process.stdout.read(READ_SIZE)
                if not data:
                    break
                chunk = aligner.feed(data)
                if chunk:
                    self._on_chunk(chunk)
        finally:
            self._kill()
            code = await process.wait()
            with contextlib.suppress(asyncio.CancelledError):
                await errors
            self._process = None
            self.stats.pid = None
        return code

    async def _read_errors(self, stderr: asyncio.StreamReader) -> None:
        while True:
            line = await stderr.readline()
            if not line:
                return
            # ffmpeg prints the input URL, with the camera's credentials in it
            text = redact_text(line.decode("utf-8", "replace").strip())
            if text:
                self.stats.last_error = text[:300]
                log.debug("live %s/%s ffmpeg: %s", self.camera, self.stream, text)

    def _on_chunk(self, chunk: bytes) -> None:
        codec_before = self.ts.codec
        keyframe = scan(chunk, self.ts)
        if self.ts.codec and self.ts.codec != codec_before:
            for sub in list(self.subscribers):
                sub.notify({"event": "codec", "codec": self.ts.codec})
        self.stats.bytes_in += len(chunk)
        self.stats.chunks += 1
        if keyframe is not None:
            self._gop = [chunk[keyframe:]]
            self._gop_bytes = len(chunk) - keyframe
            self._gop_ok = True
        elif self._gop_ok:
            self._gop.append(chunk)
            self._gop_bytes += len(chunk)
            if self._gop_bytes > self._gop_limit:
                self._gop, self._gop_bytes, self._gop_ok = [], 0, False
        for sub in list(self.subscribers):
            sub.deliver(chunk)
