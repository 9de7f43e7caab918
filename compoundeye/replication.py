"""Writes that survive a failover: WAIT for a replica, keep what none has confirmed.

Redis replicates asynchronously: the primary acknowledges an XADD before any replica has
it, and a primary killed at that moment takes the entry with it; Sentinel then promotes a
replica that never saw it. A writer that must not lose such an entry (the event
publishers, the alerting service's announcements) asks ``WAIT replicas timeout`` in the
same round trip as its writes and keeps the written items in an :class:`Unconfirmed`
buffer until a WAIT reaches the replicas. It also reads the server's ``run_id`` in that
round trip: when the server taking the writes is not the one that took the unconfirmed
items (a failover, or a restart), those items are handed back to be written again. The
writers' idempotency keys (``ce:seen:<event id>``) make the second write of an item that
did reach the replica a no-op, so a re-send never puts anything on a stream twice.

The replication stream is one ordered log, so a WAIT that confirms this connection's last
write confirms every earlier write of the same writer too, on any connection.

While fewer replicas answer than asked (a replica down), WAIT is asked only every
``recheck_seconds``, so a missing replica costs one timeout per interval, not one per
write; the unconfirmed items stay (bounded by ``limit``, oldest forgotten first, counted).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from compoundeye import names
from compoundeye.redis_text import text
from compoundeye.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class ReplicaWait:
    """How many replicas a writer waits for, and how long one WAIT may take."""

    replicas: int = 0
    timeout_ms: int = 100
    recheck_seconds: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ReplicaWait:
        """``CE_REDIS_WAIT_REPLICAS`` (default 1 with Sentinel, else 0) and
        ``CE_REDIS_WAIT_TIMEOUT_MS``."""
        return cls(settings.effective_wait_replicas, settings.redis_wait_timeout_ms)

    @property
    def enabled(self) -> bool:
        return self.replicas > 0


@dataclass
class UnconfirmedStats:
    """What an :class:`Unconfirmed` buffer has seen."""

    confirmed: int = 0
    """Items a WAIT confirmed on a replica."""
    resent: int = 0
    """Items handed back because the server changed before a replica confirmed them."""
    forgotten: int = 0
    """Items dropped unconfirmed because the buffer was full (a replica down for long)."""
    short_waits: int = 0
    """WAITs that returned fewer replicas than asked."""
    server_changes: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Unconfirmed(Generic[T]):
    """Items the primary acknowledged that no replica is known to hold yet, in order.

    Thread-safe. The writer calls :meth:`plan` before a round trip (what to add to it) and
    :meth:`written` with the replies; items to write again come from :meth:`take_resend`.
    """

    def __init__(self, wait: ReplicaWait, *, limit: int = 50_000, what: str = "items") -> None:
        self.wait = wait
        self._limit = limit
        self._what = what
        self._items: deque[T] = deque()
        self._resend: list[T] = []
        self._server: str | None = None
        self._short_until = 0.0
        self._lock = threading.Lock()
        self.stats = UnconfirmedStats()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def wants_wait(self, now: float) -> bool:
        """Whether the next round trip should carry a WAIT."""
        if not self.wait.enabled:
            return False
        with self._lock:
            return now >= self._short_until

    def add_to(self, pipe: Any, now: float) -> bool:
        """Put ``INFO server`` first in ``pipe``; True when a WAIT should end it."""
        pipe.info("server")
        return self.wants_wait(now)

    def end(self, pipe: Any) -> None:
        """Put the WAIT last in ``pipe``."""
        pipe.wait(self.wait.replicas, self.wait.timeout_ms)

    def written(self, items: Sequence[T], replies: list[Any], waited: bool,
                now: float) -> list[Any]:
        """Account for a round trip built by :meth:`add_to` (and :meth:`end` when
        ``waited``); returns the replies of the writes alone."""
        info, writes = replies[0], replies[1:]
        acked: int | None = None
        if waited:
            acked = int(writes[-1])
            writes = writes[:-1]
        server = text(info.get("run_id", "")) if isinstance(info, dict) else ""
        with self._lock:
            if self._server is not None and server != self._server:
                # Everything still unconfirmed went to a server that is gone: write it again.
                self.stats.server_changes += 1
                self.stats.resent += len(self._items)
                if self._items:
                    log.warning("Redis primary changed: writing %d unconfirmed %s again",
                                len(self._items), self._what)
                self._resend.extend(self._items)
                self._items.clear()
            self._server = server
            self._items.extend(items)
            if acked is not None and acked >= self.wait.replicas:
                self.stats.confirmed += len(self._items)
                self._items.clear()
                self._short_until = 0.0
            elif acked is not None:
                self.stats.short_waits += 1
                if self.stats.short_waits == 1 or self.stats.short_waits % 100 == 0:
                    log.warning("WAIT: %d of %d replicas within %d ms; keeping %d %s until "
                                "one confirms", acked, self.wait.replicas, self.wait.timeout_ms,
                                len(self._items), self._what)
                self._short_until = now + self.wait.recheck_seconds
            while len(self._items) > self._limit:
                self._items.popleft()
                self.stats.forgotten += 1
                if self.stats.forgotten == 1 or self.stats.forgotten % 1000 == 0:
                    log.error("%d %s forgotten unconfirmed by any replica (buffer of %d full)",
                              self.stats.forgotten, self._what, self._limit)
        return writes

    def confirm(self, client: Any, now: float) -> None:
        """With items unconfirmed and nothing else to write: one round trip of a probe
        write and a WAIT, which confirms them, or finds the server changed (raises
        ``redis.RedisError``)."""
        if not self.wait.enabled or not len(self) or not self.wants_wait(now):
            return
        pipe = client.pipeline(transaction=False)
        self.add_to(pipe, now)
        pipe.set(names.REPLICA_PROBE_KEY, "1", px=60_000)
        self.end(pipe)
        self.written([], pipe.execute(), True, now)

    def give_back(self, items: Sequence[T]) -> None:
        """Items taken by :meth:`take_resend` whose second write failed: keep them first."""
        with self._lock:
            self._resend[:0] = items

    def take_resend(self) -> list[T]:
        """Items to write again (oldest first), and forget them here."""
        with self._lock:
            out, self._resend = self._resend, []
            return out
