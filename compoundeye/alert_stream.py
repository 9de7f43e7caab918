"""Alert changes onto ``ce:alerts``, the stream every live screen follows: one writer.

Both writers of alerts use it: the alerting service (after each batch's commit) and the
dashboard (the store's ``on_change`` hook, after each operator's change). A change is
announced only once committed, so a Redis failure here can cost a live screen its update
(the screen catches up on its next listing), never the alert.

The alerting service also passes an :class:`~compoundeye.replication.Unconfirmed` guard
(with Sentinel): each change is then appended once by the digest of its JSON
(``ce:seen-change:<digest>``), the round trip ends with ``WAIT``, and changes a failover
took away before a replica had them are appended again (:func:`announce_again`), so a desk
following the stream across a failover still gets them, and gets each once unless it had
already read it from the primary that died.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence

import redis

from compoundeye import names
from compoundeye.bus import ADD_ONCE_SCRIPT
from compoundeye.replication import Unconfirmed
from compoundeye.store.models import AlertChange

log = logging.getLogger(__name__)


CHANGE_SEEN_TTL_SECONDS = 3600
"""How long an announced change's digest is remembered (re-sends come within seconds)."""

Announcement = tuple[str, str]
"""A change as announced: (digest of its JSON, the JSON)."""


def publish_alert_changes(client: redis.Redis, changes: Sequence[AlertChange], *,
                          guard: Unconfirmed[Announcement] | None = None) -> None:
    """Append every change to ``ce:alerts`` in one round trip; raises ``redis.RedisError``.

    With ``guard``: once per change, with ``WAIT``, kept until a replica confirms it.
    """
    if guard is None or not guard.wait.enabled:
        if not changes:
            return
        pipe = client.pipeline(transaction=False)
        for change in changes:
            pipe.xadd(names.ALERTS_STREAM, {names.ALERT_FIELD: change.to_json()},
                      maxlen=names.STREAM_MAXLEN, approximate=True)
        pipe.execute()
        return
    fresh = []
    for change in changes:
        data = change.to_json()
        fresh.append((hashlib.sha256(data.encode()).hexdigest()[:32], data))
    _announce(client, fresh, guard)


def _announce(client: redis.Redis, items: list[Announcement],
              guard: Unconfirmed[Announcement]) -> None:
    again = guard.take_resend()
    items = again + items
    if not items:
        return
    now = time.monotonic()
    pipe = client.pipeline(transaction=False)
    try:
        waited = guard.add_to(pipe, now)
        for digest, data in items:
            pipe.eval(ADD_ONCE_SCRIPT, 2, names.ALERTS_STREAM, names.change_seen_key(digest),
                      data, CHANGE_SEEN_TTL_SECONDS, names.STREAM_MAXLEN, names.ALERT_FIELD)
        if waited:
            guard.end(pipe)
        replies = pipe.execute()
    except redis.RedisError:
        guard.give_back(items)  # announced with the next batch, or by announce_again
        raise
    guard.written(items, replies, waited, now)


def announce_again(client: redis.Redis, guard: Unconfirmed[Announcement]) -> None:
    """With nothing new to announce: have a replica confirm the unconfirmed changes, and
    append again those a failover took away (raises ``redis.RedisError``)."""
    guard.confirm(client, time.monotonic())
    _announce(client, [], guard)


class AlertChangePublisher:
    """A store ``on_change`` hook that publishes committed changes and, on a Redis error,
    logs and carries on (the change is already in the store)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def __call__(self, changes: Sequence[AlertChange]) -> None:
        try:
            publish_alert_changes(self._client, changes)
        except redis.RedisError:
            # The change is committed in the store; screens see it on their next reload.
            log.exception("could not append %d alert change(s) to %s",
                          len(changes), names.ALERTS_STREAM)
