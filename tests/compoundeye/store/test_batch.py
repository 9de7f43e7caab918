from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from compoundeye.store import NewAlert, Store
from compoundeye.store.batch import AlertBatch

T0 = datetime(2026, 11, 28, tzinfo=UTC)


def new(key: str, events: list[str], at: float = 0, cooldown: float | None = None) -> NewAlert:
    return NewAlert(rule="camera_offline", priority=3, source_type="camera", source_id="c1",
                    title="Camera offline: c1", dedupe_key=key,
                    event_at=T0 + timedelta(seconds=at), event_ids=events, cameras=["c1"],
                    cooldown=None if cooldown is None else timedelta(seconds=cooldown))


def test_batch_creates_merges_resolves_and_records_events(store: Store):
    with store.transaction() as conn:
        batch = AlertBatch(conn, {"k1", "k2"}, ["e1", "e2", "e3"])
        batch.upsert(new("k1", ["e1"]), ["e1"])
        batch.upsert(new("k1", ["e2"], at=5), ["e2"])
        batch.upsert(new("k2", ["e3"]), ["e3"])
        changes = batch.flush()
    assert [c.action for c in changes] == ["created", "updated", "created"]
    k1 = store.alerts.get(changes[0].alert.id)
    assert k1.count == 2 and k1.event_ids == ["e1", "e2"] and k1.open
    assert [h.action for h in k1.history] == ["created", "updated"]
    with store.transaction() as conn:
        batch = AlertBatch(conn, {"k1", "k2"}, ["e1", "e4", "e5"])
        assert batch.fresh(["e1", "e4"]) == ["e4"]
        assert batch.resolve("k1", ["e4"], "camera.online", detach_only=False) is not None
        assert batch.resolve("k2", ["e5"], "door.closed", detach_only=True) is not None
        assert batch.resolve("nothing", [], "x", detach_only=False) is None
        batch.flush()
    k1 = store.alerts.get(changes[0].alert.id)
    assert k1.status == "resolved" and not k1.open and k1.resolved_at is not None
    assert k1.history[-1].details == {"cause": "camera.online", "auto": True}
    k2 = store.alerts.get(changes[2].alert.id)
    assert k2.status == "new" and not k2.open and k2.history[-1].action == "cleared"
    with store.reading() as conn:
        count = conn.exec_driver_sql("SELECT count(*) FROM processed_events").scalar()
    assert count == 5


def test_cooldown_detaches_and_opens_a_new_alert_in_one_batch(store: Store):
    with store.transaction() as conn:
        batch = AlertBatch(conn, {"m"}, [])
        batch.upsert(new("m", ["a"], 0, cooldown=10), ["a"])
        batch.upsert(new("m", ["b"], 100, cooldown=10), ["b"])
        batch.flush()
    alerts = store.alerts.list()
    assert [(a.open, a.event_ids) for a in alerts] == [(True, ["b"]), (False, ["a"])]


def test_concurrent_batches_for_one_key_conflict_instead_of_duplicating(store: Store):
    with store.transaction() as conn:
        first = AlertBatch(conn, {"x"}, [])
        first.upsert(new("x", ["1"]), ["1"])
        first.flush()
    with pytest.raises(IntegrityError), store.transaction() as conn:
        stale = AlertBatch(conn, set(), [])  # did not see the open alert of "x"
        stale.upsert(new("x", ["2"]), ["2"])
        stale.flush()
    assert len(store.alerts.list()) == 1


def test_old_processed_ids_are_pruned(store: Store):
    from compoundeye.store import alerts as ops

    with store.transaction() as conn:
        ops.mark_processed(conn, [("old", None)], now=T0)
        ops.mark_processed(conn, [("new", None)], now=T0 + timedelta(days=10))
    with store.transaction() as conn:
        assert ops.prune_processed(conn, T0 + timedelta(days=1)) == 1
        assert ops.processed(conn, ["old", "new"]) == {"new"}
