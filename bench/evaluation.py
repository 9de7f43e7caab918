"""Event-level scoring of detections against ground truth intervals.

A true interval is found when some detected interval overlaps it; a detected interval
that overlaps no true interval is a false alarm. Detection delay is how long after a
true interval began the first overlapping detection started (0 when a detection was
already running). Tamper episodes are matched by reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

Interval = tuple[float, float]


def overlaps(a: Interval, b: Interval) -> bool:
    """Whether two half-open intervals [start, end) share any time."""
    return a[0] < b[1] and b[0] < a[1]


def intervals_from_transitions(
    transitions: Iterable[tuple[float, bool]], end_ts: float | None = None
) -> list[Interval]:
    """Pair (ts, started) transitions into intervals; an open one ends at ``end_ts``.

    Raises ValueError for an end without a start or two starts in a row.
    """
    out: list[Interval] = []
    start: float | None = None
    for ts, started in transitions:
        if started:
            if start is not None:
                raise ValueError(f"two starts in a row at {start} and {ts}")
            start = ts
        else:
            if start is None:
                raise ValueError(f"end at {ts} without a start")
            out.append((start, ts))
            start = None
    if start is not None:
        out.append((start, end_ts if end_ts is not None else start))
    return out


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, merged intervals covering the same time."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _length(intervals: Sequence[Interval]) -> float:
    return sum(end - start for start, end in intervals)


def _intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    out = []
    for a0, a1 in a:
        for b0, b1 in b:
            start, end = max(a0, b0), min(a1, b1)
            if end > start:
                out.append((start, end))
    return union(out)


def time_coverage(
    truth: Sequence[Interval],
    detected: Sequence[Interval],
    tail: float = 0.0,
    exclude: Sequence[Interval] = (),
) -> tuple[float, float]:
    """(time recall, time precision): the share of true motion time that detections
    cover, and the share of detected time inside true motion extended by ``tail``
    seconds (a tracker ends motion an off-delay after it stops). Detected time inside
    ``exclude`` spans is left out of the precision. Stricter than the event-level
    scores, where one long detection can find several true intervals.
    """
    t, d, x = union(truth), union(detected), union(exclude)
    padded = union((start, end + tail) for start, end in t)
    recall = 1.0 if not t else _length(_intersect(t, d)) / _length(t)
    scored = _length(d) - _length(_intersect(d, x))
    inside = _length(_intersect(d, padded)) - _length(_intersect(_intersect(d, padded), x))
    precision = 1.0 if scored <= 1e-9 else inside / scored
    return recall, precision


@dataclass
class IntervalScore:
    """Precision, recall and delays of detected intervals against the truth."""

    truth: int
    detected: int
    found: int
    false_alarms: list[Interval]
    delays: list[float]
    ignored: int = 0
    """Detections not scored because they overlap an excluded span (see ``score_intervals``)."""

    @property
    def precision(self) -> float:
        scored = self.detected - self.ignored
        return 1.0 if scored == 0 else (scored - len(self.false_alarms)) / scored

    @property
    def recall(self) -> float:
        return 1.0 if self.truth == 0 else self.found / self.truth

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    @property
    def mean_delay(self) -> float | None:
        return fmean(self.delays) if self.delays else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "truth": self.truth,
            "detected": self.detected,
            "found": self.found,
            "false_alarms": len(self.false_alarms),
            "ignored": self.ignored,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "mean_delay_s": None if self.mean_delay is None else round(self.mean_delay, 3),
            "max_delay_s": round(max(self.delays), 3) if self.delays else None,
        }


def score_intervals(
    truth: Sequence[Interval],
    detected: Sequence[Interval],
    exclude: Sequence[Interval] = (),
) -> IntervalScore:
    """Score detections; detections overlapping no truth but an ``exclude`` span are
    set aside (counted in ``ignored``) instead of counted as false alarms."""
    found = 0
    delays: list[float] = []
    for t in truth:
        hits = [d for d in detected if overlaps(t, d)]
        if hits:
            found += 1
            delays.append(max(0.0, min(d[0] for d in hits) - t[0]))
    false_alarms: list[Interval] = []
    ignored = 0
    for d in detected:
        if any(overlaps(d, t) for t in truth):
            continue
        if any(overlaps(d, x) for x in exclude):
            ignored += 1
        else:
            false_alarms.append(d)
    return IntervalScore(len(truth), len(detected), found, false_alarms, delays, ignored)


@dataclass(frozen=True)
class Episode:
    """A true tamper episode."""

    start: float
    end: float
    reason: str


@dataclass(frozen=True)
class Raise:
    """A tamper condition raised by the detector."""

    ts: float
    reason: str


@dataclass
class TamperScore:
    """Which tamper episodes were found (right reason, raised inside the episode) and when."""

    episodes: int
    found: int
    time_to_detect: dict[str, float] = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)
    false_raises: list[Raise] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "episodes": self.episodes,
            "found": self.found,
            "missed": self.missed,
            "time_to_detect_s": {k: round(v, 3) for k, v in self.time_to_detect.items()},
            "max_time_to_detect_s": (
                round(max(self.time_to_detect.values()), 3) if self.time_to_detect else None
            ),
            "false_tampers": len(self.false_raises),
            "false_tamper_detail": [f"{r.reason}@{r.ts:.2f}" for r in self.false_raises],
        }


def score_tamper(episodes: Sequence[Episode], raises: Sequence[Raise]) -> TamperScore:
    """Match raises to episodes of the same reason raised within the episode.

    Any other raise (a wrong reason, or outside every episode) is a false tamper.
    Episodes are keyed ``reason@start`` in ``time_to_detect``.
    """
    used: set[int] = set()
    score = TamperScore(episodes=len(episodes), found=0)
    for ep in episodes:
        key = f"{ep.reason}@{ep.start:g}"
        match = next(
            (
                i for i, r in enumerate(raises)
                if i not in used and r.reason == ep.reason and ep.start <= r.ts < ep.end
            ),
            None,
        )
        if match is None:
            score.missed.append(key)
            continue
        used.add(match)
        score.found += 1
        score.time_to_detect[key] = raises[match].ts - ep.start
    score.false_raises = [r for i, r in enumerate(raises) if i not in used]
    return score
