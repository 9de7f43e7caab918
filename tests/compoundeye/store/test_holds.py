"""Legal holds: placed and released with their audit rows, listed, read by retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from compoundeye.store import InvalidTransitionError, NotFoundError, Store
from compoundeye.store.audit_chain import verify_chain

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def _place(store: Store, case: str = "CASE-7", cameras: tuple[str, ...] = ("cam-1", "cam-2"),
           minutes: int = 10) -> str:
    return store.holds.place(case_id=case, reason="burglary", camera_ids=list(cameras),
                             start=T0, end=T0 + timedelta(minutes=minutes),
                             actor="inv-1", role="investigator", ip="10.0.0.9").id


def test_place_list_release_each_audited(store: Store) -> None:
    hold_id = _place(store)
    other = _place(store, case="CASE-8", cameras=("cam-3",))
    hold = store.holds.get(hold_id)
    assert hold.active and hold.camera_ids == ("cam-1", "cam-2")
    assert hold.start == T0 and hold.placed_by == "inv-1"
    assert [h.id for h in store.holds.list(case_id="CASE-7")] == [hold_id]
    assert [h.id for h in store.holds.list(camera_id="cam-3")] == [other]
    (placed,) = store.audit.list(action="hold.place", target=hold_id)
    assert placed.actor == "inv-1" and placed.ip == "10.0.0.9"
    assert placed.details["camera_ids"] == ["cam-1", "cam-2"]
    released = store.holds.release(hold_id, actor="admin-1", role="admin", reason="case closed")
    assert not released.active and released.released_by == "admin-1"
    assert released.release_reason == "case closed"
    (row,) = store.audit.list(action="hold.release", target=hold_id)
    assert row.details["release_reason"] == "case closed" and row.actor == "admin-1"
    assert [h.id for h in store.holds.list(active=True)] == [other]
    assert [h.id for h in store.holds.list(active=False)] == [hold_id]
    with pytest.raises(InvalidTransitionError):
        store.holds.release(hold_id, actor="admin-1", role="admin", reason="again")
    with pytest.raises(NotFoundError):
        store.holds.release("nope", actor="admin-1", role="admin", reason="x")
    assert verify_chain(store.engine).ok


def test_bad_holds_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="camera"):
        store.holds.place(case_id="c", reason="r", camera_ids=[], start=T0,
                          end=T0 + timedelta(minutes=1), actor="a", role="admin")
    with pytest.raises(ValueError, match="end"):
        store.holds.place(case_id="c", reason="r", camera_ids=["cam-1"], start=T0, end=T0,
                          actor="a", role="admin")
    assert store.holds.list() == [] and store.audit.list() == []


def test_held_windows_are_the_active_holds_of_the_cameras_asked(store: Store) -> None:
    _place(store)
    gone = _place(store, cameras=("cam-9",))
    store.holds.release(gone, actor="admin-1", role="admin", reason="done")
    held = store.holds.held_windows(["cam-1", "cam-9"], margin=timedelta(seconds=20))
    assert set(held.windows) == {"cam-1"}
    assert held.held("cam-1", T0 + timedelta(minutes=5))
    assert held.held("cam-1", T0 - timedelta(seconds=15))  # runs into the window
    assert not held.held("cam-1", T0 - timedelta(seconds=20))
    assert not held.held("cam-1", T0 + timedelta(minutes=10))
    assert not held.held("cam-2", T0 + timedelta(minutes=5))  # not asked for
    assert not held.held("cam-9", T0 + timedelta(minutes=5))  # released
