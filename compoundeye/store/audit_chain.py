"""The audit trail as a hash chain: each row carries the hash of the one before it.

``row_hash`` is the SHA-256 of the previous row's ``row_hash`` and this row's content
(time, actor, role, action, target, details, address) as canonical JSON. Editing a row
changes its hash, so the row after it no longer follows it; removing or inserting a row
breaks the link at that place. :func:`verify_chain` walks the rows in id order and names
the first one that is wrong. Removing rows at the very end leaves a shorter chain that is
still whole; that is what the head (last id and hash) is for: written down elsewhere (a
custody report prints it) and checked later with ``compoundeye audit verify --anchor``.

Appends are serialised, so two dashboard replicas and the CLI never both chain onto the
same row: PostgreSQL takes a transaction-level advisory lock before reading the last
hash, SQLite's write transactions are ``BEGIN IMMEDIATE`` (one writer at a time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from compoundeye.store import schema
from compoundeye.store.db import read_transaction

T = schema.audit
GENESIS = "0" * 64
"""The ``prev_hash`` of the first row."""
CHAIN_FORMAT = "ce-audit/1"
_PG_AUDIT_LOCK_ID = 0x0CE0_A0D1
"""Advisory lock serialising audit appends on PostgreSQL."""
PAGE = 2000


def canonical_time(moment: datetime) -> str:
    """The time as hashed: UTC with microseconds (what both back ends keep)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalise_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """Details as they will read back from the JSON column (string keys, JSON types)."""
    loaded: dict[str, Any] = json.loads(json.dumps(dict(details or {})))
    return loaded


def row_digest(prev_hash: str, at: datetime, actor: str, role: str, action: str, target: str,
               details: Mapping[str, Any], ip: str | None) -> str:
    """The ``row_hash`` of a row with this content following ``prev_hash``."""
    body = json.dumps([CHAIN_FORMAT, prev_hash, canonical_time(at), actor, role, action,
                       target, dict(details), ip],
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _lock_for_append(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_PG_AUDIT_LOCK_ID)))
    # SQLite: the write transaction began IMMEDIATE, so this process is the only writer.


def last_hash(conn: Connection) -> str:
    """The ``row_hash`` of the newest row (the genesis value for an empty table)."""
    value = conn.execute(select(T.c.row_hash).order_by(T.c.id.desc()).limit(1)).scalar()
    return str(value) if value else GENESIS


def append(conn: Connection, values: dict[str, Any]) -> int:
    """Insert one audit row chained onto the last, in the caller's write transaction;
    returns its id. ``values`` holds at, actor, role, action, target, details, ip."""
    _lock_for_append(conn)
    details = normalise_details(values.get("details"))
    prev = last_hash(conn)
    digest = row_digest(prev, values["at"], values["actor"], values["role"], values["action"],
                        values["target"], details, values.get("ip"))
    result = conn.execute(T.insert().values(**{**values, "details": details},
                                            prev_hash=prev, row_hash=digest))
    (entry_id,) = result.inserted_primary_key or (None,)
    if entry_id is None:
        raise RuntimeError("the database returned no id for the audit row")
    return int(entry_id)


def rechain(conn: Connection) -> int:
    """Compute ``prev_hash`` and ``row_hash`` of every row in id order (migration 4, for
    the rows written before the chain existed); returns how many rows were chained."""
    _lock_for_append(conn)
    prev = GENESIS
    count = 0
    for row in list(_rows(conn)):
        digest = _digest_of(row, prev)
        conn.execute(T.update().where(T.c.id == row.id).values(prev_hash=prev, row_hash=digest))
        prev = digest
        count += 1
    return count


def _rows(conn: Connection) -> Iterator[Any]:
    after = 0
    while True:
        rows = conn.execute(select(T).where(T.c.id > after).order_by(T.c.id).limit(PAGE)).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].id


def _digest_of(row: Any, prev: str) -> str:
    return row_digest(prev, row.at, row.actor, row.role, row.action, row.target,
                      dict(row.details or {}), row.ip)


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking the audit chain."""

    ok: bool
    rows: int
    head_id: int | None
    head_hash: str | None
    broken_id: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "head_id": self.head_id,
                "head_hash": self.head_hash, "broken_id": self.broken_id,
                "problem": self.problem}


def verify_chain(engine: Engine, *, anchor: tuple[int, str] | None = None) -> ChainReport:
    """Walk every audit row in id order; the first row whose hash or link is wrong.

    ``anchor`` (id, hash) is a head written down earlier: that row must still exist with
    that hash, which catches rows removed from the end since.
    """
    prev = GENESIS
    count = 0
    prev_id: int | None = None
    anchored = anchor is None
    with read_transaction(engine) as conn:
        for row in _rows(conn):
            count += 1
            if row.row_hash is None or row.prev_hash is None:
                return _broken(count, prev_id, prev, row.id, "row has no hash (written "
                               "outside the store, or its hash was removed)")
            if row.prev_hash != prev:
                where = f"row {prev_id}" if prev_id is not None else "the start of the chain"
                return _broken(count, prev_id, prev, row.id,
                               f"does not follow {where}: a row before it was removed, "
                               "inserted or edited")
            if _digest_of(row, prev) != row.row_hash:
                return _broken(count, prev_id, prev, row.id,
                               "content does not match its hash: the row was edited")
            if anchor is not None and row.id == anchor[0]:
                if row.row_hash != anchor[1].lower():
                    return _broken(count, prev_id, prev, row.id,
                                   "hash differs from the anchor written down earlier")
                anchored = True
            prev, prev_id = row.row_hash, row.id
    if not anchored:
        assert anchor is not None
        return ChainReport(False, count, prev_id, prev if prev_id else None, anchor[0],
                           f"anchor row {anchor[0]} is gone: rows were removed from the end")
    return ChainReport(True, count, prev_id, prev if prev_id is not None else None)


def _broken(count: int, prev_id: int | None, prev: str, row_id: int, problem: str
            ) -> ChainReport:
    return ChainReport(False, count, prev_id, prev if prev_id is not None else None,
                       row_id, problem)


def parse_anchor(text: str) -> tuple[int, str]:
    """``ID:SHA256HEX`` as (id, hash); raises ValueError with the reason."""
    row_id, _, digest = text.partition(":")
    try:
        if len(digest) != 64:
            raise ValueError
        int(digest, 16)
        return int(row_id), digest.lower()
    except ValueError:
        raise ValueError(f"anchor must be ID:SHA256HEX, got {text!r}") from None


def cli_verify(args: argparse.Namespace) -> int:
    """``compoundeye audit verify``: exit 0 when the chain is whole, 1 when not."""
    from compoundeye.settings import Settings
    from compoundeye.store.store import Store

    try:
        anchor = parse_anchor(args.anchor) if args.anchor else None
    except ValueError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    store = Store.from_settings(Settings())
    try:
        report = verify_chain(store.engine, anchor=anchor)
    finally:
        store.close()
    if args.json:
        sys.stdout.write(json.dumps(report.as_dict()) + "\n")
    elif report.ok:
        sys.stdout.write(f"audit chain intact: {report.rows} rows; head row {report.head_id} "
                         f"hash {report.head_hash}\n")
    else:
        sys.stdout.write(f"audit chain BROKEN at row {report.broken_id}: {report.problem}\n"
                         f"({report.rows} rows read; the last good row is {report.head_id})\n")
    return 0 if report.ok else 1
