"""Event-level interval and tamper scoring."""

from __future__ import annotations

import pytest

from bench.evaluation import (
    Episode,
    Raise,
    intervals_from_transitions,
    overlaps,
    score_intervals,
    score_tamper,
    time_coverage,
    union,
)


def test_overlap_is_half_open():
    assert overlaps((0, 2), (1, 3))
    assert not overlaps((0, 2), (2, 3))  # touching is not overlapping
    assert overlaps((0, 10), (3, 4))


def test_perfect_detection():
    s = score_intervals([(1, 3), (5, 8)], [(1.4, 4), (5, 9)])
    assert (s.precision, s.recall, s.f1) == (1.0, 1.0, 1.0)
    assert s.delays == pytest.approx([0.4, 0.0])
    assert s.mean_delay == pytest.approx(0.2)


def test_false_alarm_and_miss():
    s = score_intervals([(1, 3), (5, 8)], [(1, 2), (10, 11)])
    assert s.found == 1 and s.recall == 0.5
    assert s.false_alarms == [(10, 11)] and s.precision == 0.5
    assert s.f1 == pytest.approx(0.5)


def test_one_detection_spanning_two_truths_finds_both():
    s = score_intervals([(1, 3), (4, 6)], [(0.5, 7)])
    assert s.found == 2 and s.precision == 1.0 and s.delays == [0.0, 0.0]


def test_excluded_spans_set_detections_aside():
    s = score_intervals([(1, 3)], [(1, 2), (20, 25), (40, 41)], exclude=[(19, 30)])
    assert s.ignored == 1 and s.false_alarms == [(40, 41)]
    assert s.precision == pytest.approx(0.5)


def test_empty_cases():
    assert score_intervals([], []).f1 == 1.0
    nothing_found = score_intervals([(1, 2)], [])
    assert nothing_found.recall == 0.0 and nothing_found.f1 == 0.0
    assert score_intervals([], [(1, 2)]).precision == 0.0


def test_transitions_to_intervals():
    got = intervals_from_transitions([(1, True), (2, False), (5, True)], end_ts=9)
    assert got == [(1, 2), (5, 9)]
    with pytest.raises(ValueError, match="without a start"):
        intervals_from_transitions([(1, False)])
    with pytest.raises(ValueError, match="two starts"):
        intervals_from_transitions([(1, True), (2, True)])


def test_tamper_matching_by_reason_and_time():
    episodes = [Episode(4, 12, "blackout"), Episode(16, 24, "covered"), Episode(28, 36, "moved")]
    raises = [
        Raise(6.0, "blackout"),
        Raise(18.5, "blackout"),  # wrong reason during the covered episode
        Raise(19.0, "covered"),
        Raise(50.0, "frozen"),  # outside every episode
    ]
    score = score_tamper(episodes, raises)
    assert score.found == 2 and score.missed == ["moved@28"]
    assert score.time_to_detect == {"blackout@4": 2.0, "covered@16": 3.0}
    assert [r.reason for r in score.false_raises] == ["blackout", "frozen"]
    d = score.as_dict()
    assert d["false_tampers"] == 2 and d["max_time_to_detect_s"] == 3.0


def test_a_second_raise_in_one_episode_is_false():
    score = score_tamper([Episode(0, 10, "frozen")], [Raise(3, "frozen"), Raise(8, "frozen")])
    assert score.found == 1 and len(score.false_raises) == 1


def test_union_merges_overlaps_and_drops_empty():
    assert union([(5, 6), (1, 3), (2, 4), (7, 7)]) == [(1, 4), (5, 6)]


def test_time_coverage_is_stricter_than_event_scores():
    truth = [(0, 10), (20, 30)]
    detected = [(8, 12)]
    recall, precision = time_coverage(truth, detected)
    assert recall == pytest.approx(2 / 20)
    assert precision == pytest.approx(2 / 4)
    _, with_tail = time_coverage(truth, detected, tail=2.0)
    assert with_tail == pytest.approx(1.0)
    assert time_coverage([], []) == (1.0, 1.0)


def test_time_coverage_leaves_excluded_time_out_of_precision():
    recall, precision = time_coverage([(0, 10)], [(5, 10), (20, 30)], exclude=[(18, 28)])
    assert recall == pytest.approx(0.5)
    assert precision == pytest.approx(5 / 7)
    assert time_coverage([], [(20, 30)], exclude=[(0, 40)]) == (1.0, 1.0)
