"""Retention by age and by free-disk floor; exports and other cameras are never touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from compoundeye.recordings import segment_path
from ingest.retention import Retention

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
