"""Hysteresis of the motion tracker: starts after N frames, ends after the off-delay."""

from __future__ import annotations

import pytest

from detectors.base import Box, MotionResult
from detectors.tracker import MotionTracker, TrackerConfig

FPS = 5.0


def result(fraction: float, zones: dict[str, float] | None = None, calibrating=False):
    boxes = (Box(0.1, 0.1, 0.1, 0.1),) if fraction > 0 else ()
    return MotionResult(boxes, fraction, calibrating, zones or {})


def test_tracker_starts_after_n_consecutive_frames_and_ends_after_off_delay():
    tracker = MotionTracker(TrackerConfig(start_frames=3, off_delay=2.0))
    seq = [0.05, 0.05, 0.0, 0.05, 0.05, 0.05, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    events = []
    for i, fraction in enumerate(seq):
        for t in tracker.update(result(fraction), i / FPS):
            events.append((t.zone, t.started, round(t.ts, 2)))
    # The run is broken at frame 2; the start is confirmed at frame 5 (the 3rd of frames
    # 3, 4, 5); the last motion is at frame 6 (1.2 s), so the end comes at 3.2 s.
    assert events[0] == ("*", True, 1.0)
    assert len(events) == 1  # the sequence ends at 2.6 s, before 1.2 + 2.0
    for i in range(14, 17):
        for t in tracker.update(result(0.0), i / FPS):
            events.append((t.zone, t.started, round(t.ts, 2)))
    assert events[1] == ("*", False, 3.2)
    assert tracker.active_zones() == []


def test_tracker_end_exactly_at_off_delay():
    tracker = MotionTracker(TrackerConfig(start_frames=1, off_delay=1.0))
    assert tracker.update(result(0.1), 10.0)[0].started
    assert tracker.update(result(0.0), 10.999) == []
    ended = tracker.update(result(0.0), 11.0)
    assert len(ended) == 1 and not ended[0].started and ended[0].peak_fraction == 0.1


def test_tracker_per_zone_transitions_and_peak():
    tracker = MotionTracker(TrackerConfig(start_frames=2, off_delay=1.0))
    out = []
    frames = [
        {"door": 0.2, "yard": 0.0},
        {"door": 0.4, "yard": 0.1},
        {"door": 0.3, "yard": 0.1},
        {"door": 0.0, "yard": 0.0},
        {"door": 0.0, "yard": 0.0},
        {"door": 0.0, "yard": 0.0},
        {"door": 0.0, "yard": 0.0},
        {"door": 0.0, "yard": 0.0},
        {"door": 0.0, "yard": 0.0},
    ]
    for i, zones in enumerate(frames):
        out += tracker.update(result(0.05 if any(zones.values()) else 0.0, zones), i / FPS)
    starts = {t.zone: t for t in out if t.started}
    ends = {t.zone: t for t in out if not t.started}
    assert set(starts) == {"*", "door", "yard"}
    assert starts["door"].ts == pytest.approx(0.2)
    assert starts["yard"].ts == pytest.approx(0.4)
    assert set(ends) == {"*", "door", "yard"}
    assert ends["door"].peak_fraction == pytest.approx(0.4)
    assert ends["door"].ts == pytest.approx(1.4)


def test_calibrating_frames_break_a_run_and_never_start_motion():
    tracker = MotionTracker(TrackerConfig(start_frames=2, off_delay=5.0))
    seq = [result(0.1), result(0.0, calibrating=True), result(0.1), result(0.0, calibrating=True)]
    assert [t for i, r in enumerate(seq) for t in tracker.update(r, i / FPS)] == []


def test_tracker_finish_ends_active_zones():
    tracker = MotionTracker(TrackerConfig(start_frames=1, off_delay=10.0))
    tracker.update(result(0.1, {"a": 0.3}), 0.0)
    ended = tracker.finish(1.0)
    assert {(t.zone, t.started) for t in ended} == {("*", False), ("a", False)}


def test_tracker_rejects_bad_config():
    with pytest.raises(ValueError):
        MotionTracker(TrackerConfig(start_frames=0))
    with pytest.raises(ValueError):
        MotionTracker(TrackerConfig(off_delay=-1))
