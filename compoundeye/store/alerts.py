"""Alert operations: open or merge by dedupe key, ack, assign, resolve, notes, listings.

The functions taking a ``Connection`` run inside the caller's transaction, so the alerting
service can store a whole batch of events (alert changes plus ``processed_events``) in one
commit. :class:`AlertRepo` wraps each in its own transaction for the dashboard.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, Text, cast, or_, select

from compoundeye.store import schema
from compoundeye.store.db import read_transaction, write_transaction
from compoundeye.store.models import (
    Alert,
    AlertChange,
    AlertFilter,
    AlertStatus,
    HistoryEntry,
    InvalidTransitionError,
    NewAlert,
    Note,
    NotFoundError,
    new_id,
)
from compoundeye.timeutil import utcnow

MAX_EVENT_IDS = 100
"""Event ids kept on an alert (the latest); ``processed_events`` maps every one of them."""

ChangeHook = Callable[[Sequence[AlertChange]], None]

A = schema.alerts
H = schema.alert_history
N = schema.alert_notes
P = schema.processed_events


def _alert(row: Row[Any], history: tuple[HistoryEntry, ...] = (),
           notes: tuple[Note, ...] = ()) -> Alert:
    m = row._mapping
    return Alert(
        id=m["id"], rule=m["rule"], priority=m["priority"], status=AlertStatus(m["status"]),
        source_type=m["source_type"], source_id=m["source_id"], building=m["building"],
        location=dict(m["location"] or {}), title=m["title"], dedupe_key=m["dedupe_key"],
        open=m["open_key"] is not None, event_ids=list(m["event_ids"] or []),
        cameras=list(m["cameras"] or []), clip_start=m["clip_start"], clip_end=m["clip_end"],
        snapshot=m["snapshot"], assignee=m["assignee"], created_at=m["created_at"],
        updated_at=m["updated_at"], last_event_at=m["last_event_at"],
        resolved_at=m["resolved_at"], count=m["count"], attrs=dict(m["attrs"] or {}),
        history=history, notes=notes,
    )


def _status(value: str | None) -> AlertStatus | None:
    return None if value is None else AlertStatus(value)


def _history(conn: Connection, alert_id: str, at: datetime, actor: str, action: str,
             from_status: AlertStatus | None, to_status: AlertStatus | None,
             note: str | None = None,
             details: dict[str, Any] | None = None) -> None:
    conn.execute(H.insert().values(
        alert_id=alert_id, at=at, actor=actor, action=action, from_status=from_status,
        to_status=to_status, note=note, details=details or {}))


def fetch(conn: Connection, alert_id: str, *, for_update: bool = False) -> Alert:
    """One alert without history; raises :class:`NotFoundError`."""
    query = select(A).where(A.c.id == alert_id)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(f"no alert {alert_id!r}")
    return _alert(row)


def fetch_detailed(conn: Connection, alert_id: str) -> Alert:
    """One alert with its history (oldest first) and notes."""
    row = conn.execute(select(A).where(A.c.id == alert_id)).first()
    if row is None:
        raise NotFoundError(f"no alert {alert_id!r}")
    history = tuple(
        HistoryEntry(at=h.at, actor=h.actor, action=h.action,
                     from_status=_status(h.from_status), to_status=_status(h.to_status),
                     note=h.note, details=dict(h.details or {}))
        for h in conn.execute(select(H).where(H.c.alert_id == alert_id).order_by(H.c.id))
    )
    notes = tuple(
        Note(id=n.id, at=n.at, author=n.author, text=n.text)
        for n in conn.execute(select(N).where(N.c.alert_id == alert_id).order_by(N.c.id))
    )
    return _alert(row, history, notes)


def open_by_keys(conn: Connection, keys: Iterable[str]) -> dict[str, Alert]:
    """The open alert of each dedupe key that has one, locked for update on PostgreSQL."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = conn.execute(
        select(A).where(A.c.open_key.in_(wanted)).order_by(A.c.id).with_for_update())
    return {row.open_key: _alert(row) for row in rows}


