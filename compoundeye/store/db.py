"""Engines for the alert store: SQLite (WAL, busy timeout) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Select, Table, create_engine, event
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 10_000
WRITE_OPTION = "ce_write"
"""Execution option marking a connection whose transaction will write (SQLite: IMMEDIATE)."""


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the store's URL, with SQLite set up for concurrent processes.

    SQLite runs in WAL mode (readers never block the writer) with a busy timeout, and
    write transactions start with ``BEGIN IMMEDIATE``: a transaction that reads and then
    writes would otherwise fail at once with "database is locked" when another process
    writes at the same moment, instead of waiting its turn.
    """
    url = normalise_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                       "check_same_thread": False})
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            _enter_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
            # In WAL mode NORMAL survives a crash of the process (kill -9); only an OS crash
            # or power loss may lose the last transactions.
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _enter_wal(cursor: Any) -> None:
    """Switch the database to WAL (persistent: once done, every later open finds it so).

    The switch needs an exclusive lock, and SQLite answers "database is locked" at once,
    without its busy handler, when another connection is opening the same new database
    at that moment (seen with four processes starting together): retry for the busy
    timeout instead.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that will write; commits on success."""
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a read-only (by intent) transaction."""
    with engine.connect() as conn, conn.begin():
        yield conn


def where_equal(query: Select[Any], table: Table, **values: str | None) -> Select[Any]:
    """``query`` narrowed to rows whose columns equal every value given (empty: ignored)."""
    for column, value in values.items():
        if value:
            query = query.where(table.c[column] == value)
    return query


def page(query: Select[Any], limit: int, offset: int) -> Select[Any]:
    """``query`` limited to one page: 1 to 10,000 rows, from a non-negative offset."""
    return query.limit(max(1, min(limit, 10_000))).offset(max(0, offset))
