"""The :class:`Store` facade: one engine, migrated on open, with alerts, audit, exports and
legal holds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

from compoundeye.settings import Settings
from compoundeye.store.alerts import AlertRepo, ChangeHook
from compoundeye.store.audit import AuditRepo
from compoundeye.store.db import make_engine, read_transaction, write_transaction
from compoundeye.store.exports import ExportRepo
from compoundeye.store.holds import HoldRepo
from compoundeye.store.migrations import migrate


class Store:
    """The SQL store shared by the alerting service and the dashboard.

    ``store.alerts`` (lifecycle, listings), ``store.audit`` (record, list) and
    ``store.exports`` (create, update, get, list) and ``store.holds`` (place, release,
    list, the windows retention keeps) each run one transaction per call;
    ``store.transaction()`` gives a connection for batch work with the functions of
    :mod:`compoundeye.store.alerts`. The schema is migrated when the store opens.
    """

    def __init__(self, url: str, *, on_change: ChangeHook | None = None,
                 auto_migrate: bool = True, **engine_kwargs: Any) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine: Engine = make_engine(url, **engine_kwargs)
        if auto_migrate:
            migrate(self.engine)
        self.alerts = AlertRepo(self.engine, on_change)
        self.audit = AuditRepo(self.engine)
        self.exports = ExportRepo(self.engine)
        self.holds = HoldRepo(self.engine)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Store:
        """The store at ``CE_DATABASE_URL``, or the SQLite file in the data dir."""
        return cls(settings.effective_database_url, **kwargs)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction (committed on success, rolled back on error)."""
        with write_transaction(self.engine) as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read transaction."""
        with read_transaction(self.engine) as conn:
            yield conn

    def ping(self) -> bool:
        """Whether the database answers."""
        with read_transaction(self.engine) as conn:
            return conn.exec_driver_sql("SELECT 1").scalar() == 1

    def close(self) -> None:
        self.engine.dispose()
