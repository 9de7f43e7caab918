"""Plain records the store returns: alerts with history and notes, audit entries, exports."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from compoundeye.timeutil import to_rfc3339

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class StoreError(Exception):
    """Base of the store's own errors."""


class NotFoundError(StoreError, LookupError):
    """No record with that id."""


class InvalidTransitionError(StoreError, ValueError):
    """The change is not allowed from the record's current state (e.g. ack a resolved alert)."""


class AlertStatus(StrEnum):
    """Where an alert is in its lifecycle (DESIGN.md, Alerts)."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


OPEN_STATUSES: tuple[AlertStatus, ...] = (AlertStatus.NEW, AlertStatus.ACKNOWLEDGED)
"""Statuses of an alert someone still has to deal with."""


def new_id(now: datetime) -> str:
    """A time-ordered unique id: microseconds since the epoch then 40 random bits, in hex."""
    micros = (now - _EPOCH) // timedelta(microseconds=1)
    return f"{micros:014x}{secrets.token_hex(5)}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else to_rfc3339(value)


@dataclass(frozen=True)
class HistoryEntry:
    """One change of an alert and who made it."""

    at: datetime
    actor: str
    action: str
    from_status: AlertStatus | None
    to_status: AlertStatus | None
    note: str | None
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"at": _iso(self.at), "actor": self.actor, "action": self.action,
                "from_status": self.from_status, "to_status": self.to_status,
                "note": self.note, "details": self.details}


@dataclass(frozen=True)
class Note:
    """A free-text note an operator attached to an alert."""

    id: int
    at: datetime
    author: str
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": _iso(self.at), "author": self.author, "text": self.text}


@dataclass(frozen=True)
class Alert:
    """An alert as stored; ``history`` and ``notes`` are filled by ``get`` only."""

    id: str
    rule: str
    priority: int
    status: AlertStatus
    source_type: str
    source_id: str
    building: str
    location: dict[str, Any]
    title: str
    dedupe_key: str
    open: bool
    event_ids: list[str]
    cameras: list[str]
    clip_start: datetime | None
    clip_end: datetime | None
    snapshot: str | None
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    last_event_at: datetime | None
    resolved_at: datetime | None
    count: int
    attrs: dict[str, Any]
    history: tuple[HistoryEntry, ...] = ()
    notes: tuple[Note, ...] = ()

    def as_dict(self, *, details: bool = True) -> dict[str, Any]:
        """JSON-ready form (RFC 3339 UTC times); without history and notes if not ``details``."""
        out: dict[str, Any] = {
            "id": self.id, "rule": self.rule, "priority": self.priority, "status": self.status,
            "source": {"type": self.source_type, "id": self.source_id},
            "building": self.building, "location": self.location, "title": self.title,
            "dedupe_key": self.dedupe_key, "open": self.open, "event_ids": self.event_ids,
            "cameras": self.cameras, "clip_start": _iso(self.clip_start),
            "clip_end": _iso(self.clip_end), "snapshot": self.snapshot,
            "assignee": self.assignee, "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at), "last_event_at": _iso(self.last_event_at),
            "resolved_at": _iso(self.resolved_at), "count": self.count, "attrs": self.attrs,
        }
        if details:
            out["history"] = [h.as_dict() for h in self.history]
            out["notes"] = [n.as_dict() for n in self.notes]
        return out


@dataclass(frozen=True)
class AlertChange:
    """One change to one alert, as appended to ``ce:alerts`` for live screens."""

    alert: Alert
    action: str
    actor: str
    at: datetime
    note: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "actor": self.actor, "at": _iso(self.at),
                "note": self.note, "details": self.details,
                "alert": self.alert.as_dict(details=False)}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"), default=str)


@dataclass
class NewAlert:
    """What a rule asks the store to open (or to merge into the open alert of its key)."""

    rule: str
    priority: int
    source_type: str
    source_id: str
    title: str
    dedupe_key: str
    event_at: datetime
    building: str = ""
    location: dict[str, Any] = field(default_factory=dict)
    event_ids: list[str] = field(default_factory=list)
    cameras: list[str] = field(default_factory=list)
    clip_start: datetime | None = None
    clip_end: datetime | None = None
    snapshot: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    cooldown: timedelta | None = None
    """Merge only while the open alert's last event is this recent; None: while it is open."""
    first_event_at: datetime | None = None
    """Earliest event of several folded into one request (cooldown is checked from it)."""


@dataclass(frozen=True)
class AlertFilter:
    """Filters of an alert listing; every one optional. Newest first."""

    status: AlertStatus | tuple[AlertStatus, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    kind: str | None = None
    camera: str | None = None
    door: str | None = None
    building: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class AuditEntry:
    """Who did what, when, from where."""

    id: int
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    details: dict[str, Any]
    ip: str | None
    row_hash: str | None = None
    """This row's link in the audit hash chain."""

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": _iso(self.at), "actor": self.actor, "role": self.role,
                "action": self.action, "target": self.target, "details": self.details,
                "ip": self.ip, "row_hash": self.row_hash}


EXPORT_STATUSES = ("queued", "running", "done", "failed")


@dataclass(frozen=True)
class ExportRecord:
    """An evidence export request and how far it got."""

    id: str
    requester: str
    case_id: str
    reason: str
    status: str
    progress: int
    created_at: datetime
    finished_at: datetime | None
    manifest_path: str | None
    error: str | None
    request: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "requester": self.requester, "case_id": self.case_id,
                "reason": self.reason, "status": self.status, "progress": self.progress,
                "created_at": _iso(self.created_at), "finished_at": _iso(self.finished_at),
                "manifest_path": self.manifest_path, "error": self.error,
                "request": self.request}


@dataclass(frozen=True)
class Hold:
    """A legal hold: cameras and a window kept from retention for a case until released."""

    id: str
    case_id: str
    reason: str
    camera_ids: tuple[str, ...]
    start: datetime
    end: datetime
    placed_by: str
    placed_role: str
    placed_at: datetime
    released_by: str | None = None
    released_at: datetime | None = None
    release_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "case_id": self.case_id, "reason": self.reason,
                "camera_ids": list(self.camera_ids), "start": _iso(self.start),
                "end": _iso(self.end), "placed_by": self.placed_by,
                "placed_role": self.placed_role, "placed_at": _iso(self.placed_at),
                "active": self.active, "released_by": self.released_by,
                "released_at": _iso(self.released_at), "release_reason": self.release_reason}
