"""The Redis event bus: idempotent publishing to ``ce:events``, buffering, dead letters.

Publishing is idempotent by event id: a Lua script claims ``ce:seen:<id>`` with ``SET NX``
and only then appends to the stream, so a replayed buffer or a redelivered MQTT message
never puts the same event on the stream twice.

With a :class:`~compoundeye.replication.ReplicaWait` (``CE_REDIS_WAIT_REPLICAS``, 1 by
default with Sentinel), each round trip of writes ends with ``WAIT`` and the events stay
unconfirmed until a replica holds them; after a failover the sink hands them back for a
second write (:meth:`EventSink.take_resend`), which the idempotency key makes safe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import redis

from compoundeye import names
from compoundeye.events import Event
from compoundeye.redis_client import connect_url
from compoundeye.redis_text import text
from compoundeye.replication import ReplicaWait, Unconfirmed
from compoundeye.timeutil import to_rfc3339, utcnow

log = logging.getLogger(__name__)

FieldT = bytes | bytearray | memoryview | str | int | float


def hash_mapping(values: Mapping[str, str]) -> dict[FieldT, FieldT]:
    """Text fields typed as redis-py's ``hset(mapping=...)`` and ``xadd`` take them."""
    return {key: value for key, value in values.items()}

SEEN_TTL_SECONDS = 24 * 3600
"""How long an event id is remembered for deduplication at the producer side."""

