"""Sign-in throttling and the aggregated audit of failed sign-ins.

Failed sign-ins are counted per client address and for everyone together with the
``limits`` library (moving windows kept in Redis, so every dashboard replica counts the
same attempts); past either limit a sign-in is refused with 429 and ``Retry-After``
before its token is even checked.

Failures are audited in bursts: one row per client address per burst, written when the
burst ends (no failure from that address for ``CE_LOGIN_BURST_SECONDS``) or when the
dashboard stops, with the count and the first and last times. A thousand bad tokens are
one audit row, not a thousand. This sits on the store's audit API (``record``) only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import limits
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from compoundeye import names
from compoundeye.redis_client import redis_from_settings
from compoundeye.settings import Settings
from compoundeye.store.audit import AuditRepo
from compoundeye.timeutil import from_epoch, to_rfc3339

log = logging.getLogger(__name__)

FAILED_ACTION = "auth.login_failed"


@dataclass
class _Burst:
    ip: str
    first: float
    last: float
    count: int = 0


class SignInGuard:
    """Throttles failed sign-ins and aggregates them for the audit trail."""

    def __init__(self, settings: Settings, audit: AuditRepo, *,
                 clock: Callable[[], float] = time.time) -> None:
        # The kernel's client (Sentinel-aware) lends the library its connection pool.
        self._redis = redis_from_settings(settings, timeout=2.0)
        self._storage = RedisStorage(settings.redis_url, key_prefix=names.LOGIN_LIMIT_PREFIX,
                                     connection_pool=self._redis.connection_pool)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._per_address = limits.parse(settings.login_limit_per_address)
        self._global = limits.parse(settings.login_limit_global)
        self._quiet = settings.login_burst_seconds
        self._audit = audit
        self._clock = clock
        self._lock = threading.Lock()
        self._bursts: dict[str, _Burst] = {}

    def retry_after(self, ip: str) -> int | None:
        """Seconds to wait when this address (or everyone) failed too often, else None."""
        waits = []
        for limit, key in ((self._per_address, ("address", ip)), (self._global, ("all",))):
            if not self._limiter.test(limit, *key):
                stats = self._limiter.get_window_stats(limit, *key)
                waits.append(max(1, int(stats.reset_time - time.time()) + 1))
        return max(waits) if waits else None

    def failed(self, ip: str) -> None:
        """Count one failed sign-in from ``ip`` (throttle and audit burst)."""
        self._limiter.hit(self._per_address, "address", ip)
        self._limiter.hit(self._global, "all")
        now = self._clock()
        with self._lock:
            burst = self._bursts.get(ip)
            if burst is None:
                burst = self._bursts[ip] = _Burst(ip, now, now)
            burst.count += 1
            burst.last = now

    def flush(self, *, everything: bool = False) -> int:
        """Write the bursts that ended (all of them with ``everything``); how many rows.

        A burst the store does not take is put back for the next flush (its count is
        never lost) and the error is raised."""
        now = self._clock()
        with self._lock:
            done = [b for b in self._bursts.values()
                    if everything or now - b.last >= self._quiet]
            for burst in done:
                del self._bursts[burst.ip]
        for written, burst in enumerate(done):
            try:
                self._audit.record(
                    actor="unknown", role="", action=FAILED_ACTION, target="",
                    details={"count": burst.count, "first": to_rfc3339(from_epoch(burst.first)),
                             "last": to_rfc3339(from_epoch(burst.last))},
                    ip=burst.ip or None, at=from_epoch(burst.last))
            except Exception:
                self._put_back(done[written:])
                raise
        return len(done)

    def _put_back(self, bursts: list[_Burst]) -> None:
        with self._lock:
            for burst in bursts:
                newer = self._bursts.get(burst.ip)
                if newer is None:
                    self._bursts[burst.ip] = burst
                else:
                    newer.count += burst.count
                    newer.first = min(newer.first, burst.first)

    @property
    def pending(self) -> int:
        """Failed sign-ins counted but not yet in the audit."""
        with self._lock:
            return sum(b.count for b in self._bursts.values())

    def close(self) -> None:
        """Close the limiter's Redis connections."""
        self._redis.close()
