"""Door rules with an injected clock, boundaries included."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.doors import (
    EVENT_KINDS,
    RULES,
    DoorEvent,
    DoorEventError,
    DoorFinding,
    DoorRuleEngine,
    DoorRulesConfig,
    DoorSpec,
    haversine_m,
)

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(kind: str, seconds: float, door: str = "d1", credential: str | None = None, reason=None):
    return DoorEvent(kind, door, at(seconds), credential, reason)


def rules_of(findings: list[DoorFinding]) -> list[tuple[str, bool]]:
    return [(f.rule, f.clears) for f in findings]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(clock) -> DoorRuleEngine:
    doors = {"d1": DoorSpec("d1", held_open_seconds=30.0)}
    return DoorRuleEngine(DoorRulesConfig(forced_grace_seconds=5.0), doors, clock=clock)


# -- forced --------------------------------------------------------------------------------


def test_open_without_grant_is_forced_and_clears_on_close(engine):
    found = engine.feed(ev("opened", 0))
    assert rules_of(found) == [("door_forced", False)]
    assert found[0].details["by"] == "no_grant"
    assert rules_of(engine.feed(ev("closed", 3))) == [("door_forced", True)]


@pytest.mark.parametrize(
    ("permit", "gap", "forced"),
    [
        ("granted", 5.0, False),  # exactly at the grace window: still covered
        ("granted", 5.001, True),  # just past it
        ("granted", 0.0, False),
        ("granted", 6.0, True),
    ],
)
def test_forced_grace_window_boundary(engine, permit, gap, forced):
    assert engine.feed(ev(permit, 100.0, credential="c1")) == []
    found = engine.feed(ev("opened", 100.0 + gap))
    assert rules_of(found) == ([("door_forced", False)] if forced else [])


def test_grant_at_another_door_does_not_cover(engine):
    engine.feed(ev("granted", 0, door="d2", credential="c1"))
    assert rules_of(engine.feed(ev("opened", 1))) == [("door_forced", False)]


def test_controller_forced_event_counts_once(engine):
    assert rules_of(engine.feed(ev("forced", 0))) == [("door_forced", False)]
    assert engine.feed(ev("opened", 0.1)) == []  # same episode, no second alert
    assert rules_of(engine.feed(ev("closed", 2))) == [("door_forced", True)]
    assert rules_of(engine.feed(ev("forced", 10))) == [("door_forced", False)]


# -- held ----------------------------------------------------------------------------------


def test_held_open_fires_exactly_at_the_limit_on_tick(engine, clock):
    engine.feed(ev("granted", 0, credential="c1"))
    engine.feed(ev("opened", 1))
    assert engine.tick(at(1 + 29.999)) == []
    found = engine.tick(at(1 + 30.0))
    assert rules_of(found) == [("door_held", False)]
    assert found[0].details == {"open_seconds": 30.0, "limit_seconds": 30.0}
    assert engine.tick(at(100)) == []  # raised once
    assert rules_of(engine.feed(ev("closed", 120))) == [("door_held", True)]


def test_held_uses_the_injected_clock_when_tick_has_no_time(engine, clock):
    engine.feed(ev("granted", 0, credential="c1"))
    engine.feed(ev("opened", 0))
    clock.advance(29)
    assert engine.tick() == []
    clock.advance(1)
    assert rules_of(engine.tick()) == [("door_held", False)]


def test_door_closed_in_time_is_not_held(engine):
    engine.feed(ev("granted", 0, credential="c1"))
    engine.feed(ev("opened", 0))
    assert engine.feed(ev("closed", 29.9)) == []
    assert engine.tick(at(200)) == []


def test_held_limit_is_per_door(clock):
    doors = {"short": DoorSpec("short", held_open_seconds=5), "long": DoorSpec("long", 60)}
    engine = DoorRuleEngine(doors=doors, clock=clock)
    for door in doors:
        engine.feed(ev("granted", 0, door=door, credential="c" + door))
        engine.feed(ev("opened", 0, door=door))
    assert [f.door_id for f in engine.tick(at(10))] == ["short"]
    assert [f.door_id for f in engine.tick(at(60))] == ["long"]


def test_a_new_event_also_detects_held(engine):
    engine.feed(ev("granted", 0, credential="c1"))
    engine.feed(ev("opened", 0))
    assert rules_of(engine.feed(ev("granted", 31, credential="c2"))) == [("door_held", False)]


def test_controller_held_event_and_close(engine):
    assert rules_of(engine.feed(ev("held", 0))) == [("door_held", False)]
    assert rules_of(engine.feed(ev("closed", 5))) == [("door_held", True)]


# -- denied burst --------------------------------------------------------------------------


def test_exactly_n_denials_in_the_window_fire_once(engine):
    # Default: 5 denials within 60 s. Different credentials, one door.
    out = []
    for i in range(4):
        out += engine.feed(ev("denied", i * 10, credential=f"x{i}"))
    assert out == []
    fifth = engine.feed(ev("denied", 60, credential="x4"))  # first one exactly 60 s ago
    assert rules_of(fifth) == [("door_denied_burst", False)]
    assert fifth[0].details["scope"] == "door" and fifth[0].details["count"] == 5
    assert engine.feed(ev("denied", 61, credential="x5")) == []  # still the same burst


def test_n_denials_spread_past_the_window_do_not_fire(engine):
    out = []
    for i in range(5):
        out += engine.feed(ev("denied", i * 15.001, credential=f"x{i}"))
    assert out == []


def test_denial_burst_for_one_credential_across_doors(clock):
    engine = DoorRuleEngine(DoorRulesConfig(denied_burst_count=3), clock=clock)
    out = []
    for i, door in enumerate(["a", "b", "c"]):
        out += engine.feed(ev("denied", i, door=door, credential="card9"))
    assert rules_of(out) == [("door_denied_burst", False)]
    assert out[0].credential == "card9" and out[0].details["scope"] == "credential"


def test_denial_burst_rearms_after_the_window(clock):
    engine = DoorRuleEngine(DoorRulesConfig(denied_burst_count=2), clock=clock)
    first = engine.feed(ev("denied", 0)) + engine.feed(ev("denied", 1))
    assert rules_of(first) == [("door_denied_burst", False)]
    again = engine.feed(ev("denied", 100)) + engine.feed(ev("denied", 101))
    assert rules_of(again) == [("door_denied_burst", False)]


# -- after hours ---------------------------------------------------------------------------


def office_hours(door_id: str, ts: datetime) -> bool:
    return door_id != "lab" or 8 <= ts.hour < 18


def test_grant_outside_schedule_is_after_hours(clock):
    engine = DoorRuleEngine(is_open=office_hours, clock=clock)
    night = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    found = engine.feed(DoorEvent("granted", "lab", night, "c1"))
    assert rules_of(found) == [("door_after_hours", False)]
    assert found[0].credential == "c1"
    day = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)  # exactly when the schedule opens
    assert engine.feed(DoorEvent("granted", "lab", day, "c1")) == []
    assert engine.feed(DoorEvent("granted", "lobby", night, "c2")) == []


def test_without_a_schedule_nothing_is_after_hours(clock):
    engine = DoorRuleEngine(clock=clock)
    assert engine.feed(DoorEvent("granted", "lab", datetime(2026, 1, 1, 3, tzinfo=UTC), "c")) == []


# -- impossible travel ---------------------------------------------------------------------

# Two doors about 1,112 m apart (0.01 degree of latitude).
FAR = {
    "north": DoorSpec("north", lat=31.12, lon=121.38),
    "south": DoorSpec("south", lat=31.11, lon=121.38),
    "near": DoorSpec("near", lat=31.1101, lon=121.38),
}


def test_haversine_matches_a_known_distance():
    assert haversine_m(31.12, 121.38, 31.11, 121.38) == pytest.approx(1111.95, rel=1e-3)
    assert haversine_m(0, 0, 0, 0) == 0.0


def test_same_credential_too_far_too_fast_is_impossible_travel(clock):
    engine = DoorRuleEngine(doors=FAR, clock=clock)
    engine.feed(ev("granted", 0, door="north", credential="c7"))
    found = engine.feed(ev("granted", 60, door="south", credential="c7"))
    assert rules_of(found) == [("door_impossible_travel", False)]
    assert found[0].details["from_door"] == "north"
    assert found[0].details["speed_mps"] == pytest.approx(1111.95 / 60, rel=1e-3)


def test_travel_at_exactly_the_speed_limit_is_allowed(clock):
    distance = haversine_m(31.12, 121.38, 31.11, 121.38)
    engine = DoorRuleEngine(DoorRulesConfig(travel_max_speed_mps=3.0), FAR, clock=clock)
    engine.feed(ev("granted", 0, door="north", credential="c7"))
    # Exactly at the limit, rounded up to the microsecond datetimes carry.
    at_limit = math.ceil(distance / 3.0 * 1e6) / 1e6
    assert engine.feed(ev("granted", at_limit, door="south", credential="c7")) == []
    engine.feed(ev("granted", 10_000, door="north", credential="c7"))
    hurried = engine.feed(ev("granted", 10_000 + distance / 3.0 - 1, door="south", credential="c7"))
    assert rules_of(hurried) == [("door_impossible_travel", False)]


def test_nearby_doors_never_count_as_travel(clock):
    engine = DoorRuleEngine(doors=FAR, clock=clock)
    engine.feed(ev("granted", 0, door="south", credential="c7"))
    assert engine.feed(ev("granted", 1, door="near", credential="c7")) == []  # ~11 m


def test_denied_presentation_also_places_the_credential(clock):
    engine = DoorRuleEngine(doors=FAR, clock=clock)
    engine.feed(ev("denied", 0, door="north", credential="c7"))
    assert rules_of(engine.feed(ev("granted", 5, door="south", credential="c7"))) == [
        ("door_impossible_travel", False)
    ]


def test_doors_without_positions_are_not_judged_for_travel(clock):
    engine = DoorRuleEngine(clock=clock)
    engine.feed(ev("granted", 0, door="x", credential="c7"))
    assert engine.feed(ev("granted", 1, door="y", credential="c7")) == []


# -- tamper, validation, memory ------------------------------------------------------------


def test_controller_tamper_is_reported(engine):
    found = engine.feed(ev("tamper", 0, reason="case opened"))
    assert rules_of(found) == [("door_tamper", False)]
    assert found[0].details == {"reason": "case opened"}


def test_bad_events_are_rejected_with_a_reason():
    with pytest.raises(DoorEventError, match="kind"):
        DoorEvent("exploded", "d1", T0)
    with pytest.raises(DoorEventError, match="timezone"):
        DoorEvent("opened", "d1", datetime(2026, 1, 1))
    with pytest.raises(DoorEventError, match="door id"):
        DoorEvent("opened", "", T0)
    engine = DoorRuleEngine()
    with pytest.raises(DoorEventError):
        engine.tick(datetime(2026, 1, 1))


def test_memory_is_bounded(clock):
    engine = DoorRuleEngine(DoorRulesConfig(max_credentials=100), doors=FAR, clock=clock)
    for i in range(1000):
        engine.feed(ev("granted", i, door=f"door{i % 50}", credential=f"card{i}"))
        engine.feed(ev("denied", i, door=f"door{i % 50}", credential=f"bad{i}"))
    _, credentials = engine.tracked()
    assert credentials <= 100
    engine.tick(at(1000 + 7 * 3600))
    assert engine.tracked() == (0, 0)


def test_rule_names_are_all_listed():
    assert set(RULES) == {
        "door_forced", "door_held", "door_denied_burst", "door_after_hours",
        "door_impossible_travel", "door_tamper",
    }


# -- properties ----------------------------------------------------------------------------

event_st = st.tuples(
    st.sampled_from(sorted(EVENT_KINDS)),
    st.sampled_from(["north", "south", "near", "x"]),
    st.floats(0, 5_000, allow_nan=False),
    st.one_of(st.none(), st.sampled_from(["c1", "c2", "c3"])),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(event_st, max_size=60))
def test_any_event_sequence_gives_well_formed_findings(events):
    engine = DoorRuleEngine(DoorRulesConfig(denied_burst_count=2), FAR, is_open=office_hours)
    raised: dict[tuple[str, str], int] = {}
    for kind, door, seconds, credential in sorted(events, key=lambda e: e[2]):
        found = engine.feed(ev(kind, seconds, door=door, credential=credential))
        found += engine.tick(at(seconds))
        for f in found:
            assert f.rule in RULES and f.door_id
            if f.rule in ("door_forced", "door_held"):
                key = (f.rule, f.door_id)
                raised[key] = raised.get(key, 0) + (-1 if f.clears else 1)
                assert raised[key] in (0, 1), "raised twice or cleared without a raise"
    engine.tick(at(10**6))
    assert engine.tracked()[1] == 0


def test_one_grant_opens_the_door_once(engine):
    engine.feed(ev("granted", 0, credential="c1"))
    assert engine.feed(ev("opened", 1)) == []
    assert engine.feed(ev("opened", 1.5)) == []  # repeated report while open
    assert engine.feed(ev("closed", 2)) == []
    assert rules_of(engine.feed(ev("opened", 3))) == [("door_forced", False)]
