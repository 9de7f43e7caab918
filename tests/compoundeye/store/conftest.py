"""The store fixture runs every store test on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from compoundeye.store import Store


def pg_schema_store_url(postgres_url: str) -> tuple[str, str, dict[str, object]]:
    """A private schema in the session database, so each test starts empty."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return plain, schema, {"connect_args": {"options": f"-csearch_path={schema}"}}


@pytest.fixture(params=["sqlite", "postgresql"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[
        tuple[str, dict[str, object]]]:
    """(url, engine kwargs) of an empty database on one back end."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}", {}
        return
    postgres_url = request.getfixturevalue("postgres_url")
    plain, schema, kwargs = pg_schema_store_url(postgres_url)
    try:
        yield postgres_url, kwargs
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '10s'")
            with contextlib.suppress(psycopg.errors.LockNotAvailable):  # left to the forced
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')  # drop of the session's database


@pytest.fixture
def store(store_factory: tuple[str, dict[str, object]]) -> Iterator[Store]:
    url, kwargs = store_factory
    opened = Store(url, **kwargs)  # type: ignore[arg-type]
    try:
        yield opened
    finally:
        opened.close()
