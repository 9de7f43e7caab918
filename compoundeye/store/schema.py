"""The store's tables (alerts, audit, exports, legal holds): one SQLAlchemy Core schema
for SQLite and PostgreSQL.

Times are timezone-aware UTC on the way in and out. PostgreSQL keeps them as
``timestamptz``; SQLite has no such type, so they are stored as naive UTC text
(``YYYY-MM-DD HH:MM:SS.ffffff``), which sorts and compares correctly as text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both back ends; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store keeps every time zone-aware (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @property
    def python_type(self) -> type[datetime]:
        return datetime


def _utc() -> UTCDateTime:
    return UTCDateTime()


metadata = MetaData()

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("rule", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # an AlertStatus value
    Column("source_type", String(16), nullable=False),
    Column("source_id", String(128), nullable=False),
    Column("building", String(64), nullable=False, default=""),
    Column("location", JSON, nullable=False),
    Column("title", Text, nullable=False),
    Column("dedupe_key", String(256), nullable=False),
    # The dedupe key while the alert still takes new events, NULL after: a unique index on
    # it means two alerting processes can never both open an alert for the same cause.
    Column("open_key", String(256), nullable=True, unique=True),
    Column("event_ids", JSON, nullable=False),
    Column("cameras", JSON, nullable=False),
    Column("clip_start", _utc(), nullable=True),
    Column("clip_end", _utc(), nullable=True),
    Column("snapshot", Text, nullable=True),
    Column("assignee", String(128), nullable=True),
    Column("created_at", _utc(), nullable=False),
    Column("updated_at", _utc(), nullable=False),
    Column("last_event_at", _utc(), nullable=True),
    Column("resolved_at", _utc(), nullable=True),
    Column("count", Integer, nullable=False, default=1),
    Column("attrs", JSON, nullable=False),
)

alert_history = Table(
    "alert_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", String(40), ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("at", _utc(), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=True),
    Column("note", Text, nullable=True),
    Column("details", JSON, nullable=False),
)

alert_notes = Table(
    "alert_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", String(40), ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("at", _utc(), nullable=False),
    Column("author", String(128), nullable=False),
    Column("text", Text, nullable=False),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("alert_id", String(40), nullable=True),
    Column("at", _utc(), nullable=False),
)

def _audit_columns(*, chained: bool) -> list[Column[Any]]:
    """The audit table's columns; ``chained`` adds the hash chain of migration 4."""
    columns: list[Column[Any]] = [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at", _utc(), nullable=False),
        Column("actor", String(128), nullable=False),
        Column("role", String(32), nullable=False),
        Column("action", String(64), nullable=False),
        Column("target", String(256), nullable=False, default=""),
        Column("details", JSON, nullable=False),
        Column("ip", String(64), nullable=True),
    ]
    if chained:
        # SHA-256 (hex) of the previous row's ``row_hash`` and this row's content
        # (compoundeye.store.audit_chain); NULL only before migration 4 filled them.
        columns += [Column("prev_hash", String(64), nullable=True),
                    Column("row_hash", String(64), nullable=True)]
    return columns


audit = Table("audit", metadata, *_audit_columns(chained=True))

exports = Table(
    "exports",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("requester", String(128), nullable=False),
    Column("case_id", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("progress", Integer, nullable=False, default=0),
    Column("created_at", _utc(), nullable=False),
    Column("finished_at", _utc(), nullable=True),
    Column("manifest_path", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("request", JSON, nullable=False),
)

legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("case_id", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("window_start", _utc(), nullable=False),
    Column("window_end", _utc(), nullable=False),
    Column("placed_by", String(128), nullable=False),
    Column("placed_role", String(32), nullable=False),
    Column("placed_at", _utc(), nullable=False),
    Column("released_by", String(128), nullable=True),
    Column("released_at", _utc(), nullable=True),
    Column("release_reason", Text, nullable=True),
)

legal_hold_cameras = Table(
    "legal_hold_cameras",
    metadata,
    Column("hold_id", String(40), ForeignKey("legal_holds.id", ondelete="CASCADE"),
           primary_key=True),
    Column("camera_id", String(128), primary_key=True),
)

HOLD_TABLES: tuple[Table, ...] = (legal_holds, legal_hold_cameras)

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at", _utc(), nullable=False),
)

BASE_TABLES: tuple[Table, ...] = (
    alerts,
    alert_history,
    alert_notes,
    processed_events,
    audit,
    exports,
)
"""The tables of migration 1 (in their latest shape; see :func:`base_tables_v1`)."""


def base_tables_v1() -> list[Table]:
    """The tables of migration 1 as they were then: the audit table without its chain
    columns (migration 4 adds them), so an upgraded database and a fresh one match."""
    old = MetaData()
    out = []
    for table in BASE_TABLES:
        if table is audit:
            out.append(Table("audit", old, *_audit_columns(chained=False)))
        else:
            out.append(table.to_metadata(old))
    return out

