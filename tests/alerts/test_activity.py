from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.activity import ActivityTracker
from detectors.activity import ActivityBaseline

MON = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday


def busy_hour(tracker: ActivityTracker, start: datetime, minutes: float) -> list[Any]:
    out = tracker.motion("c1", "lobby", start + timedelta(minutes=1), True)
    out += tracker.motion("c1", "lobby", start + timedelta(minutes=1 + minutes), False)
    return out


def test_finished_hours_are_learnt_and_an_unusual_hour_is_reported():
    tracker = ActivityTracker(ZoneInfo("UTC"))
    for week in range(6):
        assert busy_hour(tracker, MON + timedelta(weeks=week), 6) == []
        # the first event of the next hour closes this one
        tracker.motion("c1", "lobby", MON + timedelta(weeks=week, hours=1, minutes=30), False)
    baseline = tracker.baseline("c1")
    band = baseline.band("lobby", 10)
    assert band is not None and band[3] == 6 and abs(band[0] - 0.1) < 1e-9
    busy_hour(tracker, MON + timedelta(weeks=7), 50)
    found = tracker.motion("c1", "lobby", MON + timedelta(weeks=7, hours=2), False)
    unusual = [a for a in found if a.hour_of_week == 10]
    assert len(unusual) == 1 and unusual[0].direction == "high"
    saved = tracker.take_dirty()
    assert set(saved) == {"c1"} and tracker.take_dirty() == {}
    restored = ActivityBaseline.from_state("c1", saved["c1"])
    assert restored.band("lobby", 10) is not None


def test_baseline_loads_through_the_callable_and_survives_garbage():
    state = ActivityBaseline("c1")
    state.observe("lobby", 3, 0.5)
    good = ActivityTracker(ZoneInfo("UTC"), load=lambda cam: state.to_state())
    assert good.baseline("c1").band("lobby", 3) is not None
    bad = ActivityTracker(ZoneInfo("UTC"), load=lambda cam: {"x|y": "z"})
    assert bad.baseline("c1").band("lobby", 3) is None