def create(conn: Connection, new: NewAlert, *, actor: str = "system",
           now: datetime | None = None) -> AlertChange:
    """Open a new alert for ``new`` (its dedupe key must have no open alert)."""
    now = now or utcnow()
    alert_id = new_id(now)
    conn.execute(A.insert().values(
        id=alert_id, rule=new.rule, priority=new.priority, status=AlertStatus.NEW,
        source_type=new.source_type, source_id=new.source_id, building=new.building,
        location=new.location, title=new.title, dedupe_key=new.dedupe_key,
        open_key=new.dedupe_key, event_ids=new.event_ids[-MAX_EVENT_IDS:],
        cameras=new.cameras, clip_start=new.clip_start, clip_end=new.clip_end,
        snapshot=new.snapshot, assignee=None, created_at=now, updated_at=now,
        last_event_at=new.event_at, resolved_at=None, count=max(1, len(new.event_ids)),
        attrs=new.attrs))
    _history(conn, alert_id, now, actor, "created", None, AlertStatus.NEW,
             details={"events": len(new.event_ids)})
    return AlertChange(alert=fetch(conn, alert_id), action="created", actor=actor, at=now)


def merge(conn: Connection, alert: Alert, new: NewAlert, *, actor: str = "system",
          now: datetime | None = None) -> AlertChange:
    """Fold ``new``'s events into an open alert: count, last event, clip end, snapshot."""
    now = now or utcnow()
    events = [e for e in new.event_ids if e not in alert.event_ids]
    added = max(1, len(events)) if new.event_ids else 1
    cameras = list(dict.fromkeys([*alert.cameras, *new.cameras]))
    last = max(alert.last_event_at or new.event_at, new.event_at)
    clip_end = alert.clip_end
    if new.clip_end is not None and (clip_end is None or new.clip_end > clip_end):
        clip_end = new.clip_end
    clip_start = alert.clip_start if alert.clip_start is not None else new.clip_start
    values: dict[str, Any] = {
        "event_ids": [*alert.event_ids, *events][-MAX_EVENT_IDS:],
        "count": A.c.count + added, "updated_at": now, "last_event_at": last,
        "cameras": cameras, "clip_start": clip_start, "clip_end": clip_end,
        "attrs": {**alert.attrs, **new.attrs},
    }
    if new.snapshot:
        values["snapshot"] = new.snapshot
    conn.execute(A.update().where(A.c.id == alert.id).values(**values))
    details = {"events": added, "count": alert.count + added}
    _history(conn, alert.id, now, actor, "updated", alert.status, alert.status, details=details)
    return AlertChange(alert=fetch(conn, alert.id), action="updated", actor=actor, at=now,
                       details=details)


def detach(conn: Connection, alert_id: str) -> None:
    """Stop an alert taking new events (its cooldown passed); it stays in its status."""
    conn.execute(A.update().where(A.c.id == alert_id).values(open_key=None))


def clear(conn: Connection, alert_id: str, actor: str, cause: str, *,
          details: dict[str, Any] | None = None, now: datetime | None = None) -> AlertChange:
    """The cause cleared but the alert stays for an operator: stop merging, say so."""
    now = now or utcnow()
    alert = fetch(conn, alert_id, for_update=True)
    conn.execute(A.update().where(A.c.id == alert_id).values(open_key=None, updated_at=now))
    info = {"cause": cause, **(details or {})}
    note = f"cause cleared ({cause}); the alert stays until an operator resolves it"
    _history(conn, alert_id, now, actor, "cleared", alert.status, alert.status, note=note,
             details=info)
    return AlertChange(alert=fetch(conn, alert_id), action="cleared", actor=actor, at=now,
                       note=note, details=info)


