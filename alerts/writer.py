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

from alerts.dedupe import Intent, Open, Resolve, coalesce, coalesced_event_ids
from compoundeye import names
from compoundeye.store import AlertChange, Store
from compoundeye.store import alerts as ops
from compoundeye.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 5
MAX_IDS_IN_CHANGE = 100


class ConflictError(RuntimeError):
    """Another process kept changing the same alerts; the batch was not stored."""


def _with_events(change: AlertChange, event_ids: list[str]) -> AlertChange:
    details = {**change.details, "event_ids": event_ids[-MAX_IDS_IN_CHANGE:]}
    return replace(change, details=details)


def _apply_once(store: Store, intents: list[Intent], now: datetime) -> list[AlertChange]:
    all_ids = [e for i in intents for e in coalesced_event_ids(i)]
    keys = {i.key for i in intents}
    changes: list[AlertChange] = []
    with store.transaction() as conn:
        done = ops.processed(conn, all_ids) if all_ids else set()
        open_alerts = ops.open_by_keys(conn, keys)
        rows: dict[str, str | None] = {}
        for intent in intents:
            ids = [e for e in coalesced_event_ids(intent) if e not in done and e not in rows]
            if coalesced_event_ids(intent) and not ids:
                continue  # every event behind it was stored before
            if isinstance(intent, Open):
                new = replace(intent.alert, event_ids=ids) if intent.alert.event_ids \
                    else intent.alert
                change = ops.upsert(conn, new, open_alert=open_alerts.get(intent.key))
                if change.alert.open:
                    open_alerts[intent.key] = change.alert
            else:
                alert = open_alerts.pop(intent.key, None)
                if alert is None:
                    continue  # nothing open for that cause: nothing to change
                if intent.detach_only:
                    change = ops.clear(conn, alert.id, "system", intent.cause,
                                       details=intent.details)
                else:
                    details = {"auto": True, "cause": intent.cause, **intent.details}
                    change = ops.transition(conn, alert.id, "resolved", "system",
                                            to_status="resolved", details=details,
                                            note=f"auto-resolved: {intent.cause}")
            changes.append(_with_events(change, ids))
            rows.update({e: change.alert.id for e in ids})
        ops.mark_processed(conn, list(rows.items()), now)
    return changes


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


def publish_changes(client: redis.Redis, changes: Sequence[AlertChange]) -> None:
    """Append every change to ``ce:alerts`` for live screens (one round trip)."""
    if not changes:
        return
    pipe = client.pipeline(transaction=False)
    for change in changes:
        pipe.xadd(names.ALERTS_STREAM, {names.ALERT_FIELD: change.to_json()},
                  maxlen=names.STREAM_MAXLEN, approximate=True)
    pipe.execute()


def for_intents(intents: Sequence[Intent]) -> tuple[int, int]:
    """(opens, resolves) in a list of intents, for logs and stats."""
    opens = sum(1 for i in intents if isinstance(i, Open))
    return opens, sum(1 for i in intents if isinstance(i, Resolve))
