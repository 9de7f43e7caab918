"""The recordings layout: paths, parsing, listing a window, gaps and coverage, path safety."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from compoundeye.recordings import (
    Interval,
    Segment,
    UnsafePathError,
    camera_dir,
    covered,
    gaps,
    list_segments,
    parse_segment_start,
    segment_path,
    segment_relpath,
)

T0 = datetime(2026, 11, 3, 21, 59, 30, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(root: Path, camera: str, starts: list[float]) -> None:
    for s in starts:
        path = segment_path(root, camera, at(s))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x47" * 188)


def test_segment_path_is_utc_layout() -> None:
    singapore = timezone(timedelta(hours=8))
    local = datetime(2026, 11, 4, 5, 59, 30, tzinfo=singapore)
    assert segment_relpath("B001-ent1", local) == Path("B001-ent1/2026-11-03/21/59.30.ts")
    expected = Path("/data/rec/cam/2026-11-03/21/59.30.ts")
    assert segment_path(Path("/data/rec"), "cam", T0) == expected
    with pytest.raises(ValueError, match="aware"):
        segment_relpath("cam", datetime(2026, 11, 3, 21, 59, 30))


def test_parse_segment_start_round_trips_and_refuses_strangers() -> None:
    path = Path("/data/rec") / segment_relpath("cam", T0)
    assert parse_segment_start(path) == T0
    for bad in ["cam/2026-11-03/21/59.30.mp4", "cam/2026-11-03/21/x.ts",
                "cam/2026-13-03/21/59.30.ts", "cam/2026-11-03/25/59.30.ts",
                "cam/20261103/21/59.30.ts", "cam/2026-11-03/21/61.30.ts"]:
        assert parse_segment_start(Path(bad)) is None, bad


@pytest.mark.parametrize("bad", ["../x", "..", ".", "a/b", "/etc", "/", "", "a/../../b", "x\x00"])
def test_camera_dir_refuses_traversal(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UnsafePathError):
        camera_dir(tmp_path, bad)
    with pytest.raises(UnsafePathError):
        segment_path(tmp_path, bad, T0)
    with pytest.raises(UnsafePathError):
        list_segments(tmp_path, bad, T0, at(10))


def test_camera_dir_refuses_a_symlink_leaving_the_root(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    root.mkdir()
    (root / "evil").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError):
        camera_dir(root, "evil")
    assert camera_dir(root, "B001-ent1") == (root / "B001-ent1").resolve()


def test_list_segments_over_an_hour_boundary(tmp_path: Path) -> None:
    # Segments every 10 s from 21:59:30 to 22:00:50, missing 22:00:10 and 22:00:20.
    record(tmp_path, "cam", [0, 10, 20, 30, 60, 70, 80])
    record(tmp_path, "other", [0, 10])
    (tmp_path / "cam" / "2026-11-03" / "21" / "notes.txt").write_text("not a segment")
    segments = list_segments(tmp_path, "cam", at(5), at(75))
    assert [s.start for s in segments] == [at(s) for s in (0, 10, 20, 30, 60, 70)]
    assert segments[0].end == at(10)
    assert segments[3].end == at(40)  # next start is 30 s later: nominal length
    assert all(s.path.exists() for s in segments)
    assert list_segments(tmp_path, "cam", at(41), at(59)) == []
    assert list_segments(tmp_path, "nobody", at(0), at(60)) == []
    with pytest.raises(ValueError, match="aware"):
        list_segments(tmp_path, "cam", datetime(2026, 11, 3), at(10))


def test_segment_starting_before_the_window_is_included(tmp_path: Path) -> None:
    record(tmp_path, "cam", [0])
    (segment,) = list_segments(tmp_path, "cam", at(9), at(20))
    assert segment.start == at(0)


def test_gaps_and_covered_are_complements(tmp_path: Path) -> None:
    record(tmp_path, "cam", [0, 10, 20, 30, 60, 70, 80])
    start, end = at(5), at(100)
    segments = list_segments(tmp_path, "cam", start, end)
    holes = gaps(segments, start, end)
    assert holes == [Interval(at(40), at(60)), Interval(at(90), at(100))]
    spans = covered(segments, start, end)
    assert spans == [Interval(at(5), at(40)), Interval(at(60), at(90))]
    assert sum(i.seconds for i in holes + spans) == (end - start).total_seconds()


def test_a_segment_cut_short_before_a_gap_ends_at_its_stamped_mtime(tmp_path: Path) -> None:
    record(tmp_path, "cam", [0, 10, 20, 40])
    short = segment_path(tmp_path, "cam", at(20))
    os.utime(short, (at(23).timestamp(), at(23).timestamp()))  # what the recorder stamps
    start, end = at(0), at(50)
    segments = list_segments(tmp_path, "cam", start, end)
    assert [s.end for s in segments] == [at(10), at(20), at(23), at(50)]
    assert gaps(segments, start, end) == [Interval(at(23), at(40))]
    # An mtime outside the segment's nominal span (a copy, a file written later) says
    # nothing of its end: one nominal length, as before.
    os.utime(short, (at(3600).timestamp(), at(3600).timestamp()))
    later = list_segments(tmp_path, "cam", start, end)
    assert later[2].end == at(30)


def test_gaps_ignore_small_jitter_and_cover_empty_windows() -> None:
    segs = [Segment(Path("a"), at(0), at(10)), Segment(Path("b"), at(10.5), at(20))]
    assert gaps(segs, at(0), at(20)) == []
    assert gaps(segs, at(0), at(20), tolerance_seconds=0.1) == [Interval(at(10), at(10.5))]
    assert gaps([], at(0), at(30)) == [Interval(at(0), at(30))]
    assert covered([], at(0), at(30)) == []
    assert covered(segs, at(0), at(20)) == [Interval(at(0), at(20))]
