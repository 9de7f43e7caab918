"""Activity baseline: online statistics per zone and hour of week, warm-up, persistence."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compoundeye.names import activity_key
from detectors.activity import ActivityBaseline, ActivityConfig, hour_of_week


def test_hour_of_week_counts_from_monday_midnight():
    assert hour_of_week(datetime(2026, 3, 2, 0, 0, tzinfo=UTC)) == 0  # a Monday
    assert hour_of_week(datetime(2026, 3, 8, 23, 59, tzinfo=UTC)) == 167  # Sunday
    hk = timezone(timedelta(hours=8))
    assert hour_of_week(datetime(2026, 3, 2, 0, 30, tzinfo=UTC).astimezone(hk)) == 8
    with pytest.raises(ValueError, match="timezone-aware"):
        hour_of_week(datetime(2026, 3, 2))


def test_mean_and_variance_match_the_batch_formulas():
    values = [0.10, 0.14, 0.08, 0.12, 0.11, 0.09]
    baseline = ActivityBaseline("cam1", ActivityConfig(max_weight=100))
    for v in values:
        baseline.observe("gate", 10, v)
    band = baseline.band("gate", 10)
    assert band is not None
    expected, low, high, samples = band
    assert samples == 6
    assert expected == pytest.approx(statistics.fmean(values))
    spread = max(statistics.pstdev(values), 0.02, 0.15 * expected)
    assert high - expected == pytest.approx(4.0 * spread)
    assert expected - low == pytest.approx(4.0 * spread)


def test_no_anomaly_before_warm_up_then_high_and_low_anomalies():
    baseline = ActivityBaseline("cam1", ActivityConfig(min_samples=4))
    for week, v in enumerate([0.20, 0.22, 0.18]):
        assert baseline.check("yard", 50, 0.95) is None, f"week {week}: still warming up"
        baseline.observe("yard", 50, v)
    assert baseline.check("yard", 50, 0.95) is None  # 3 samples < 4
    baseline.observe("yard", 50, 0.21)
    high = baseline.check("yard", 50, 0.95)
    assert high is not None and high.direction == "high"
    assert high.observed == 0.95 and high.expected == pytest.approx(0.2025)
    assert high.samples == 4 and high.low < high.expected < high.high < 0.95
    low = baseline.check("yard", 50, 0.0)
    assert low is not None and low.direction == "low"
    assert baseline.check("yard", 50, 0.21) is None
    # Other slots and zones are independent.
    assert baseline.check("yard", 51, 0.95) is None
    assert baseline.check("door", 50, 0.95) is None


def test_exactly_at_the_band_edge_is_normal():
    baseline = ActivityBaseline("cam1", ActivityConfig(min_samples=2))
    for v in (0.5, 0.5, 0.5):
        baseline.observe("z", 0, v)
    band = baseline.band("z", 0)
    assert band is not None
    _, low, high, _ = band
    assert baseline.check("z", 0, high) is None
    assert baseline.check("z", 0, low) is None
    assert baseline.check("z", 0, math.nextafter(high, 2.0)) is not None


def test_old_weeks_fade_after_max_weight():
    baseline = ActivityBaseline("cam1", ActivityConfig(max_weight=4, min_samples=2))
    for _ in range(10):
        baseline.observe("z", 3, 0.1)
    for _ in range(20):
        baseline.observe("z", 3, 0.6)  # the place got busier
    band = baseline.band("z", 3)
    assert band is not None and band[0] == pytest.approx(0.6, abs=0.01)
    assert baseline.check("z", 3, 0.6) is None


def test_state_round_trip_through_strings_and_bytes():
    baseline = ActivityBaseline("cam1")
    for i in range(30):
        baseline.observe("gate", i % 168, 0.01 * i)
        baseline.observe("lobby", (i * 7) % 168, 1.0 / (i + 1))
    state = baseline.to_state()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in state.items())
    restored = ActivityBaseline.from_state("cam1", state)
    as_bytes = {k.encode(): v.encode() for k, v in state.items()}
    restored_bytes = ActivityBaseline.from_state("cam1", as_bytes)
    for zone in ("gate", "lobby"):
        for how in range(168):
            assert restored.band(zone, how) == baseline.band(zone, how)
            assert restored_bytes.band(zone, how) == baseline.band(zone, how)
    assert restored.to_state() == state


@pytest.mark.parametrize(
    "state",
    [
        {"gate": "10:1,2"},
        {"gate": "999:1,0.5,0.0"},
        {"gate": "10=1,0.5,0.0"},
        {"gate": "10:x,0.5,0.0"},
        {"gate": "10:1,0.5,-1"},
        {"gate": "10:1,nan,0"},
        {"a|b": "10:1,0.5,0.0"},
        {"_v": "99"},
    ],
)
def test_malformed_state_is_a_clear_error(state):
    with pytest.raises(ValueError, match="activity state"):
        ActivityBaseline.from_state("cam1", state)


def test_bad_observations_are_rejected():
    baseline = ActivityBaseline("cam1")
    with pytest.raises(ValueError, match=r"0\.\.167"):
        baseline.observe("z", 168, 0.1)
    with pytest.raises(ValueError, match="finite"):
        baseline.observe("z", 0, float("nan"))
    with pytest.raises(ValueError, match="zone"):
        baseline.observe("a|b", 0, 0.1)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=60))
def test_welford_is_stable_and_round_trips(values):
    baseline = ActivityBaseline("cam", ActivityConfig(max_weight=1000))
    for v in values:
        baseline.observe("z", 0, v)
    band = baseline.band("z", 0)
    assert band is not None
    assert band[0] == pytest.approx(statistics.fmean(values), rel=1e-9, abs=1e-9)
    assert band[1] <= band[0] <= band[2]
    restored = ActivityBaseline.from_state("cam", baseline.to_state())
    assert restored.band("z", 0) == band


def test_state_has_one_field_per_zone_and_survives_a_real_redis_hash(redis_client):
    baseline = ActivityBaseline("cam7")
    for week in range(5):
        baseline.observe("gate", 20, 0.30 + 0.01 * week)
        baseline.observe("lobby", 21, 0.05)
    state = baseline.to_state()
    assert set(state) == {"_v", "gate", "lobby"}
    key = activity_key("cam7")
    redis_client.hset(key, mapping=state)
    restored = ActivityBaseline.from_state("cam7", redis_client.hgetall(key))
    assert restored.band("gate", 20) == baseline.band("gate", 20)
    assert restored.check("gate", 20, 0.95) == baseline.check("gate", 20, 0.95)
    assert restored.check("gate", 20, 0.95) is not None
    # Updating one zone writes one field.
    restored.observe("lobby", 21, 0.06)
    redis_client.hset(key, "lobby", restored.zone_state("lobby"))
    again = ActivityBaseline.from_state("cam7", redis_client.hgetall(key))
    assert again.band("lobby", 21) == restored.band("lobby", 21)
