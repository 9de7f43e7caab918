"""The hub: one :class:`Upstream` per camera stream, opened by the first viewer and closed
``linger`` seconds after the last one left."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from compoundeye.site.models import Site
from dashboard.streaming.upstream import GOP_LIMIT_BYTES, Subscriber, Upstream

log = logging.getLogger(__name__)

STREAMS = ("sub", "main")
"""Walls show the sub stream, a single view the main one."""


class LiveError(ValueError):
    """A request the hub refuses (unknown camera or stream, too many upstreams)."""


class Hub:
    """Upstream sessions keyed by (camera, stream)."""

    def __init__(self, site: Site, *, linger: float = 25.0, max_upstreams: int = 256,
                 ffmpeg: str = "ffmpeg", gop_limit: int = GOP_LIMIT_BYTES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._site = site
        self.linger = linger
        self.max_upstreams = max_upstreams
        self._ffmpeg = ffmpeg
        self._gop_limit = gop_limit
        self._clock = clock
        self.upstreams: dict[tuple[str, str], Upstream] = {}
        self.opened = 0
        self.closed = 0

    def url(self, camera: str, stream: str) -> str:
        found = self._site.camera(camera)
        if found is None:
            raise LiveError(f"unknown camera {camera!r}")
        if stream not in STREAMS:
            raise LiveError(f"stream must be one of {', '.join(STREAMS)}")
        return found.main_url if stream == "main" else found.detect_url

    def subscribe(self, camera: str, stream: str, sub: Subscriber) -> Upstream:
        """Attach ``sub`` to the camera stream, opening its upstream if none is open."""
        key = (camera, stream)
        upstream = self.upstreams.get(key)
        if upstream is None:
            url = self.url(camera, stream)
            if len(self.upstreams) >= self.max_upstreams:
                raise LiveError(f"the engine already reads {self.max_upstreams} streams")
            upstream = Upstream(camera, stream, url, ffmpeg=self._ffmpeg,
                                gop_limit=self._gop_limit, clock=self._clock)
            self.upstreams[key] = upstream
            self.opened += 1
            upstream.start()
            log.info("live: opened %s/%s", camera, stream)
        upstream.attach(sub)
        return upstream

    @staticmethod
    def unsubscribe(upstream: Upstream, sub: Subscriber) -> None:
        upstream.detach(sub)

    async def reap(self) -> int:
        """Close every upstream idle for longer than ``linger``; return how many."""
        now = self._clock()
        idle = [u for u in self.upstreams.values()
                if not u.subscribers and u.idle_since is not None
                and now - u.idle_since >= self.linger]
        for upstream in idle:
            del self.upstreams[upstream.key]
            await upstream.close()
            self.closed += 1
            log.info("live: closed %s/%s (no viewer for %.0f s)", upstream.camera,
                     upstream.stream, self.linger)
        return len(idle)

    async def run_reaper(self, stop: asyncio.Event, every: float = 1.0) -> None:
        while not stop.is_set():
            await self.reap()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    async def close_all(self) -> None:
        upstreams = list(self.upstreams.values())
        self.upstreams.clear()
        await asyncio.gather(*(u.close() for u in upstreams), return_exceptions=True)
        self.closed += len(upstreams)

    def status(self) -> dict[str, Any]:
        return {
            "upstreams": [
                {"camera": u.camera, "stream": u.stream, "subscribers": len(u.subscribers),
                 "codec": u.ts.codec, "bytes_in": u.stats.bytes_in, "pid": u.stats.pid,
                 "restarts": u.stats.restarts, "idle": u.idle_since is not None}
                for u in self.upstreams.values()
            ],
            "opened": self.opened,
            "closed": self.closed,
            "linger_s": self.linger,
        }
