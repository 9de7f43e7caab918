"""Evidence export records: request, status and progress, manifest path or error."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, select

from compoundeye.store import schema
from compoundeye.store.db import page, read_transaction, where_equal, write_transaction
from compoundeye.store.models import EXPORT_STATUSES, ExportRecord, NotFoundError, new_id
from compoundeye.timeutil import utcnow

T = schema.exports
_UNSET: Any = object()


def _record(row: Row[Any]) -> ExportRecord:
    return ExportRecord(id=row.id, requester=row.requester, case_id=row.case_id,
                        reason=row.reason, status=row.status, progress=row.progress,
                        created_at=row.created_at, finished_at=row.finished_at,
                        manifest_path=row.manifest_path, error=row.error,
                        request=dict(row.request or {}))


class ExportRepo:
    """Create, update and read export records."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, requester: str, case_id: str, reason: str, request: dict[str, Any],
               *, export_id: str | None = None, status: str = "queued") -> ExportRecord:
        """A new export record (status ``queued`` unless told otherwise)."""
        if status not in EXPORT_STATUSES:
            raise ValueError(f"unknown export status {status!r}")
        now = utcnow()
        export_id = export_id or new_id(now)
        with write_transaction(self._engine) as conn:
            conn.execute(T.insert().values(
                id=export_id, requester=requester, case_id=case_id, reason=reason,
                status=status, progress=0, created_at=now, finished_at=None,
                manifest_path=None, error=None, request=request))
            return _record(conn.execute(select(T).where(T.c.id == export_id)).one())

    def update(self, export_id: str, *, status: str | None = None,
               progress: int | None = None, manifest_path: str | None = _UNSET,
               error: str | None = _UNSET, finished_at: datetime | None = _UNSET
               ) -> ExportRecord:
        """Change what is given; ``done``/``failed`` set ``finished_at`` unless given."""
        values: dict[str, Any] = {}
        if status is not None:
            if status not in EXPORT_STATUSES:
                raise ValueError(f"unknown export status {status!r}")
            values["status"] = status
            if status in ("done", "failed") and finished_at is _UNSET:
                values["finished_at"] = utcnow()
        if progress is not None:
            values["progress"] = max(0, min(100, int(progress)))
        if manifest_path is not _UNSET:
            values["manifest_path"] = manifest_path
        if error is not _UNSET:
            values["error"] = error
        if finished_at is not _UNSET:
            values["finished_at"] = finished_at
        with write_transaction(self._engine) as conn:
            if values:
                result = conn.execute(T.update().where(T.c.id == export_id).values(**values))
                if result.rowcount == 0:
                    raise NotFoundError(f"no export {export_id!r}")
            row = conn.execute(select(T).where(T.c.id == export_id)).first()
            if row is None:
                raise NotFoundError(f"no export {export_id!r}")
            return _record(row)

    def get(self, export_id: str) -> ExportRecord:
        """One export; raises :class:`NotFoundError`."""
        with read_transaction(self._engine) as conn:
            row = conn.execute(select(T).where(T.c.id == export_id)).first()
        if row is None:
            raise NotFoundError(f"no export {export_id!r}")
        return _record(row)

    def list(self, *, requester: str | None = None, status: str | None = None,
             case_id: str | None = None, limit: int = 100,
             offset: int = 0) -> builtins.list[ExportRecord]:
        """Exports newest first."""
        q = where_equal(select(T), T, requester=requester, status=status, case_id=case_id)
        q = page(q.order_by(T.c.created_at.desc(), T.c.id.desc()), limit, offset)
        with read_transaction(self._engine) as conn:
            return [_record(row) for row in conn.execute(q)]
