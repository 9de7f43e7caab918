"""The audit hash chain: intact after appends, broken at the first edited, removed or
forged row, and never forked by concurrent writers (threads and another process)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text

from compoundeye.store import Store, schema
from compoundeye.store.audit_chain import GENESIS, row_digest, verify_chain

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]


def _fill(store: Store, n: int = 6) -> list[int]:
    return [store.audit.record(f"user-{i}", "investigator", "recordings.search", f"t{i}",
                               {"i": i, "cameras": ["cam-1"], "note": "ü"}, "10.0.0.1",
                               at=T0 + timedelta(seconds=i)).id for i in range(n)]


def test_appends_make_an_intact_chain(store: Store) -> None:
    assert verify_chain(store.engine).as_dict() == {
        "ok": True, "rows": 0, "head_id": None, "head_hash": None, "broken_id": None,
        "problem": None}
    ids = _fill(store)
    report = verify_chain(store.engine)
    assert report.ok and report.rows == 6 and report.head_id == ids[-1]
    first = store.audit.list(limit=10)[-1]
    assert first.row_hash == row_digest(GENESIS, first.at, first.actor, first.role,
                                        first.action, first.target, first.details, first.ip)
    assert verify_chain(store.engine, anchor=(ids[2], store.audit.list(
        target="t2")[0].row_hash or "")).ok


def test_an_edited_row_is_named(store: Store) -> None:
    ids = _fill(store)
    with store.transaction() as conn:
        conn.execute(schema.audit.update().where(schema.audit.c.id == ids[3])
                     .values(actor="someone-else"))
    report = verify_chain(store.engine)
    assert not report.ok and report.broken_id == ids[3]
    assert "edited" in (report.problem or "") and report.head_id == ids[2]


def test_an_edit_that_rehashes_its_row_breaks_the_next_link(store: Store) -> None:
    ids = _fill(store)
    with store.transaction() as conn:
        row = conn.execute(select(schema.audit).where(schema.audit.c.id == ids[1])).one()
        forged = row_digest(row.prev_hash, row.at, row.actor, row.role, row.action, row.target,
                            {"i": 99}, row.ip)
        conn.execute(schema.audit.update().where(schema.audit.c.id == ids[1])
                     .values(details={"i": 99}, row_hash=forged))
    report = verify_chain(store.engine)
    assert not report.ok and report.broken_id == ids[2]
    assert "does not follow row" in (report.problem or "")


def test_a_removed_row_and_a_cut_tail_are_found(store: Store) -> None:
    ids = _fill(store)
    head = store.audit.list(limit=1)[0]
    with store.transaction() as conn:
        conn.execute(schema.audit.delete().where(schema.audit.c.id == ids[-1]))
    assert verify_chain(store.engine).ok  # a shorter chain is whole by itself...
    cut = verify_chain(store.engine, anchor=(head.id, head.row_hash or ""))
    assert not cut.ok and "removed from the end" in (cut.problem or "")  # ...not against a head
    with store.transaction() as conn:
        conn.execute(schema.audit.delete().where(schema.audit.c.id == ids[2]))
    report = verify_chain(store.engine)
    assert not report.ok and report.broken_id == ids[3]


def test_a_row_written_around_the_store_is_found(store: Store) -> None:
    ids = _fill(store, 2)
    with store.transaction() as conn:
        conn.execute(schema.audit.insert().values(at=T0, actor="x", role="admin",
                                                  action="forged", target="", details={}))
    report = verify_chain(store.engine)
    assert not report.ok and report.broken_id is not None and report.broken_id > ids[-1]
    assert "no hash" in (report.problem or "")


def test_concurrent_writers_never_fork_the_chain(store_factory, tmp_path: Path) -> None:
    """Two store instances in threads (two dashboard replicas) and a separate process
    (the CLI) append at once; every row follows exactly one other."""
    url, kwargs = store_factory
    stores = [Store(url, **kwargs) for _ in range(2)]
    per_writer = 40
    errors: list[BaseException] = []

    def write(store: Store, name: str) -> None:
        try:
            for i in range(per_writer):
                store.audit.record(name, "admin", "test.concurrent", str(i), {"i": i})
        except BaseException as exc:
            errors.append(exc)

    search_path = kwargs.get("connect_args", {}).get("options", "")
    script = (
        "import sys\n"
        "from compoundeye.store import Store\n"
        "kw = {'connect_args': {'options': sys.argv[2]}} if sys.argv[2] else {}\n"
        "s = Store(sys.argv[1], **kw)\n"
        f"for i in range({per_writer}):\n"
        "    s.audit.record('cli', 'cli', 'test.concurrent', str(i), {'i': i})\n"
        "s.close()\n")
    process = subprocess.Popen([sys.executable, "-c", script, url, str(search_path)],
                               cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    threads = [threading.Thread(target=write, args=(s, f"replica-{n}"))
               for n, s in enumerate(stores)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert process.wait(timeout=120) == 0
        assert errors == []
        report = verify_chain(stores[0].engine)
        assert report.ok, report
        assert report.rows == 3 * per_writer
        with stores[0].reading() as conn:
            prevs = conn.execute(text("SELECT prev_hash FROM audit")).scalars().all()
        assert len(set(prevs)) == len(prevs)  # no two rows chained onto the same one
    finally:
        if process.poll() is None:
            process.kill()
        for s in stores:
            s.close()
