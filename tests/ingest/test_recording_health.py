"""Recording health from finished segments: the state machine on a fake clock."""

from __future__ import annotations

from compoundeye.camera_status import RecordingState
from compoundeye.events import EventKind
from ingest.recording_health import RECORD_FALSE, RecorderReading, RecordingHealth

SEGMENT = 4.0
GRACE = 5.0
T0 = 1_000_000.0


def _health(**kwargs: object) -> RecordingHealth:
    return RecordingHealth(SEGMENT, GRACE, T0, **kwargs)  # type: ignore[arg-type]


def _state(health: RecordingHealth) -> RecordingState:
    return health.state  # read through a call: the state changes between assertions


def test_starting_until_the_first_segment_is_overdue_then_failing_once() -> None:
    health = _health()
    assert health.observe(RecorderReading(T0 + 12.9, 0, None)) is None
    assert _state(health) is RecordingState.STARTING
    failed = health.observe(RecorderReading(T0 + 13.5, 0, None, "not found (404)"))
    assert failed is not None and failed.kind is EventKind.CAMERA_RECORDING_FAILED
    assert failed.reason.startswith("not found (404): no segment finished since")
    assert _state(health) is RecordingState.FAILING and health.since == T0 + 13.5
    # Still failing later, even with another reason: no second event.
    assert health.observe(RecorderReading(T0 + 30, 0, None, "unauthorized (401)")) is None
    assert health.reason.startswith("unauthorized (401)")
    assert _state(health) is RecordingState.FAILING and health.since == T0 + 13.5


def test_a_finished_segment_recovers_and_is_announced() -> None:
    health = _health()
    health.observe(RecorderReading(T0 + 20, 0, None))
    ok = health.observe(RecorderReading(T0 + 25, 1, T0 + 24))
    assert ok is not None and ok.kind is EventKind.CAMERA_RECORDING_OK
    assert _state(health) is RecordingState.OK and health.reason == ""
    assert health.observe(RecorderReading(T0 + 27, 1, T0 + 24)) is None


def test_segments_that_stop_make_it_fail_after_two_lengths_plus_grace() -> None:
    health = _health()
    assert health.observe(RecorderReading(T0 + 5, 1, T0 + 4)) is None  # first segment: no news
    assert _state(health) is RecordingState.OK
    assert health.observe(RecorderReading(T0 + 4 + 13, 1, T0 + 4)) is None
    failed = health.observe(RecorderReading(T0 + 4 + 13.1, 1, T0 + 4, "invalid data"))
    assert failed is not None and failed.reason.startswith("invalid data: no segment finished (")


def test_a_running_ffmpeg_that_writes_nothing_is_failing() -> None:
    # Nothing in the reading says whether ffmpeg runs: only segments count.
    health = _health()
    failed = health.observe(RecorderReading(T0 + 60, 0, None, ""))
    assert failed is not None and "no segment finished since the recorder started" in failed.reason


def test_disabled_cameras_never_fail() -> None:
    health = _health(disabled_reason=RECORD_FALSE)
    assert health.observe(RecorderReading(T0 + 600, 0, None)) is None
    assert _state(health) is RecordingState.DISABLED and health.reason == RECORD_FALSE


def test_a_failure_left_by_an_earlier_run_is_not_repeated_but_its_end_is_told() -> None:
    health = _health(previous=RecordingState.FAILING)
    assert health.observe(RecorderReading(T0 + 60, 0, None)) is None
    assert _state(health) is RecordingState.FAILING
    ok = health.observe(RecorderReading(T0 + 64, 1, T0 + 63))
    assert ok is not None and ok.kind is EventKind.CAMERA_RECORDING_OK


def test_a_reason_never_carries_a_password() -> None:
    health = _health()
    failed = health.observe(RecorderReading(T0 + 60, 0, None, "rtsp://u:hunter2@cam/x: 401"))
    assert failed is not None and "hunter2" not in failed.reason and "u:***@" in failed.reason
