"""One page's connection to the engine: up to :data:`MAX_CHANNELS` camera streams over one
WebSocket, each message tagged with its channel, with a bounded send queue.

Protocol. The page sends JSON text: ``{"ticket": ...}`` first, then
``{"op": "play", "ch": 0-255, "camera": ID, "stream": "sub"|"main"}`` and
``{"op": "stop", "ch": N}``. The engine sends binary messages (one byte channel number,
then MPEG-TS bytes) and JSON text events ``{"ch": N, "event": "playing"|"codec"|
"stalled"|"error"|"stopped", ...}``.

Every channel is audited: ``live.start`` when it starts (refused if the audit cannot be
written) and ``live.end`` when it ends, with the stream, the start and end times, the
seconds watched and why it ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from dashboard.streaming.hub import Hub, LiveError
from dashboard.streaming.tickets import Ticket
from dashboard.streaming.upstream import Upstream

log = logging.getLogger(__name__)

MAX_CHANNELS = 32
MAX_QUEUE_BYTES = 2 * 1024 * 1024
"""A viewer this far behind (about 2 s of a 8 Mbit/s main stream) is dropped."""
SLOW_CLOSE_CODE = 4008
START_ACTION, END_ACTION = "live.start", "live.end"


class Auditor(Protocol):
    """The store's audit trail (``compoundeye.store.AuditRepo.record``)."""

    def record(self, actor: str, role: str, action: str, target: str = "",
               details: dict[str, Any] | None = None, ip: str | None = None,
               at: datetime | None = None) -> Any: ...


Send = Callable[[bytes | str], Awaitable[None]]
Close = Callable[[int, str], Coroutine[Any, Any, None]]


class _Sink:
    """What an upstream delivers to: one channel of one viewer."""

    def __init__(self, viewer: LiveSession, ch: int) -> None:
        self._viewer = viewer
        self._prefix = bytes([ch])
        self.ch = ch

    def deliver(self, data: bytes) -> None:
        self._viewer.enqueue(self._prefix + data)

    def notify(self, event: dict[str, object]) -> None:
        self._viewer.enqueue(json.dumps({"ch": self.ch, **event}))


@dataclass
class _Channel:
    ch: int
    camera: str
    stream: str
    upstream: Upstream
    sink: _Sink
    started: datetime
    started_mono: float
    bytes_at_start: int