def upsert(conn: Connection, new: NewAlert, *, actor: str = "system",
           now: datetime | None = None, open_alert: Alert | None = None) -> AlertChange:
    """Merge into the open alert of ``new.dedupe_key`` (within its cooldown) or open one."""
    now = now or utcnow()
    if open_alert is None:
        open_alert = open_by_keys(conn, [new.dedupe_key]).get(new.dedupe_key)
    if open_alert is not None:
        last = open_alert.last_event_at or open_alert.updated_at
        first = new.first_event_at or new.event_at
        if new.cooldown is None or first - last <= new.cooldown:
            return merge(conn, open_alert, new, actor=actor, now=now)
        detach(conn, open_alert.id)
    return create(conn, new, actor=actor, now=now)


def transition(conn: Connection, alert_id: str, action: str, actor: str, *,
               to_status: AlertStatus | None = None, note: str | None = None,
               details: dict[str, Any] | None = None, assignee: str | None = None,
               now: datetime | None = None) -> AlertChange:
    """Acknowledge, assign or resolve one alert, writing its history."""
    now = now or utcnow()
    alert = fetch(conn, alert_id, for_update=True)
    if alert.status == AlertStatus.RESOLVED:
        raise InvalidTransitionError(f"alert {alert_id} is already resolved")
    if action == "acknowledged" and alert.status != AlertStatus.NEW:
        raise InvalidTransitionError(f"alert {alert_id} is already {alert.status}")
    values: dict[str, Any] = {"updated_at": now}
    if to_status is not None:
        values["status"] = to_status
    if action == "assigned":
        values["assignee"] = assignee
    if to_status == AlertStatus.RESOLVED:
        values["resolved_at"] = now
        values["open_key"] = None
    conn.execute(A.update().where(A.c.id == alert_id).values(**values))
    _history(conn, alert_id, now, actor, action, alert.status, to_status or alert.status,
             note=note, details=details)
    return AlertChange(alert=fetch(conn, alert_id), action=action, actor=actor, at=now,
                       note=note, details=details or {})


def add_note(conn: Connection, alert_id: str, author: str, text: str, *,
             now: datetime | None = None) -> AlertChange:
    """Attach a note to an alert (any status)."""
    now = now or utcnow()
    alert = fetch(conn, alert_id)
    conn.execute(N.insert().values(alert_id=alert_id, at=now, author=author, text=text))
    conn.execute(A.update().where(A.c.id == alert_id).values(updated_at=now))
    _history(conn, alert_id, now, author, "note", alert.status, alert.status, note=text)
    return AlertChange(alert=fetch(conn, alert_id), action="note", actor=author, at=now,
                       note=text)


