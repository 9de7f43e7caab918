"""The Redis event bus: idempotent publishing to ``ce:events``, buffering, dead letters.

Publishing is idempotent by event id: a Lua script claims ``ce:seen:<id>`` with ``SET NX``
and only then appends to the stream, so a replayed buffer or a redelivered MQTT message
never puts the same event on the stream twice.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import redis

from compoundeye import names
from compoundeye.events import Event
from compoundeye.redis_text import text
from compoundeye.timeutil import to_rfc3339, utcnow

log = logging.getLogger(__name__)

FieldT = bytes | bytearray | memoryview | str | int | float


def hash_mapping(values: Mapping[str, str]) -> dict[FieldT, FieldT]:
    """Text fields typed as redis-py's ``hset(mapping=...)`` and ``xadd`` take them."""
    return {key: value for key, value in values.items()}

SEEN_TTL_SECONDS = 24 * 3600
"""How long an event id is remembered for deduplication at the producer side."""

_ADD_ONCE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', ARGV[4], ARGV[1])
end
return false
"""


def connect(url: str, *, timeout: float = 2.0) -> redis.Redis:
    """A Redis client with short timeouts, so an outage is noticed instead of waited on."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=10,
    )


class EventSink:
    """Appends events to a stream exactly once per event id (raises on Redis errors)."""

    def __init__(self, client: redis.Redis, stream: str = names.EVENTS_STREAM) -> None:
        self._client = client
        self._stream = stream
        self._script = client.register_script(_ADD_ONCE)

    def add(self, event: Event) -> str | None:
        """Append the event; return its stream id, or None when it was already there."""
        entry_id = self._script(
            keys=[self._stream, names.seen_key(event.id)],
            args=[event.to_json(), SEEN_TTL_SECONDS, names.STREAM_MAXLEN, names.EVENT_FIELD],
        )
        if entry_id is None:
            return None
        return text(entry_id)


def dead_letter(
    client: redis.Redis, raw: bytes | str, reason: str, source: str, **context: str
) -> None:
    """Keep input that could not become an event, with why and where it came from.

    Raises on Redis errors; callers that must not lose it keep it in their own buffer.
    """
    data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
    fields: dict[FieldT, FieldT] = {
        "ts": to_rfc3339(utcnow()),
        "reason": reason[:1000],
        "source": source[:256],
        "raw": data[: names.DEADLETTER_RAW_LIMIT],
        "raw_len": len(data),
        "truncated": int(len(data) > names.DEADLETTER_RAW_LIMIT),
    }
    fields.update({k: v[:256] for k, v in context.items()})
    client.xadd(names.DEADLETTER_STREAM, fields, maxlen=names.DEADLETTER_MAXLEN, approximate=True)


@dataclass
class PublisherStats:
    """Counters of a buffered publisher."""

    published: int = 0
    duplicates: int = 0
    dropped: int = 0
    failures: int = 0

    @property
    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class BufferedPublisher:
    """Publishes events in order from any thread, riding out Redis outages.

    ``publish`` never blocks on Redis: events go to a bounded in-memory buffer that one
    delivery thread (``run``) drains in order. While Redis is unreachable the buffer
    fills; past ``limit`` the oldest events are dropped, counted and logged. Delivery
    resumes in order when Redis returns; an event already on the stream (its id seen) is
    not added twice.
    """

    def __init__(self, client: redis.Redis, *, limit: int = 50_000, retry_seconds: float = 0.5,
                 stream: str = names.EVENTS_STREAM) -> None:
        self._sink = EventSink(client, stream)
        self._buffer: deque[Event] = deque()
        self._limit = limit
        self._retry = retry_seconds
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.stats = PublisherStats()
        self._redis_down = False

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    def publish(self, event: Event) -> None:
        """Queue an event for delivery; drops (and counts) the oldest past the limit."""
        with self._lock:
            if len(self._buffer) >= self._limit:
                lost = self._buffer.popleft()
                self.stats.dropped += 1
                if self.stats.dropped == 1 or self.stats.dropped % 1000 == 0:
                    log.error("event buffer full (%d): dropped %d events so far, latest %s %s",
                              self._limit, self.stats.dropped, lost.kind, lost.id)
            self._buffer.append(event)
        self._wake.set()

    def deliver_pending(self) -> bool:
        """Deliver buffered events in order until empty or Redis fails; True when empty."""
        while True:
            with self._lock:
                if not self._buffer:
                    return True
                event = self._buffer[0]
            try:
                added = self._sink.add(event)
            except redis.RedisError as exc:
                self.stats.failures += 1
                if not self._redis_down:
                    log.warning("Redis unreachable, buffering events: %s", exc)
                    self._redis_down = True
                return False
            if self._redis_down:
                log.info("Redis is back, delivering %d buffered events", self.pending)
                self._redis_down = False
            with self._lock:
                if self._buffer and self._buffer[0] is event:
                    self._buffer.popleft()
            if added is None:
                self.stats.duplicates += 1
            else:
                self.stats.published += 1

    def run(self) -> None:
        """Delivery loop; returns after ``stop`` once the buffer is drained or Redis fails."""
        while not self._stop.is_set():
            self._wake.wait(timeout=self._retry)
            self._wake.clear()
            if not self.deliver_pending():
                self._stop.wait(self._retry)
        self.deliver_pending()

    def stop(self) -> None:
        """Ask the delivery loop to finish (it makes one last delivery attempt)."""
        self._stop.set()
        self._wake.set()
