"""Health mode's choices: which keyframes to decode, which cameras are in which mode."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from compoundeye.site.models import Site
from ingest.health import GOP_WARMUP, KeyframeGate
from ingest.modes import ModeSchedule, expected_sample_fps

SHANGHAI = ZoneInfo("Asia/Shanghai")
GOP = 30  # frames: 2 s at 15 fps


def run_gate(gate: KeyframeGate, seconds: float, *, p_bytes: int = 5000, i_bytes: int = 40000,
             start: float = 0.0, urgent: bool = False) -> list[float]:
    """Feed a 15 fps stream with a 2 s GOP; the keyframe times the gate decodes."""
    decoded = []
    for n in range(round(seconds * 15)):
        ts = start + n / 15
        key = n % GOP == 0
        gate.packet(i_bytes if key else p_bytes, key)
        if key and gate.due(ts, urgent):
            decoded.append(round(ts, 3))
    return decoded


def test_one_keyframe_per_interval_then_every_one_while_confirming() -> None:
    gate = KeyframeGate(interval=4.0)
    assert run_gate(gate, 20) == [0, 4, 8, 12, 16]
    assert gate.stats.keyframes == 10 and gate.stats.decoded == 5
    assert run_gate(gate, 6, start=20, urgent=True) == [20, 22, 24]
    assert gate.stats.by_confirmation == 2  # 20 was due by the interval anyway


def test_a_gop_much_smaller_or_larger_than_usual_makes_the_next_keyframe_due() -> None:
    gate = KeyframeGate(interval=8.0, bitrate_change=2.0)
    assert GOP_WARMUP < 8
    assert run_gate(gate, 18) == [0, 8, 16]
    # A covered lens from 18 s: the frames collapse to a few hundred bytes.
    looked = run_gate(gate, 4, start=18, p_bytes=200, i_bytes=4000)
    assert looked == [20.0]  # the keyframe after the first small GOP, not the one at 24
    assert gate.stats.by_bitrate == 1


def test_slack_keeps_a_short_gop_on_schedule() -> None:
    gate = KeyframeGate(interval=4.0)
    times = [n * 4 / 3 for n in range(10)]  # a 1.33 s GOP
    decoded = []
    for t in times:
        gate.packet(1)
        if gate.due(t):
            decoded.append(t)
    assert [round(t, 2) for t in decoded] == [0.0, 4.0, 8.0, 12.0]


def test_gate_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        KeyframeGate(interval=0)
    with pytest.raises(ValueError):
        KeyframeGate(interval=4, bitrate_change=1.0)


class FakeClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def site() -> Site:
    loc = {"building": "B1", "lat": 31.11, "lon": 121.38}
    zone = {"name": "door", "armed_schedule": "night",
            "polygon": [[0, 0], [1, 0], [1, 1]]}
    return Site.model_validate({
        "timezone": "Asia/Shanghai",
        "schedules": {"night": {"ranges": [{"start": "22:00", "end": "06:00"}]}},
        "edge": {"detect_mode": "armed"},
        "cameras": [
            {"id": "ent", "main_url": "rtsp://x/ent", "location": loc, "zones": [zone]},
            {"id": "lift", "main_url": "rtsp://x/lift", "location": loc,
             "detect_mode": "health"},
            {"id": "lobby", "main_url": "rtsp://x/lobby", "location": loc},
        ]})


def test_mode_schedule_follows_the_armed_schedule_in_local_time() -> None:
    s = site()
    clock = FakeClock(datetime(2026, 11, 27, 21, 59, tzinfo=SHANGHAI))
    modes = ModeSchedule(s, s.cameras, clock)
    assert [modes.can_switch(c) for c in s.cameras] == [True, True, False]
    assert modes.initial() == {"ent": "health", "lift": "health"}
    assert modes.changes() == {}
    clock.at += timedelta(minutes=1)  # 22:00 Shanghai: the entrance is armed
    assert modes.changes() == {"ent": "full"}
    assert modes.changes() == {}
    clock.at = datetime(2026, 11, 28, 6, 0, tzinfo=SHANGHAI)
    assert modes.changes() == {"ent": "health"}


def test_health_mode_expects_no_sampled_frame_rate() -> None:
    assert expected_sample_fps(5.0, "health", 0.0, 100.0) == 0.0
    assert expected_sample_fps(5.0, "full", 98.0, 100.0) == 0.0  # just switched
    assert expected_sample_fps(5.0, "full", 0.0, 100.0) == 5.0


def test_the_status_record_carries_the_mode_and_old_hashes_read_as_full() -> None:
    from compoundeye.camera_status import CameraState, CameraStatusReport, WatchMode

    report = CameraStatusReport(status=CameraState.ONLINE, mode=WatchMode.HEALTH)
    written = report.to_hash()
    assert written["mode"] == "health"
    assert CameraStatusReport.from_hash(written).mode is WatchMode.HEALTH
    del written["mode"]  # a worker from before health mode
    assert CameraStatusReport.from_hash(written).mode is WatchMode.FULL