def processed(conn: Connection, event_ids: Iterable[str]) -> set[str]:
    """Which of these event ids were already turned into alert changes."""
    wanted = list(set(event_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        found.update(conn.execute(select(P.c.event_id).where(P.c.event_id.in_(chunk))).scalars())
    return found


def mark_processed(conn: Connection, rows: Sequence[tuple[str, str | None]],
                   now: datetime | None = None) -> None:
    """Record (event id, alert id) pairs in the caller's transaction (one executemany)."""
    if not rows:
        return
    at = now or utcnow()
    conn.execute(P.insert(), [{"event_id": e, "alert_id": a, "at": at} for e, a in rows])


def prune_processed(conn: Connection, before: datetime) -> int:
    """Forget processed event ids recorded before ``before``; how many were removed."""
    result = conn.execute(P.delete().where(P.c.at < before))
    return int(result.rowcount or 0)


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f'%"{escaped}"%'


def query(conn: Connection, flt: AlertFilter) -> list[Alert]:
    """Alerts matching ``flt``, newest first (no history)."""
    q = select(A)
    if flt.status:
        statuses = (flt.status,) if isinstance(flt.status, str) else flt.status
        q = q.where(A.c.status.in_(statuses))
    if flt.since is not None:
        q = q.where(A.c.created_at >= flt.since)
    if flt.until is not None:
        q = q.where(A.c.created_at < flt.until)
    if flt.kind:
        q = q.where(A.c.rule == flt.kind)
    if flt.building:
        q = q.where(A.c.building == flt.building)
    if flt.door:
        q = q.where(A.c.source_type == "door", A.c.source_id == flt.door)
    if flt.camera:
        q = q.where(or_(
            (A.c.source_type == "camera") & (A.c.source_id == flt.camera),
            cast(A.c.cameras, Text).like(_like(flt.camera), escape="\\"),
        ))
    limit = max(1, min(flt.limit, 10_000))
    q = q.order_by(A.c.created_at.desc(), A.c.id.desc()).limit(limit).offset(max(0, flt.offset))
    return [_alert(row) for row in conn.execute(q)]


class AlertRepo:
    """Alert lifecycle for callers that want one transaction per call (the dashboard).

    ``on_change`` (if given) receives every committed change, e.g. to append it to
    ``ce:alerts``; it runs after the commit, so a failing hook never loses the change.
    """

    def __init__(self, engine: Engine, on_change: ChangeHook | None = None) -> None:
        self._engine = engine
        self._on_change = on_change

    def _done(self, change: AlertChange) -> Alert:
        if self._on_change is not None:
            self._on_change([change])
        return change.alert

    def create(self, new: NewAlert, *, actor: str = "system") -> Alert:
        """Open a new alert regardless of any open one with the same key (detaching it)."""
        with write_transaction(self._engine) as conn:
            existing = open_by_keys(conn, [new.dedupe_key]).get(new.dedupe_key)
            if existing is not None:
                detach(conn, existing.id)
            change = create(conn, new, actor=actor)
        return self._done(change)

    def upsert(self, new: NewAlert, *, actor: str = "system",
               event_id: str | None = None) -> AlertChange | None:
        """Merge into the open alert of the key or open one; None if ``event_id`` was seen."""
        with write_transaction(self._engine) as conn:
            if event_id is not None and processed(conn, [event_id]):
                return None
            change = upsert(conn, new, actor=actor)
            if event_id is not None:
                mark_processed(conn, [(event_id, change.alert.id)])
        self._done(change)
        return change

    def ack(self, alert_id: str, actor: str, note: str | None = None) -> Alert:
        with write_transaction(self._engine) as conn:
            change = transition(conn, alert_id, "acknowledged", actor,
                                to_status=AlertStatus.ACKNOWLEDGED, note=note)
        return self._done(change)

    def assign(self, alert_id: str, assignee: str, actor: str,
               note: str | None = None) -> Alert:
        with write_transaction(self._engine) as conn:
            change = transition(conn, alert_id, "assigned", actor, note=note,
                                assignee=assignee, details={"assignee": assignee})
        return self._done(change)

    def resolve(self, alert_id: str, actor: str, note: str | None = None,
                details: dict[str, Any] | None = None) -> Alert:
        with write_transaction(self._engine) as conn:
            change = transition(conn, alert_id, "resolved", actor,
                                to_status=AlertStatus.RESOLVED,
                                note=note, details=details)
        return self._done(change)

    def add_note(self, alert_id: str, actor: str, text: str) -> Alert:
        with write_transaction(self._engine) as conn:
            change = add_note(conn, alert_id, actor, text)
        return self._done(change)

    def get(self, alert_id: str) -> Alert:
        """The alert with history and notes; raises :class:`NotFoundError`."""
        with read_transaction(self._engine) as conn:
            return fetch_detailed(conn, alert_id)

    def list(self, flt: AlertFilter | None = None, **filters: Any) -> builtins.list[Alert]:
        """Alerts newest first; pass an :class:`AlertFilter` or its fields as keywords."""
        flt = flt or AlertFilter(**filters)
        with read_transaction(self._engine) as conn:
            return query(conn, flt)
