"""Ordered schema migrations, recorded in ``schema_version``; safe to run concurrently.

Each migration is a numbered step run once, in order, in one transaction with its version
row. PostgreSQL takes an advisory lock and SQLite a write lock first, so several processes
starting at once (two alerting services and a dashboard) migrate exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select

from compoundeye.store import schema
from compoundeye.store.audit_chain import rechain
from compoundeye.store.db import write_transaction
from compoundeye.timeutil import utcnow

_PG_LOCK_ID = 0x0CE0_5702
"""Advisory lock id taken while migrating a PostgreSQL store."""


@dataclass(frozen=True)
class Migration:
    """One schema step."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _base_tables(conn: Connection) -> None:
    tables = schema.base_tables_v1()
    tables[0].metadata.create_all(conn, tables=tables, checkfirst=True)


def _legal_holds(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=list(schema.HOLD_TABLES), checkfirst=True)
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_legal_holds_case "
                         "ON legal_holds (case_id)")
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_legal_hold_cameras_camera "
                         "ON legal_hold_cameras (camera_id)")


def _audit_chain(conn: Connection) -> None:
    for column in ("prev_hash", "row_hash"):
        conn.exec_driver_sql(f"ALTER TABLE audit ADD COLUMN {column} VARCHAR(64)")
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_audit_action_at ON audit (action, at)")
    rechain(conn)


# Written as DDL rather than ``Index`` objects: those would attach to the tables and be
# created by migration 1 already, so a database at version 1 would not look like one.
_INDEXES = (
    ("ix_alerts_created_at", "alerts", "created_at"),
    ("ix_alerts_status_created", "alerts", "status, created_at"),
    ("ix_alerts_rule", "alerts", "rule"),
    ("ix_alerts_building", "alerts", "building"),
    ("ix_alerts_source", "alerts", "source_type, source_id"),
    ("ix_alerts_dedupe_key", "alerts", "dedupe_key"),
    ("ix_alert_history_alert", "alert_history", "alert_id"),
    ("ix_alert_notes_alert", "alert_notes", "alert_id"),
    ("ix_processed_events_at", "processed_events", "at"),
    ("ix_audit_at", "audit", "at"),
    ("ix_exports_created_at", "exports", "created_at"),
)


def _indexes(conn: Connection) -> None:
    for name, table, columns in _INDEXES:
        conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "base tables: alerts, history, notes, processed events, audit, exports",
              _base_tables),
    Migration(2, "indexes for alert, audit and export listings", _indexes),
    Migration(3, "legal holds: cameras and a window kept from retention for a case",
              _legal_holds),
    Migration(4, "audit hash chain: prev_hash and row_hash on every row", _audit_chain),
)

LATEST = MIGRATIONS[-1].version


def current_version(conn: Connection) -> int:
    """The highest applied version, 0 for an empty database."""
    if not conn.dialect.has_table(conn, schema.schema_version.name):
        return 0
    value = conn.execute(select(func.max(schema.schema_version.c.version))).scalar_one()
    return int(value or 0)


def migrate(engine: Engine, target: int | None = None,
            migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply every pending migration up to ``target`` (default: all); return those applied."""
    goal = migrations[-1].version if target is None else target
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError("migrations must have increasing, unique versions")
    applied: list[int] = []
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_PG_LOCK_ID)))
        schema.schema_version.create(conn, checkfirst=True)
        have = current_version(conn)
        for migration in migrations:
            if migration.version <= have or migration.version > goal:
                continue
            migration.apply(conn)
            conn.execute(schema.schema_version.insert().values(
                version=migration.version, description=migration.description,
                applied_at=utcnow()))
            applied.append(migration.version)
    return applied
