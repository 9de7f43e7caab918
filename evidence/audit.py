"""The audit and export-record interfaces the export needs, and the audit helpers.

They match ``compoundeye.store.Store``'s ``audit`` and ``exports`` repositories, so the
dashboard passes ``store.audit`` and ``store.exports``; without a store, audit records go
to the log (the CLI opens the store from settings, so a shell export is audited too).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

from compoundeye.timeutil import to_rfc3339
from evidence.search import CameraCoverage, Place

log = logging.getLogger(__name__)


class AuditLog(Protocol):
    """Appends one audit entry (``Store.audit``)."""

    def record(self, actor: str, role: str, action: str, target: str = "",
               details: dict[str, Any] | None = None, ip: str | None = None,
               at: datetime | None = None) -> object: ...


class ExportRecords(Protocol):
    """Export records (``Store.exports``)."""

    def create(self, requester: str, case_id: str, reason: str, request: dict[str, Any],
               *, export_id: str | None = None, status: str = "queued") -> object: ...

    def update(self, export_id: str, *, status: str | None = None,
               progress: int | None = None, manifest_path: str | None = ...,
               error: str | None = ..., finished_at: datetime | None = ...) -> object: ...


class LogAudit:
    """An audit log that writes each entry to the ``compoundeye.audit`` logger."""

    def __init__(self) -> None:
        self._log = logging.getLogger("compoundeye.audit")

    def record(self, actor: str, role: str, action: str, target: str = "",
               details: dict[str, Any] | None = None, ip: str | None = None,
               at: datetime | None = None) -> object:
        self._log.info("audit actor=%s role=%s action=%s target=%s ip=%s details=%s",
                       actor, role, action, target, ip, details or {})
        return None


def record_search(audit: AuditLog, *, actor: str, role: str, place: Place, start: datetime,
                  end: datetime, results: list[CameraCoverage], ip: str | None = None,
                  case_id: str | None = None) -> None:
    """Audit one coverage search: who looked where, over which window, what was found
    (and for which case, when the investigator said)."""
    details: dict[str, Any] = {
        "start": to_rfc3339(start), "end": to_rfc3339(end),
        "place": place.model_dump(exclude_none=True),
        "cameras": [r.camera_id for r in results][:500],
        "camera_count": len(results),
    }
    if case_id:
        details["case_id"] = case_id
    audit.record(actor, role, "recordings.search", place.describe()[:256], details, ip)
