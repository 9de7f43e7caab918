"""The SQL store (SQLAlchemy Core): alerts with history and notes, audit, exports.

SQLite file by default (``Settings.effective_database_url``), PostgreSQL through
``CE_DATABASE_URL`` (``postgresql+psycopg://``); one schema, ordered migrations.
"""

from compoundeye.store.models import (
    Alert,
    AlertChange,
    AlertFilter,
    AlertStatus,
    AuditEntry,
    ExportRecord,
    HistoryEntry,
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
    "HistoryEntry",
    "InvalidTransitionError",
    "NewAlert",
    "NotFoundError",
    "Note",
    "Store",
    "StoreError",
]
