"""Apply a batch of intents to the store in one transaction, then announce the changes.

Idempotency: the ids of the events behind every change are written to
``processed_events`` in the same transaction as the change, and events already there are
skipped. A batch redelivered after a crash (or claimed from a dead consumer) therefore
makes no second alert, whether the crash came before or after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import redis
from sqlalchemy.exc import IntegrityError

from alerts.dedupe import Intent, Open, coalesce, coalesced_event_ids
from compoundeye.alert_stream import Announcement, publish_alert_changes
from compoundeye.replication import Unconfirmed
from compoundeye.store import AlertChange, Store
from compoundeye.store.batch import AlertBatch
from compoundeye.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 5


class ConflictError(RuntimeError):
    """Another process kept changing the same alerts; the batch was not stored."""


def _apply_once(store: Store, intents: list[Intent], now: datetime) -> list[AlertChange]:
    all_ids = [e for i in intents for e in coalesced_event_ids(i)]
    with store.transaction() as conn:
        batch = AlertBatch(conn, {i.key for i in intents}, all_ids)
        for intent in intents:
            wanted = coalesced_event_ids(intent)
            ids = batch.fresh(wanted)
            if wanted and not ids:
                continue  # every event behind it was stored before
            if isinstance(intent, Open):
                new = replace(intent.alert, event_ids=ids) if intent.alert.event_ids \
                    else intent.alert
                batch.upsert(new, ids)
            else:
                batch.resolve(intent.key, ids, intent.cause, detach_only=intent.detach_only,
                              details=intent.details)
        return batch.flush(now)


def apply_intents(store: Store, intents: Sequence[Intent],
                  now: datetime | None = None) -> list[AlertChange]:
    """Store the intents of one batch (coalesced) in one transaction; the changes made.

    A unique-key conflict means another alerting process committed a change to the same
    cause (or the same event) first: the transaction is rolled back and run again, and then
    sees that change. Database outages raise; the caller retries the same intents.
    """
    batch = coalesce(intents)
    if not batch:
        return []
    for attempt in range(MAX_CONFLICT_RETRIES):
        try:
            return _apply_once(store, batch, now or utcnow())
        except IntegrityError as exc:
            log.info("batch conflicted with another process (attempt %d): %s", attempt + 1,
                     str(exc).splitlines()[0][:200])
    raise ConflictError(f"batch still conflicting after {MAX_CONFLICT_RETRIES} attempts")


def publish_changes(client: redis.Redis, changes: Sequence[AlertChange],
                    guard: Unconfirmed[Announcement] | None = None) -> None:
    """Announce a committed batch on ``ce:alerts``; raises on Redis errors, so the service
    keeps the batch unacknowledged (see :func:`compoundeye.alert_stream.publish_alert_changes`)."""
    publish_alert_changes(client, changes, guard=guard)
