"""Retention by age and by free-disk floor; exports, other cameras and recordings under a
legal hold are never touched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from compoundeye.events import Event, EventKind
from compoundeye.legal_holds import HeldWindows, HoldReader
from compoundeye.recordings import segment_path
from compoundeye.store import Store
from ingest.retention import ONLY_HELD_LEFT, FreeBytes, Retention

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def make_segments(root: Path, camera: str, start: datetime, count: int, step_s: int = 600,
                  size: int = 1000) -> list[Path]:
    paths = []
    for i in range(count):
        path = segment_path(root, camera, start + timedelta(seconds=i * step_s))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
        paths.append(path)
    return paths


def retention(tmp: Path, cameras: list[str], free=lambda _p: 10**15, **kw) -> Retention:
    args = {"recordings_days": 1.0, "snapshots_days": 2.0, "min_free_bytes": 0} | kw
    return Retention(tmp / "recordings", tmp / "snapshots", tmp / "exports", cameras,
                     free_bytes=free, **args)


def test_age_limit_removes_only_older_segments(tmp_path: Path) -> None:
    rec = tmp_path / "recordings"
    old = make_segments(rec, "cam1", NOW - timedelta(days=2), 6)
    new = make_segments(rec, "cam1", NOW - timedelta(hours=3), 6)
    other = make_segments(rec, "cam9", NOW - timedelta(days=3), 2)  # another worker's camera
    exports = tmp_path / "exports" / "case-1"
    exports.mkdir(parents=True)
    (exports / "master.ts").write_bytes(b"evidence")
    r = retention(tmp_path, ["cam1"])
    r.run_once(NOW)
    assert not any(p.exists() for p in old)
    assert all(p.exists() for p in new + other)
    assert (exports / "master.ts").read_bytes() == b"evidence"
    assert r.stats.segments_removed == 6 and r.stats.bytes_removed == 6000
    # Emptied day directories are pruned.
    assert not (rec / "cam1" / (NOW - timedelta(days=2)).strftime("%Y-%m-%d")).exists()


def test_free_disk_floor_removes_oldest_first_across_cameras(tmp_path: Path) -> None:
    rec = tmp_path / "recordings"
    a = make_segments(rec, "cam1", NOW - timedelta(hours=5), 30, step_s=300)
    b = make_segments(rec, "cam2", NOW - timedelta(hours=5, minutes=-2), 30, step_s=300)
    everything = sorted(a + b, key=lambda p: p.relative_to(rec).parts[1:])
    state = {"free": 0}

    def free(_p: Path) -> int:
        # Free space grows with every byte removed; the floor is reached after 40 segments.
        removed = sum(1 for p in a + b if not p.exists())
        return state["free"] + removed * 1000

    r = retention(tmp_path, ["cam1", "cam2"], free=free, recordings_days=30,
                  min_free_bytes=40_000)
    r.run_once(NOW)
    gone = [p for p in a + b if not p.exists()]
    assert 40 <= len(gone) < 60
    # What went is the oldest: every removed segment starts before every kept one.
    kept = [p for p in a + b if p.exists()]
    def key(p: Path) -> tuple[str, ...]:
        return p.relative_to(rec).parts[1:]

    assert max(key(p) for p in gone) < min(key(p) for p in kept)
    assert len(everything) == 60


def test_snapshots_expire_by_day(tmp_path: Path) -> None:
    snaps = tmp_path / "snapshots" / "cam1"
    for days_ago in (0, 1, 3, 5):
        day = (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%d")
        (snaps / day).mkdir(parents=True)
        (snaps / day / "e1.jpg").write_bytes(b"jpg")
    r = retention(tmp_path, ["cam1"])
    r.run_once(NOW)
    left = sorted(p.name for p in snaps.iterdir())
    assert left == [(NOW - timedelta(days=d)).strftime("%Y-%m-%d") for d in (1, 0)]
    assert r.stats.snapshots_removed == 2


def test_exports_inside_data_dir_are_protected_even_if_named_like_a_camera(tmp_path: Path) -> None:
    # A pathological layout: the exports dir *is* a camera directory. Nothing is removed.
    rec = tmp_path / "recordings"
    segs = make_segments(rec, "exports", NOW - timedelta(days=5), 3)
    r = Retention(rec, tmp_path / "snapshots", rec / "exports", ["exports"],
                  recordings_days=1, snapshots_days=1, min_free_bytes=10**18,
                  free_bytes=lambda _p: 0)
    r.run_once(NOW)
    assert all(p.exists() for p in segs)


# -- legal holds -------------------------------------------------------------------------

@pytest.fixture
def hold_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.close()


def _hold(store: Store, camera: str, start: datetime, end: datetime) -> str:
    return store.holds.place(case_id="CASE-1", reason="held for court", camera_ids=[camera],
                             start=start, end=end, actor="inv-1", role="investigator").id


def _shrinking_disk(paths: list[Path], size: int = 1000, base: int = 0) -> FreeBytes:
    def free(_p: Path) -> int:
        return base + sum(size for p in paths if not p.exists())
    return free


def test_a_held_window_survives_a_pass_forced_to_delete(tmp_path: Path,
                                                        hold_store: Store) -> None:
    rec = tmp_path / "recordings"
    start = NOW - timedelta(hours=5)
    segs = make_segments(rec, "cam1", start, 30, step_s=10)  # 300 s, oldest first
    other = make_segments(rec, "cam2", start, 10, step_s=10)
    held = segs[10:20]  # [start+100 s, start+200 s)
    _hold(hold_store, "cam1", start + timedelta(seconds=100), start + timedelta(seconds=195))
    alarms: list[Event] = []
    reader = HoldReader(hold_store.url, margin=timedelta(seconds=20))
    # Room is made only by freeing everything: more than the unheld segments hold.
    r = retention(tmp_path, ["cam1", "cam2"], free=_shrinking_disk(segs + other),
                  recordings_days=30, min_free_bytes=10**9, holds=reader,
                  alarm=alarms.append, worker_id="edge-7")
    try:
        r.run_once(NOW)
    finally:
        reader.close()
    # With a 20 s margin the segment starting 20 s before the window goes too; the one
    # starting 10 s before may run into it and is kept.
    kept = segs[9:20]
    assert all(p.exists() for p in kept)
    assert not any(p.exists() for p in segs[:9] + segs[20:] + other)
    assert r.stats.segments_held == len(kept) and held[0] in kept
    (event,) = alarms
    assert event.kind is EventKind.RETENTION_BLOCKED
    assert event.source.type == "worker" and event.source.id == "edge-7"
    assert event.attrs["held_segments"] == len(kept)
    assert event.attrs["held_bytes"] == 1000 * len(kept)
    assert event.attrs["reason"] == ONLY_HELD_LEFT and r.blocked == ONLY_HELD_LEFT
    r.run_once(NOW)  # still blocked: said once, not again every pass
    assert len(alarms) == 1


def test_unheld_older_segments_go_first(tmp_path: Path, hold_store: Store) -> None:
    rec = tmp_path / "recordings"
    start = NOW - timedelta(hours=5)
    segs = make_segments(rec, "cam1", start, 60, step_s=10)
    _hold(hold_store, "cam1", start, start + timedelta(seconds=95))  # the 10 oldest
    reader = HoldReader(hold_store.url, margin=timedelta(seconds=20))
    alarms: list[Event] = []
    r = retention(tmp_path, ["cam1"], free=_shrinking_disk(segs), recordings_days=30,
                  min_free_bytes=16_000, holds=reader, alarm=alarms.append)
    try:
        r.run_once(NOW)
    finally:
        reader.close()
    gone = [i for i, p in enumerate(segs) if not p.exists()]
    assert gone == list(range(10, 26))  # the 16 oldest unheld, nothing held, nothing newer
    assert alarms == [] and r.blocked is None


def test_held_segments_outlive_the_age_limit(tmp_path: Path, hold_store: Store) -> None:
    rec = tmp_path / "recordings"
    old_start = NOW - timedelta(days=3)
    old = make_segments(rec, "cam1", old_start, 6, step_s=600)
    _hold(hold_store, "cam1", old_start + timedelta(minutes=20),
          old_start + timedelta(minutes=35))
    reader = HoldReader(hold_store.url, margin=timedelta(seconds=20))
    r = retention(tmp_path, ["cam1"], holds=reader)
    try:
        r.run_once(NOW)
    finally:
        reader.close()
    assert [p.exists() for p in old] == [False, False, True, True, False, False]
    assert r.stats.segments_held == 2


def test_unreadable_holds_delete_nothing_and_say_so(tmp_path: Path) -> None:
    rec = tmp_path / "recordings"
    segs = make_segments(rec, "cam1", NOW - timedelta(days=3), 6, step_s=600)

    def broken(_cameras: list[str]) -> HeldWindows:
        raise ConnectionError("store down")

    alarms: list[Event] = []
    r = retention(tmp_path, ["cam1"], free=lambda _p: 0, min_free_bytes=1000, holds=broken,
                  alarm=alarms.append)
    r.run_once(NOW)
    assert all(p.exists() for p in segs)
    assert r.stats.holds_unreadable == 1
    (event,) = alarms
    assert event.kind is EventKind.RETENTION_BLOCKED
    assert "legal holds unreadable" in event.attrs["reason"]


def test_room_again_clears_the_block(tmp_path: Path, hold_store: Store) -> None:
    rec = tmp_path / "recordings"
    start = NOW - timedelta(hours=1)
    segs = make_segments(rec, "cam1", start, 5, step_s=10)
    hold_id = _hold(hold_store, "cam1", start, start + timedelta(seconds=50))
    reader = HoldReader(hold_store.url, margin=timedelta(seconds=20))
    alarms: list[Event] = []
    r = retention(tmp_path, ["cam1"], free=_shrinking_disk(segs), recordings_days=30,
                  min_free_bytes=3000, holds=reader, alarm=alarms.append)
    try:
        r.run_once(NOW)
        assert [e.kind for e in alarms] == [EventKind.RETENTION_BLOCKED]
        hold_store.holds.release(hold_id, actor="admin-1", role="admin", reason="closed")
        r.run_once(NOW)
    finally:
        reader.close()
    assert [e.kind for e in alarms] == [EventKind.RETENTION_BLOCKED, EventKind.RETENTION_OK]
    # free space is checked every 16 removals, so all five unheld segments went
    assert not any(p.exists() for p in segs) and r.blocked is None


def test_holds_are_read_only_when_something_would_be_deleted(tmp_path: Path) -> None:
    rec = tmp_path / "recordings"
    make_segments(rec, "cam1", NOW - timedelta(hours=1), 3)
    asked: list[list[str]] = []

    def holds(cameras: list[str]) -> HeldWindows:
        asked.append(cameras)
        return HeldWindows()

    r = retention(tmp_path, ["cam1"], min_free_bytes=1000, holds=holds)  # plenty free, young
    r.run_once(NOW)
    assert asked == []
    make_segments(rec, "cam1", NOW - timedelta(days=3), 2)
    r.run_once(NOW)
    assert asked == [["cam1"]]  # once per pass, however many segments it asks about
