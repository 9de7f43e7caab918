"""Many alert changes in one transaction, written with one statement per kind of change.

The alerting service stores a whole batch of events at once: :class:`AlertBatch` loads the
open alerts of the batch's dedupe keys (locked ``FOR UPDATE`` on PostgreSQL; SQLite runs
the transaction under its write lock), applies opens, merges and resolves in memory, and
``flush`` writes them with ``executemany``: one UPDATE for every touched existing alert,
one INSERT for new alerts, one for history rows and one for processed event ids. Final
values are written (not increments), which is safe because the rows are locked.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam

from compoundeye.store import schema
from compoundeye.store.alerts import MAX_EVENT_IDS, open_by_keys, processed
from compoundeye.store.models import Alert, AlertChange, AlertStatus, NewAlert, new_id
from compoundeye.timeutil import utcnow

A = schema.alerts
_MUTABLE = ("status", "open_key", "event_ids", "cameras", "clip_start", "clip_end", "snapshot",
            "assignee", "updated_at", "last_event_at", "resolved_at", "count", "attrs")
_UPDATE = A.update().where(A.c.id == bindparam("b_id")).values(
    {name: bindparam(f"b_{name}") for name in _MUTABLE})


class AlertBatch:
    """Alert changes of one batch, applied in memory and flushed in a few statements."""

    def __init__(self, conn: Connection, keys: set[str], event_ids: list[str]) -> None:
        self.conn = conn
        self.done = processed(conn, event_ids) if event_ids else set()
        self._open = open_by_keys(conn, keys)
        self._alerts: dict[str, Alert] = {a.id: a for a in self._open.values()}
        self._loaded = set(self._alerts)
        self._history: list[dict[str, Any]] = []
        self._processed: dict[str, str | None] = {}
        self.changes: list[AlertChange] = []

    def fresh(self, event_ids: list[str]) -> list[str]:
        """The ids not stored by an earlier batch.

        One event may back several changes of this batch (a door closing resolves both its
        forced and its held alert): only a redelivery, which finds the ids committed, is
        skipped.
        """
        return [e for e in event_ids if e not in self.done]

    def _log(self, alert: Alert, at: datetime, actor: str, action: str,
             from_status: AlertStatus | None, note: str | None = None,
             details: dict[str, Any] | None = None) -> None:
        self._history.append({"alert_id": alert.id, "at": at, "actor": actor,
                              "action": action, "from_status": from_status,
                              "to_status": alert.status, "note": note,
                              "details": details or {}})

    def _set(self, alert: Alert, action: str, actor: str, at: datetime, events: list[str],
             note: str | None = None, details: dict[str, Any] | None = None) -> AlertChange:
        self._alerts[alert.id] = alert
        if alert.open:
            self._open[alert.dedupe_key] = alert
        elif self._open.get(alert.dedupe_key) is not None and \
                self._open[alert.dedupe_key].id == alert.id:
            del self._open[alert.dedupe_key]
        for event_id in events:
            self._processed[event_id] = alert.id
        change = AlertChange(alert=alert, action=action, actor=actor, at=at, note=note,
                             details={**(details or {}), "event_ids": events[-MAX_EVENT_IDS:]})
        self.changes.append(change)
        return change

    def upsert(self, new: NewAlert, events: list[str], actor: str = "system") -> AlertChange:
        """Merge into the open alert of the key (within its cooldown) or open a new one."""
        now = utcnow()
        current = self._open.get(new.dedupe_key)
        if current is not None:
            last = current.last_event_at or current.updated_at
            first = new.first_event_at or new.event_at
            if new.cooldown is None or first - last <= new.cooldown:
                return self._merge(current, new, events, actor, now)
            self._set(replace(current, open=False), "detached", actor, now, [])
            self.changes.pop()  # a detach is not news for live screens
        alert = Alert(
            id=new_id(now), rule=new.rule, priority=new.priority, status=AlertStatus.NEW,
            source_type=new.source_type, source_id=new.source_id, building=new.building,
            location=new.location, title=new.title, dedupe_key=new.dedupe_key, open=True,
            event_ids=events[-MAX_EVENT_IDS:], cameras=list(new.cameras),
            clip_start=new.clip_start, clip_end=new.clip_end, snapshot=new.snapshot,
            assignee=None, created_at=now, updated_at=now, last_event_at=new.event_at,
            resolved_at=None, count=max(1, len(events)), attrs=dict(new.attrs))
        self._log(alert, now, actor, "created", None, details={"events": len(events)})
        return self._set(alert, "created", actor, now, events)

    def _merge(self, alert: Alert, new: NewAlert, events: list[str], actor: str,
               now: datetime) -> AlertChange:
        added = max(1, len(events))
        clip_end = alert.clip_end
        if new.clip_end is not None and (clip_end is None or new.clip_end > clip_end):
            clip_end = new.clip_end
        merged = replace(
            alert, event_ids=[*alert.event_ids, *events][-MAX_EVENT_IDS:],
            count=alert.count + added, updated_at=now,
            last_event_at=max(alert.last_event_at or new.event_at, new.event_at),
            cameras=list(dict.fromkeys([*alert.cameras, *new.cameras])),
            clip_start=alert.clip_start if alert.clip_start is not None else new.clip_start,
            clip_end=clip_end, snapshot=new.snapshot or alert.snapshot,
            attrs={**alert.attrs, **new.attrs})
        details = {"events": added, "count": merged.count}
        self._log(merged, now, actor, "updated", alert.status, details=details)
        return self._set(merged, "updated", actor, now, events, details=details)

    def resolve(self, key: str, events: list[str], cause: str, *, detach_only: bool,
                details: dict[str, Any] | None = None, actor: str = "system"
                ) -> AlertChange | None:
        """Resolve the open alert of ``key`` (or only stop merging into it); None if none."""
        alert = self._open.get(key)
        if alert is None:
            return None
        now = utcnow()
        info = {"cause": cause, **(details or {})}
        if detach_only:
            note = f"cause cleared ({cause}); the alert stays until an operator resolves it"
            cleared = replace(alert, open=False, updated_at=now)
            self._log(cleared, now, actor, "cleared", alert.status, note, info)
            return self._set(cleared, "cleared", actor, now, events, note, info)
        info["auto"] = True
        note = f"auto-resolved: {cause}"
        resolved = replace(alert, open=False, status=AlertStatus.RESOLVED, resolved_at=now,
                           updated_at=now)
        self._log(resolved, now, actor, "resolved", alert.status, note, info)
        return self._set(resolved, "resolved", actor, now, events, note, info)

    def flush(self, at: datetime | None = None) -> list[AlertChange]:
        """Write everything; returns the changes for live screens."""
        at = at or utcnow()
        updates, inserts = [], []
        for alert in self._alerts.values():
            row = _row(alert)
            if alert.id in self._loaded:
                updates.append({f"b_{k}": row[k] for k in ("id", *_MUTABLE)})
            else:
                inserts.append(row)
        if updates:
            self.conn.execute(_UPDATE, updates)
        if inserts:
            self.conn.execute(A.insert(), inserts)
        if self._history:
            self.conn.execute(schema.alert_history.insert(), self._history)
        if self._processed:
            self.conn.execute(schema.processed_events.insert(), [
                {"event_id": e, "alert_id": a, "at": at} for e, a in self._processed.items()])
        return self.changes


def _row(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id, "rule": alert.rule, "priority": alert.priority, "status": alert.status,
        "source_type": alert.source_type, "source_id": alert.source_id,
        "building": alert.building, "location": alert.location, "title": alert.title,
        "dedupe_key": alert.dedupe_key,
        "open_key": alert.dedupe_key if alert.open else None,
        "event_ids": alert.event_ids, "cameras": alert.cameras,
        "clip_start": alert.clip_start, "clip_end": alert.clip_end,
        "snapshot": alert.snapshot, "assignee": alert.assignee,
        "created_at": alert.created_at, "updated_at": alert.updated_at,
        "last_event_at": alert.last_event_at, "resolved_at": alert.resolved_at,
        "count": alert.count, "attrs": alert.attrs,
    }
