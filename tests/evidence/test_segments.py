"""Segment helpers: the readable check, the PSI prefix and the keyframe start point."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from compoundeye.recordings import Segment, segment_path
from evidence.segments import (
    TS_PACKET,
    psi_prefix,
    segment_problem,
    start_point,
    video_keyframes,
)
from tests.evidence.conftest import GOP_SECONDS, T0


def _first(recorded: Path) -> Segment:
    path = segment_path(recorded / "recordings", "cam-door", T0 + timedelta(seconds=10))
    return Segment(path, T0 + timedelta(seconds=10), T0 + timedelta(seconds=20))


def test_readable_check(recorded: Path, tmp_path: Path) -> None:
    seg = _first(recorded)
    size, problem = segment_problem(seg.path)
    assert problem is None and size == seg.path.stat().st_size
    assert segment_problem(tmp_path / "missing.ts")[1] == "unreadable: No such file or directory"
    short = tmp_path / "short.ts"
    short.write_bytes(seg.path.read_bytes()[:300])
    assert segment_problem(short)[1] == "too short (300 bytes)"
    shifted = tmp_path / "shifted.ts"
    shifted.write_bytes(b"\x00" + seg.path.read_bytes()[:4000])
    assert "not MPEG-TS" in str(segment_problem(shifted)[1])
    link = tmp_path / "link.ts"
    os.symlink(seg.path, link)
    assert str(segment_problem(link)[1]).startswith("unreadable")


def test_psi_prefix_is_the_leading_tables(recorded: Path) -> None:
    head = _first(recorded).path.read_bytes()[:TS_PACKET * 16]
    prefix = psi_prefix(head)
    pids = [((prefix[i + 1] & 0x1F) << 8) | prefix[i + 2] for i in range(0, len(prefix), 188)]
    assert len(prefix) % TS_PACKET == 0
    assert 0 in pids and 0x11 in pids and len(pids) == 3  # SDT, PAT, PMT
    assert psi_prefix(b"\x00" * 188) == b""


def test_start_point_is_the_keyframe_at_or_before(recorded: Path) -> None:
    seg = _first(recorded)
    keys = video_keyframes(seg.path)
    assert keys[0][0] == 0.0 and len(keys) == pytest.approx(10 / GOP_SECONDS, abs=1)
    point = start_point(seg, seg.start + timedelta(seconds=3.4))
    assert point.wallclock == seg.start + timedelta(seconds=3)
    assert point.keyframe_forced and point.offset % TS_PACKET == 0 and point.offset > 0
    assert point.offset == next(pos for t, pos in keys if t == 3.0)
    exact = start_point(seg, seg.start + timedelta(seconds=3))
    assert exact.wallclock == seg.start + timedelta(seconds=3) and not exact.keyframe_forced
    before = start_point(seg, seg.start - timedelta(seconds=5))
    assert (before.offset, before.wallclock, before.prefix) == (0, seg.start, b"")
