"""Wall-clock placement of one ffmpeg run's segments (ingest.segment_clock)."""

from __future__ import annotations

from datetime import UTC, datetime

from ingest.segment_clock import SegmentClock

T0 = 1_800_000_000.0  # wall time (Unix s) at which the run's stream time is zero


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def test_segments_start_at_the_anchor_plus_their_stream_time() -> None:
    clock = SegmentClock()
    # ffmpeg probed for 3 s: the first segment (0-5.3 s of stream) is reported when the
    # stream reaches 5.3 s, at wall T0 + 5.3 (+ delivery delay).
    assert clock.place(0.0, 5.3, T0 + 5.35) == _at(0.05)
    assert clock.place(5.3, 9.3, T0 + 9.32) == _at(5.32)  # the smaller delay wins
    assert clock.place(9.3, 13.3, T0 + 13.6) == _at(9.32)  # a late report changes nothing
    assert clock.jumps == 0
    assert clock.next_start == _at(13.32)


def test_a_forward_jump_of_the_camera_clock_keeps_segments_in_wall_order() -> None:
    clock = SegmentClock()
    clock.place(0.0, 4.0, T0 + 4.0)
    clock.place(4.0, 8.0, T0 + 8.0)
    # NTP step: the camera's clock leaps 3600 s ahead inside the third segment.
    third = clock.place(8.0, 3612.0, T0 + 12.0)
    assert third == _at(8.0) and clock.jumps == 1  # starts where the previous one ended
    assert clock.last_jump_seconds == 3600.0
    assert clock.place(3612.0, 3616.0, T0 + 16.0) == _at(12.0)


def test_names_never_repeat_within_a_run() -> None:
    clock = SegmentClock()
    first = clock.place(0.0, 0.2, T0 + 0.2)
    second = clock.place(0.2, 0.6, T0 + 0.6)
    assert (second - first).total_seconds() >= 1.0


def test_a_late_report_is_not_a_clock_jump() -> None:
    clock = SegmentClock()
    clock.place(0.0, 4.0, T0 + 7.0)  # ffmpeg was 3 s behind when it reported
    # Caught up: the smaller anchor wins, the segment starts at its true wall time.
    assert clock.place(4.0, 8.0, T0 + 8.0) == _at(4.0)
    assert clock.jumps == 0
