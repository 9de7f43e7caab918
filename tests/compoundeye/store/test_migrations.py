from __future__ import annotations

import threading

from sqlalchemy import inspect, select

from compoundeye.store import Store, schema
from compoundeye.store.audit_chain import verify_chain
from compoundeye.store.db import make_engine, read_transaction, write_transaction
from compoundeye.store.migrations import LATEST, MIGRATIONS, current_version, migrate


def test_fresh_database_reaches_latest_and_rerun_is_noop(store_factory):
    url, kwargs = store_factory
    engine = make_engine(url, **kwargs)
    try:
        assert migrate(engine) == [m.version for m in MIGRATIONS]
        assert migrate(engine) == []
        with read_transaction(engine) as conn:
            assert current_version(conn) == LATEST
            rows = conn.execute(select(schema.schema_version.c.version)).scalars().all()
        assert rows == [m.version for m in MIGRATIONS]
        tables = set(inspect(engine).get_table_names())
        assert {"alerts", "alert_history", "alert_notes", "processed_events", "audit",
                "exports", "legal_holds", "legal_hold_cameras", "schema_version"} <= tables
        assert {"prev_hash", "row_hash"} <= {c["name"] for c in inspect(engine).get_columns(
            "audit")}
    finally:
        engine.dispose()


def test_upgrade_from_version_one_adds_indexes(store_factory):
    url, kwargs = store_factory
    engine = make_engine(url, **kwargs)
    try:
        assert migrate(engine, target=1) == [1]
        names = {ix["name"] for ix in inspect(engine).get_indexes("alerts")}
        assert "ix_alerts_created_at" not in names
        assert migrate(engine) == [m.version for m in MIGRATIONS[1:]]
        inspector = inspect(engine)
        names = {ix["name"] for ix in inspector.get_indexes("alerts")}
        assert {"ix_alerts_created_at", "ix_alerts_status_created"} <= names
    finally:
        engine.dispose()


def test_concurrent_opens_migrate_once(store_factory):
    url, kwargs = store_factory
    errors: list[BaseException] = []
    stores: list[Store] = []

    def open_store() -> None:
        try:
            stores.append(Store(url, **kwargs))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == []
        with stores[0].reading() as conn:
            versions = conn.execute(select(schema.schema_version.c.version)).scalars().all()
        assert sorted(versions) == [m.version for m in MIGRATIONS]
    finally:
        for s in stores:
            s.close()


def test_upgrade_chains_the_audit_rows_written_before(store_factory):
    url, kwargs = store_factory
    engine = make_engine(url, **kwargs)
    try:
        migrate(engine, target=3)
        columns = {c["name"] for c in inspect(engine).get_columns("audit")}
        assert "row_hash" not in columns
        with write_transaction(engine) as conn:
            for i in range(3):
                conn.exec_driver_sql(
                    "INSERT INTO audit (at, actor, role, action, target, details, ip) VALUES "
                    f"('2026-11-0{i + 1} 10:00:00', 'old-{i}', 'admin', 'auth.login', '', "
                    "'{\"n\": " + str(i) + "}', NULL)")
        assert migrate(engine) == [4]
        report = verify_chain(engine)
        assert report.ok and report.rows == 3
        with read_transaction(engine) as conn:
            hashes = conn.execute(select(schema.audit.c.row_hash)
                                  .order_by(schema.audit.c.id)).scalars().all()
        assert report.head_hash == hashes[-1] and len(set(hashes)) == 3
    finally:
        engine.dispose()
