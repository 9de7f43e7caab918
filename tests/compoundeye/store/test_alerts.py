from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from compoundeye.store import (
    AlertChange,
    AlertFilter,
    InvalidTransitionError,
    NewAlert,
    NotFoundError,
    Store,
)
from compoundeye.store import alerts as ops

T0 = datetime(2026, 11, 28, 1, 0, 0, tzinfo=UTC)


def new(key: str = "door.forced:d1", *, at: datetime = T0, event: str = "ev1",
        rule: str = "door.forced", source=("door", "d1"), cameras=("cam-1", "cam_2"),
        building: str = "B01", cooldown: timedelta | None = None) -> NewAlert:
    return NewAlert(
        rule=rule, priority=1, source_type=source[0], source_id=source[1],
        title=f"{rule} at {source[1]}", dedupe_key=key, event_at=at, building=building,
        location={"building": building, "floor": 0}, event_ids=[event],
        cameras=list(cameras), clip_start=at - timedelta(seconds=10),
        clip_end=at + timedelta(seconds=30), snapshot=None, cooldown=cooldown)


def test_create_and_get_round_trip_with_aware_times(store: Store):
    changes: list[Sequence[AlertChange]] = []
    store.alerts._on_change = changes.append
    created = store.alerts.create(new())
    got = store.alerts.get(created.id)
    assert got.status == "new" and got.open and got.count == 1
    assert got.cameras == ["cam-1", "cam_2"] and got.event_ids == ["ev1"]
    assert got.clip_start == T0 - timedelta(seconds=10)
    assert got.clip_start is not None and got.clip_start.tzinfo is not None
    assert got.created_at.tzinfo is not None and got.last_event_at == T0
    assert [h.action for h in got.history] == ["created"]
    assert got.history[0].actor == "system" and got.history[0].to_status == "new"
    assert [c[0].action for c in changes] == ["created"]
    as_json = got.as_dict()
    assert as_json["clip_start"] == "2026-11-28T00:59:50.000Z"
    assert as_json["source"] == {"type": "door", "id": "d1"}


def test_naive_datetime_is_refused(store: Store):
    bad = new()
    bad.clip_start = datetime(2026, 1, 1)
    with pytest.raises(Exception, match="naive"):
        store.alerts.create(bad)


def test_upsert_merges_into_open_alert_and_is_idempotent_per_event(store: Store):
    first = store.alerts.upsert(new(event="e1"), event_id="e1")
    again = store.alerts.upsert(new(event="e1"), event_id="e1")
    assert first is not None and again is None
    second = store.alerts.upsert(new(event="e2", at=T0 + timedelta(minutes=5)), event_id="e2")
    assert second is not None and second.action == "updated"
    assert second.alert.id == first.alert.id
    got = store.alerts.get(first.alert.id)
    assert got.count == 2 and got.event_ids == ["e1", "e2"]
    assert got.last_event_at == T0 + timedelta(minutes=5)
    assert got.clip_end == T0 + timedelta(minutes=5, seconds=30)
    assert [h.action for h in got.history] == ["created", "updated"]
    assert len(store.alerts.list()) == 1


def test_cooldown_passed_opens_a_new_alert(store: Store):
    cool = timedelta(seconds=120)
    a = store.alerts.upsert(new("motion:c1:z", event="m1", cooldown=cool))
    b = store.alerts.upsert(new("motion:c1:z", event="m2", at=T0 + timedelta(seconds=60),
                                cooldown=cool))
    c = store.alerts.upsert(new("motion:c1:z", event="m3", at=T0 + timedelta(seconds=400),
                                cooldown=cool))
    assert a and b and c
    assert b.alert.id == a.alert.id and c.alert.id != a.alert.id
    assert not store.alerts.get(a.alert.id).open
    assert store.alerts.get(c.alert.id).open


