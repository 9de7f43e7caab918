"""The SQL store (SQLAlchemy Core): alerts with history and notes, audit (a hash chain),
exports, legal holds.

SQLite file by default (``Settings.effective_database_url``), PostgreSQL through
``CE_DATABASE_URL`` (``postgresql+psycopg://``); one schema, ordered migrations.
"""

from compoundeye.legal_holds import HeldWindows
from compoundeye.store.models import (
    Alert,
    AlertChange,
    AlertFilter,
    AlertStatus,
    AuditEntry,
    ExportRecord,
    HistoryEntry,
    Hold,
    InvalidTransitionError,
    NewAlert,
    Note,
    NotFoundError,
    StoreError,
)
from compoundeye.store.store import Store

__all__ = [
    "Alert",
    "AlertChange",
    "AlertFilter",
    "AlertStatus",
    "AuditEntry",
    "ExportRecord",
    "HeldWindows",
    "HistoryEntry",
    "Hold",
    "InvalidTransitionError",
    "NewAlert",
    "NotFoundError",
    "Note",
    "Store",
    "StoreError",
]