class LiveSession:
    """A viewer's connection. ``enqueue`` never blocks; ``pump`` sends in order."""

    def __init__(self, hub: Hub, ticket: Ticket, auditor: Auditor, send: Send, close: Close,
                 *, session_id: str, ip: str | None = None,
                 max_queue_bytes: int = MAX_QUEUE_BYTES) -> None:
        self._hub = hub
        self.ticket = ticket
        self._auditor = auditor
        self._send = send
        self._close = close
        self.session_id = session_id
        self.ip = ip
        self.max_queue_bytes = max_queue_bytes
        self.channels: dict[int, _Channel] = {}
        self._queue: deque[bytes | str] = deque()
        self.queued_bytes = 0
        self.peak_queued = 0
        self.sent_bytes = 0
        self.dropped: str | None = None
        self._wake = asyncio.Event()
        self._ended = False

    # -- sending ------------------------------------------------------------------------

    def enqueue(self, message: bytes | str) -> None:
        if self.dropped is not None or self._ended:
            return
        size = len(message)
        if self.queued_bytes + size > self.max_queue_bytes and isinstance(message, bytes):
            self.drop("too slow: the viewer fell behind the live stream")
            return
        self._queue.append(message)
        self.queued_bytes += size
        self.peak_queued = max(self.peak_queued, self.queued_bytes)
        self._wake.set()

    def drop(self, reason: str) -> None:
        """Stop sending and close the connection; other viewers are not touched."""
        if self.dropped is not None:
            return
        self.dropped = reason
        self._queue.clear()
        self.queued_bytes = 0
        self._wake.set()
        log.warning("live: dropping %s (%s): %s", self.ticket.name, self.session_id, reason)
        self._detach_all()
        asyncio.get_running_loop().create_task(self._close(SLOW_CLOSE_CODE, reason[:120]))

    async def pump(self) -> None:
        """Send queued messages until the session ends or is dropped."""
        while self.dropped is None and not self._ended:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and self.dropped is None:
                message = self._queue.popleft()
                self.queued_bytes -= len(message)
                await self._send(message)
                self.sent_bytes += len(message)

    # -- requests -----------------------------------------------------------------------

    async def handle(self, text: str) -> None:
        """One message from the page; a bad one gets an error event, never a crash."""
        try:
            request = json.loads(text)
            if not isinstance(request, dict):
                raise ValueError("expected a JSON object")
            op, ch = request.get("op"), request.get("ch")
            if not isinstance(ch, int) or not 0 <= ch <= 255:
                raise ValueError("ch must be an integer 0-255")
        except ValueError as exc:
            self.enqueue(json.dumps({"event": "error", "reason": f"bad request: {exc}"}))
            return
        if op == "play":
            await self._play(ch, request.get("camera"), request.get("stream", "sub"))
        elif op == "stop":
            await self._stop_channel(ch, "stopped by the viewer")
        else:
            self._error(ch, f"unknown op {op!r}")

    def _error(self, ch: int, reason: str) -> None:
        self.enqueue(json.dumps({"ch": ch, "event": "error", "reason": reason}))

    async def _play(self, ch: int, camera: object, stream: object) -> None:
        if not isinstance(camera, str) or not isinstance(stream, str):
            self._error(ch, "camera and stream must be strings")
            return
        if ch in self.channels:
            await self._stop_channel(ch, "replaced")
        if len(self.channels) >= MAX_CHANNELS:
            self._error(ch, f"at most {MAX_CHANNELS} streams per connection")
            return
        try:
            self._hub.url(camera, stream)  # unknown camera or stream: refuse before auditing
        except LiveError as exc:
            self._error(ch, str(exc))
            return
        started = datetime.now(UTC)
        try:
            await asyncio.to_thread(
                self._auditor.record, self.ticket.name, self.ticket.role.value, START_ACTION,
                camera, {"session": self.session_id, "channel": ch, "stream": stream,
                         "start": started.isoformat()}, self.ip, started)
        except Exception:  # no audit row, no video
            log.exception("live: cannot audit the start of %s/%s", camera, stream)
            self._error(ch, "audit trail unavailable: live view refused")
            return
        if self.dropped is not None or self._ended:
            return
        sink = _Sink(self, ch)
        try:
            upstream = self._hub.subscribe(camera, stream, sink)
        except LiveError as exc:
            self._error(ch, str(exc))
            return
        self.channels[ch] = _Channel(ch, camera, stream, upstream, sink, started,
                                     time.monotonic(), upstream.stats.bytes_in)
        self.enqueue(json.dumps({"ch": ch, "event": "playing", "camera": camera,
                                 "stream": stream}))

    async def _stop_channel(self, ch: int, reason: str) -> None:
        channel = self.channels.pop(ch, None)
        if channel is None:
            return
        self._hub.unsubscribe(channel.upstream, channel.sink)
        self.enqueue(json.dumps({"ch": ch, "event": "stopped", "reason": reason}))
        await self._audit_end(channel, reason)

    def _detach_all(self) -> None:
        for channel in self.channels.values():
            self._hub.unsubscribe(channel.upstream, channel.sink)

    async def _audit_end(self, channel: _Channel, reason: str) -> None:
        ended = datetime.now(UTC)
        details = {"session": self.session_id, "channel": channel.ch, "stream": channel.stream,
                   "start": channel.started.isoformat(), "end": ended.isoformat(),
                   "seconds": round(time.monotonic() - channel.started_mono, 1),
                   "reason": reason}
        try:
            await asyncio.to_thread(self._auditor.record, self.ticket.name,
                                    self.ticket.role.value, END_ACTION, channel.camera,
                                    details, self.ip, ended)
        except Exception:
            # The start row exists; the end is in the engine's log for whoever reconciles.
            log.exception("live: cannot audit the end of a view: %s", json.dumps(details))

    async def end(self, reason: str) -> None:
        """The connection closed: detach and audit every open channel."""
        if self._ended:
            return
        self._ended = True
        self._wake.set()
        self._detach_all()
        channels, self.channels = list(self.channels.values()), {}
        why = self.dropped or reason
        for channel in channels:
            with contextlib.suppress(Exception):
                await self._audit_end(channel, why)
