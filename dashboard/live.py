"""Appending the dashboard's own alert changes to ``ce:alerts`` for every live screen."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis

from compoundeye import names
from compoundeye.store import AlertChange

log = logging.getLogger(__name__)


class ChangePublisher:
    """The store's ``on_change`` hook: one XADD per committed change."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def __call__(self, changes: Sequence[AlertChange]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for change in changes:
            pipe.xadd(names.ALERTS_STREAM, {names.ALERT_FIELD: change.to_json()},
                      maxlen=names.STREAM_MAXLEN, approximate=True)
        try:
            pipe.execute()
        except redis.RedisError:
            # The change is committed in the store; screens see it on their next reload.
            log.exception("could not append %d alert change(s) to %s",
                          len(changes), names.ALERTS_STREAM)
