"""Alert changes onto ``ce:alerts``, the stream every live screen follows: one writer.

Both writers of alerts use it: the alerting service (after each batch's commit) and the
dashboard (the store's ``on_change`` hook, after each operator's change). A change is
announced only once committed, so a Redis failure here can cost a live screen its update
(the screen catches up on its next listing), never the alert.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis

from compoundeye import names
from compoundeye.store.models import AlertChange

log = logging.getLogger(__name__)


def publish_alert_changes(client: redis.Redis, changes: Sequence[AlertChange]) -> None:
    """Append every change to ``ce:alerts`` in one round trip; raises ``redis.RedisError``."""
    if not changes:
        return
    pipe = client.pipeline(transaction=False)
    for change in changes:
        pipe.xadd(names.ALERTS_STREAM, {names.ALERT_FIELD: change.to_json()},
                  maxlen=names.STREAM_MAXLEN, approximate=True)
    pipe.execute()


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
