"""The audit trail: who did what, when and from where (read by admins only)."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, select

from compoundeye.store import schema
from compoundeye.store.db import page, read_transaction, where_equal, write_transaction
from compoundeye.store.models import AuditEntry
from compoundeye.timeutil import utcnow

T = schema.audit


def _entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(id=row.id, at=row.at, actor=row.actor, role=row.role, action=row.action,
                      target=row.target, details=dict(row.details or {}), ip=row.ip)


class AuditRepo:
    """Appends to and reads the audit table; entries are never changed or removed."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, actor: str, role: str, action: str, target: str = "",
               details: dict[str, Any] | None = None, ip: str | None = None,
               at: datetime | None = None) -> AuditEntry:
        """Append one entry and return it."""
        values = {"at": at or utcnow(), "actor": actor[:128], "role": role[:32],
                  "action": action[:64], "target": target[:256], "details": details or {},
                  "ip": ip[:64] if ip else None}
        with write_transaction(self._engine) as conn:
            result = conn.execute(T.insert().values(**values))
            (entry_id,) = result.inserted_primary_key or (None,)
            row = conn.execute(select(T).where(T.c.id == entry_id)).one()
        return _entry(row)

    def list(self, *, actor: str | None = None, role: str | None = None,
             action: str | None = None, target: str | None = None,
             since: datetime | None = None, until: datetime | None = None,
             limit: int = 100, offset: int = 0) -> builtins.list[AuditEntry]:
        """Entries matching every filter given, newest first."""
        q = where_equal(select(T), T, actor=actor, role=role, action=action, target=target)
        if since is not None:
            q = q.where(T.c.at >= since)
        if until is not None:
            q = q.where(T.c.at < until)
        q = page(q.order_by(T.c.at.desc(), T.c.id.desc()), limit, offset)
        with read_transaction(self._engine) as conn:
            return [_entry(row) for row in conn.execute(q)]