ADD_ONCE_SCRIPT = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', ARGV[4], ARGV[1])
end
return false
"""


def connect(url: str, *, timeout: float = 2.0) -> redis.Redis:
    """A client of one server by URL with short timeouts, so an outage is noticed instead
    of waited on (services build theirs with
    :func:`compoundeye.redis_client.redis_from_settings`, which also knows Sentinel)."""
    return connect_url(url, timeout=timeout)


class EventSink:
    """Appends events to a stream exactly once per event id (raises on Redis errors).

    With ``wait`` enabled, :meth:`add_many` sends the writes and a ``WAIT`` in one round
    trip and keeps the events until a replica confirms them (:attr:`unconfirmed`).
    """

    def __init__(self, client: redis.Redis, stream: str = names.EVENTS_STREAM, *,
                 wait: ReplicaWait | None = None, unconfirmed_limit: int = 50_000) -> None:
        self._client = client
        self._stream = stream
        self._script = client.register_script(ADD_ONCE_SCRIPT)
        self.unconfirmed: Unconfirmed[Event] = Unconfirmed(
            wait or ReplicaWait(), limit=unconfirmed_limit, what="events")

    def _args(self, event: Event) -> tuple[list[str], list[str | int]]:
        return ([self._stream, names.seen_key(event.id)],
                [event.to_json(), SEEN_TTL_SECONDS, names.STREAM_MAXLEN, names.EVENT_FIELD])

    def add(self, event: Event) -> str | None:
        """Append the event; return its stream id, or None when it was already there."""
        if self.unconfirmed.wait.enabled:
            return self.add_many([event])[0]
        keys, args = self._args(event)
        entry_id = self._script(keys=keys, args=args)
        if entry_id is None:
            return None
        return text(entry_id)

    def add_many(self, events: list[Event]) -> list[str | None]:
        """Append events in one round trip; each one's stream id, or None for a duplicate."""
        if not events:
            return []
        pipe = self._client.pipeline(transaction=False)
        guarded = self.unconfirmed.wait.enabled
        now = time.monotonic()
        waited = guarded and self.unconfirmed.add_to(pipe, now)
        for event in events:
            keys, args = self._args(event)
            pipe.eval(ADD_ONCE_SCRIPT, len(keys), *keys, *args)
        if waited:
            self.unconfirmed.end(pipe)
        replies = pipe.execute()
        if guarded:
            replies = self.unconfirmed.written(events, replies, waited, now)
        return [None if reply is None else text(reply) for reply in replies]

    def take_resend(self) -> list[Event]:
        """Events written to a primary that is gone before any replica confirmed them."""
        return self.unconfirmed.take_resend()

    def confirm(self) -> None:
        """Ask a replica to confirm what is unconfirmed, when there is nothing else to write
        (raises ``redis.RedisError``)."""
        self.unconfirmed.confirm(self._client, time.monotonic())

    def add_again(self) -> int:
        """Write again what a failover took away (until nothing is handed back); how many
        were written again. For writers without a buffer of their own (the door listener)."""
        count = 0
        while again := self.take_resend():
            count += len(again)
            self.add_many(again)
        return count


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
    resent: int = 0
    """Events written again because the primary that took them went away unreplicated."""

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

    With ``wait`` enabled (Sentinel), events go in batches of up to ``batch`` per round
    trip, each ending with ``WAIT``; events a failover took away before a replica had them
    go back to the front of the buffer and are written again.
    """

    def __init__(self, client: redis.Redis, *, limit: int = 50_000, retry_seconds: float = 0.5,
                 stream: str = names.EVENTS_STREAM, wait: ReplicaWait | None = None,
                 batch: int = 500) -> None:
        self._sink = EventSink(client, stream, wait=wait, unconfirmed_limit=limit)
        self._buffer: deque[Event] = deque()
        self._limit = limit
        self._retry = retry_seconds
        self._batch = batch if self._sink.unconfirmed.wait.enabled else 1
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.stats = PublisherStats()
        self._redis_down = False

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    @property
    def unconfirmed(self) -> int:
        """Events on the primary that no replica has confirmed yet."""
        return len(self._sink.unconfirmed)

    @property
    def replication(self) -> dict[str, int]:
        """The unconfirmed buffer's counters (confirmed, resent, short waits, ...)."""
        return self._sink.unconfirmed.stats.as_dict()

    def publish(self, event: Event) -> None:
        """Queue an event for delivery; drops (and counts) the oldest past the limit."""
        with self._lock:
            self._buffer.append(event)
            self._trim()
        self._wake.set()

    def _trim(self) -> None:
        while len(self._buffer) > self._limit:
            lost = self._buffer.popleft()
            self.stats.dropped += 1
            if self.stats.dropped == 1 or self.stats.dropped % 1000 == 0:
                log.error("event buffer full (%d): dropped %d events so far, latest %s %s",
                          self._limit, self.stats.dropped, lost.kind, lost.id)

    def _requeue(self) -> None:
        """Put events a failover took away back in front of the buffer."""
        again = self._sink.take_resend()
        if not again:
            return
        with self._lock:
            self._buffer.extendleft(reversed(again))
            self.stats.resent += len(again)
            self._trim()

    def _send(self, events: list[Event]) -> list[str | None]:
        if len(events) == 1 and self._batch == 1:
            return [self._sink.add(events[0])]
        return self._sink.add_many(events)

    def deliver_pending(self) -> bool:
        """Deliver buffered events in order until empty or Redis fails; True when empty."""
        while True:
            self._requeue()
            with self._lock:
                if not self._buffer:
                    return True
                events = [self._buffer[i] for i in range(min(self._batch, len(self._buffer)))]
            try:
                results = self._send(events)
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
                for event in events:
                    if self._buffer and self._buffer[0] is event:
                        self._buffer.popleft()
            for added in results:
                if added is None:
                    self.stats.duplicates += 1
                else:
                    self.stats.published += 1

    def confirm_idle(self) -> None:
        """With nothing to deliver, have a replica confirm the unconfirmed events (or find
        the primary changed, and write them again)."""
        try:
            self._sink.confirm()
        except redis.RedisError as exc:
            self.stats.failures += 1
            log.debug("confirming unreplicated events failed: %s", exc)

    def run(self) -> None:
        """Delivery loop; returns after ``stop`` once the buffer is drained or Redis fails."""
        while not self._stop.is_set():
            woken = self._wake.wait(timeout=self._retry)
            self._wake.clear()
            if not self.deliver_pending():
                self._stop.wait(self._retry)
            elif not woken:
                self.confirm_idle()
                self.deliver_pending()
        self.deliver_pending()

    def stop(self) -> None:
        """Ask the delivery loop to finish (it makes one last delivery attempt)."""
        self._stop.set()
        self._wake.set()
