"""The audit trail: who did what, when and from where (read by admins only), each row
chained to the one before it by hash (:mod:`compoundeye.store.audit_chain`)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, select

from compoundeye.store import schema
from compoundeye.store.audit_chain import append
from compoundeye.store.db import page, read_transaction, where_equal, write_transaction
from compoundeye.store.models import AuditEntry
from compoundeye.timeutil import utcnow

T = schema.audit


def _entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(id=row.id, at=row.at, actor=row.actor, role=row.role, action=row.action,
                      target=row.target, details=dict(row.details or {}), ip=row.ip,
                      row_hash=row.row_hash)


def audit_values(actor: str, role: str, action: str, target: str = "",
                 details: dict[str, Any] | None = None, ip: str | None = None,
                 at: datetime | None = None) -> dict[str, Any]:
    """One row's values, cut to the column widths."""
    return {"at": at or utcnow(), "actor": actor[:128], "role": role[:32],
            "action": action[:64], "target": target[:256], "details": details or {},
            "ip": ip[:64] if ip else None}


def record_in(conn: Connection, actor: str, role: str, action: str, target: str = "",
              details: dict[str, Any] | None = None, ip: str | None = None,
              at: datetime | None = None) -> int:
    """Append one entry inside the caller's write transaction (so a change and its audit
    row commit together); returns its id."""
    return append(conn, audit_values(actor, role, action, target, details, ip, at))


class AuditRepo:
    """Appends to and reads the audit table; entries are never changed or removed."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, actor: str, role: str, action: str, target: str = "",
               details: dict[str, Any] | None = None, ip: str | None = None,
               at: datetime | None = None) -> AuditEntry:
        """Append one entry and return it."""
        with write_transaction(self._engine) as conn:
            entry_id = record_in(conn, actor, role, action, target, details, ip, at)
            row = conn.execute(select(T).where(T.c.id == entry_id)).one()
        return _entry(row)

    def list(self, *, actor: str | None = None, role: str | None = None,
             action: str | None = None, target: str | None = None,
             since: datetime | None = None, until: datetime | None = None,
             limit: int = 100, offset: int = 0,
             actions: Sequence[str] | None = None) -> builtins.list[AuditEntry]:
        """Entries matching every filter given, newest first (``actions``: any of these)."""
        q = where_equal(select(T), T, actor=actor, role=role, action=action, target=target)
        if actions is not None:
            q = q.where(T.c.action.in_(list(actions)))
        if since is not None:
            q = q.where(T.c.at >= since)
        if until is not None:
            q = q.where(T.c.at < until)
        q = page(q.order_by(T.c.at.desc(), T.c.id.desc()), limit, offset)
        with read_transaction(self._engine) as conn:
            return [_entry(row) for row in conn.execute(q)]
