from __future__ import annotations

import threading

from sqlalchemy import inspect, select

from compoundeye.store import Store, schema
from compoundeye.store.db import make_engine, read_transaction
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
                "exports", "schema_version"} <= tables
    finally:
        engine.dispose()


def test_upgrade_from_version_one_adds_indexes(store_factory):
    url, kwargs = store_factory
    engine = make_engine(url, **kwargs)
    try:
        assert migrate(engine, target=1) == [1]
        names = {ix["name"] for ix in inspect(engine).get_indexes("alerts")}
        assert "ix_alerts_created_at" not in names
        assert migrate(engine) == [2]
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