def test_lifecycle_ack_assign_note_resolve_with_history(store: Store):
    alert = store.alerts.create(new())
    store.alerts.ack(alert.id, "alice", note="looking")
    store.alerts.assign(alert.id, "bob", "alice")
    store.alerts.add_note(alert.id, "bob", "guard sent")
    done = store.alerts.resolve(alert.id, "bob", note="false alarm")
    assert done.status == "resolved" and done.resolved_at is not None and not done.open
    got = store.alerts.get(alert.id)
    assert got.assignee == "bob"
    assert [(h.action, h.actor, h.from_status, h.to_status) for h in got.history] == [
        ("created", "system", None, "new"),
        ("acknowledged", "alice", "new", "acknowledged"),
        ("assigned", "alice", "acknowledged", "acknowledged"),
        ("note", "bob", "acknowledged", "acknowledged"),
        ("resolved", "bob", "acknowledged", "resolved"),
    ]
    assert [n.text for n in got.notes] == ["guard sent"]
    with pytest.raises(InvalidTransitionError):
        store.alerts.ack(alert.id, "alice")
    with pytest.raises(InvalidTransitionError):
        store.alerts.resolve(alert.id, "alice")
    # a resolved alert no longer takes events: the same cause opens a new one
    fresh = store.alerts.upsert(new(event="later"))
    assert fresh is not None and fresh.action == "created" and fresh.alert.id != alert.id


def test_missing_alert_raises_not_found(store: Store):
    with pytest.raises(NotFoundError):
        store.alerts.get("nope")
    with pytest.raises(NotFoundError):
        store.alerts.ack("nope", "alice")


def test_list_filters_and_order(store: Store):
    a = store.alerts.create(new("k1", event="a"))
    b = store.alerts.create(new("k2", event="b", rule="camera.tamper", source=("camera", "cam_2"),
                                cameras=("cam_2",), building="B02"))
    c = store.alerts.create(new("k3", event="c", rule="motion.armed", source=("camera", "camX2"),
                                cameras=("camX2",), building="B02"))
    store.alerts.resolve(a.id, "alice")
    ids = [x.id for x in store.alerts.list()]
    assert ids == [c.id, b.id, a.id]
    assert [x.id for x in store.alerts.list(status="resolved")] == [a.id]
    assert [x.id for x in store.alerts.list(status=("new",))] == [c.id, b.id]
    assert [x.id for x in store.alerts.list(kind="camera.tamper")] == [b.id]
    assert [x.id for x in store.alerts.list(building="B02")] == [c.id, b.id]
    assert [x.id for x in store.alerts.list(door="d1")] == [a.id]
    # "_" is a LIKE wildcard: cam_2 must not match camX2
    assert [x.id for x in store.alerts.list(camera="cam_2")] == [b.id, a.id]
    assert [x.id for x in store.alerts.list(limit=1)] == [c.id]
    later = store.alerts.get(c.id).created_at
    assert c.id in [x.id for x in store.alerts.list(since=later)]
    assert c.id not in [x.id for x in store.alerts.list(until=later)]
    assert store.alerts.list(AlertFilter(since=later + timedelta(days=1))) == []


def test_batch_transaction_with_processed_events(store: Store):
    with store.transaction() as conn:
        assert ops.processed(conn, ["x1", "x2"]) == set()
        change = ops.upsert(conn, new("kb", event="x1"))
        ops.mark_processed(conn, [("x1", change.alert.id), ("x2", None)])
    with store.transaction() as conn:
        assert ops.processed(conn, ["x1", "x2", "x3"]) == {"x1", "x2"}


def test_failed_batch_rolls_back_everything(store: Store):
    with pytest.raises(RuntimeError), store.transaction() as conn:
        ops.upsert(conn, new("kr", event="r1"))
        ops.mark_processed(conn, [("r1", None)])
        raise RuntimeError("crash before commit")
    assert store.alerts.list() == []
    with store.transaction() as conn:
        assert ops.processed(conn, ["r1"]) == set()


def test_second_open_alert_for_same_key_is_refused_by_the_database(store: Store):
    store.alerts.upsert(new("dup", event="d1"))
    with pytest.raises(IntegrityError), store.transaction() as conn:
        ops.create(conn, new("dup", event="d2"))
