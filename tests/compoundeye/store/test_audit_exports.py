from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from compoundeye.store import NotFoundError, Store


def test_audit_record_and_filters(store: Store):
    t0 = datetime(2026, 11, 28, tzinfo=UTC)
    first = store.audit.record("alice", "operator", "alert.ack", "alert/1", {"note": "x"},
                               "127.0.0.1", at=t0)
    store.audit.record("carol", "investigator", "export.create", "export/9", at=t0
                       + timedelta(minutes=1))
    assert first.id > 0 and first.at == t0 and first.details == {"note": "x"}
    assert [e.actor for e in store.audit.list()] == ["carol", "alice"]
    assert [e.action for e in store.audit.list(actor="alice")] == ["alert.ack"]
    assert [e.actor for e in store.audit.list(role="investigator")] == ["carol"]
    assert [e.actor for e in store.audit.list(since=t0 + timedelta(seconds=30))] == ["carol"]
    assert [e.actor for e in store.audit.list(until=t0 + timedelta(seconds=30))] == ["alice"]
    assert store.audit.list(target="export/9")[0].role == "investigator"


def test_export_lifecycle(store: Store):
    request = {"camera_ids": ["cam-1"], "start": "2026-11-28T00:00:00Z"}
    rec = store.exports.create("carol", "CASE-1", "burglary", request)
    assert rec.status == "queued" and rec.progress == 0 and rec.request == request
    running = store.exports.update(rec.id, status="running", progress=40)
    assert running.status == "running" and running.progress == 40
    assert running.finished_at is None
    done = store.exports.update(rec.id, status="done", progress=100, manifest_path="/x/m.json")
    assert done.finished_at is not None and done.finished_at.tzinfo is not None
    assert store.exports.get(rec.id).manifest_path == "/x/m.json"
    failed = store.exports.create("dave", "CASE-2", "r", {})
    store.exports.update(failed.id, status="failed", error="no segments")
    assert [e.id for e in store.exports.list()] == [failed.id, rec.id]
    assert [e.id for e in store.exports.list(requester="carol")] == [rec.id]
    assert store.exports.list(status="failed")[0].error == "no segments"
    with pytest.raises(ValueError, match="status"):
        store.exports.update(rec.id, status="bogus")
    with pytest.raises(NotFoundError):
        store.exports.get("missing")
    with pytest.raises(NotFoundError):
        store.exports.update("missing", progress=3)
