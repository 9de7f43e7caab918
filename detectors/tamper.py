"""Camera tamper and health: blackout, covered lens, defocus, camera moved, frozen image.

Each frame yields a few cheap measures on a small grey copy. A condition must hold for
its persistence window before it is raised, and be absent for the clear window before it
is cleared, so each episode is reported exactly once each way. The camera's own
baselines (sharpness, the reference edge map) are learned only while it is healthy.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from detectors.base import Frame, TamperFinding
from detectors.frames import small_luma

REASONS = ("blackout", "covered", "frozen", "defocus", "moved")
"""Every reason, strongest first: a stronger active condition hides the weaker ones."""

Image = npt.NDArray[Any]


@dataclass(frozen=True)
class TamperConfig:
    """Thresholds and persistence windows of :class:`CameraHealthDetector`."""

    height: int = 120
    blackout_mean: float = 5.0
    """Mean luma below which (with low spread) the picture is black: no signal, a dead
    sensor, a capped lens. Kept near the black level because a lens covered by a hand or
    a cloth still lets some light through, even at night (mean 8 on the night sample
    clip against 2.5 for its blackout, 17 by day): above this, a flat edge-less picture
    is 'covered', not 'blackout'."""
    blackout_std: float = 6.0
    covered_std: float = 14.0
    """A covered lens: little spread of luma ..."""
    covered_edges: float = 0.004
    """... and almost no edges (fraction of edge pixels)."""
    defocus_ratio: float = 0.35
    """Sharpness below this fraction of the learned baseline means defocus."""
    moved_match: float = 0.4
    """Edge agreement with the reference below this means the view moved."""
    moved_min_edges: float = 0.01
    """Too few edges (dark, covered) and the moved check abstains."""
    frozen_lag: float = 2.0
    """The frozen check compares each frame with the one this many seconds earlier ..."""
    frozen_diff: float = 0.35
    """... and a mean absolute difference at or below this means the picture stood still.
    A live sensor's noise survives encoding: at least every keyframe re-encodes it, so
    frames seconds apart differ by more (0.59 at least on the sample clips) even where
    successive frames of a static scene are almost identical. A frozen source encoded
    again only gets refined (0.20 at most on the sample clips). Not zero, for that
    refinement."""
    raise_seconds: dict[str, float] = field(
        default_factory=lambda: {
            "blackout": 2.0, "covered": 2.0, "frozen": 1.0, "defocus": 3.0, "moved": 3.0,
        }
    )
    clear_seconds: float = 2.0
    warmup_frames: int = 4
    warmup_seconds: float = 4.0
    """Healthy frames and seconds needed before the baselines (defocus, moved) are
    trusted; both count, so the check works at 5 fps and at one frame a second."""
    baseline_alpha: float = 0.03
    reference_alpha: float = 0.02


KEYFRAME_FROZEN_DIFF = 0.42
"""``frozen_diff`` for pictures that are each a keyframe (health mode). Keyframes are coded
independently, so two keyframes of a frozen picture differ by their quantisation, where
full-rate frames seconds apart are the same picture refined. Measured on keyframes 2 to
4 s apart: a frozen picture 0.38 at most (the tamper clip re-encoded at 700 kbit/s with a
2 s GOP; 0.17 on the committed clip), a live one 0.46 at least (``static_long``, the
stillest sample; 0.56 at 700 kbit/s). The threshold sits between: a thin margin, stated."""


def for_keyframes(config: TamperConfig) -> TamperConfig:
    """The thresholds for keyframe-only pictures (see :data:`KEYFRAME_FROZEN_DIFF`)."""
    return replace(config, frozen_diff=max(config.frozen_diff, KEYFRAME_FROZEN_DIFF))


@dataclass
class _Condition:
    raised: bool = False
    since: float | None = None
    """When the condition started holding (not raised) or stopped holding (raised)."""
    worst: float = 0.0


@dataclass(frozen=True)
class HealthMeasures:
    """The per-frame measures (exposed for tuning and metrics)."""

    mean: float
    std: float
    edges: float
    sharpness: float
    diff: float | None
    """Mean absolute difference from the previous frame."""
    lag_diff: float | None
    """Mean absolute difference from the frame ``frozen_lag`` seconds earlier."""
    match: float | None


class CameraHealthDetector:
    """Tamper and health checks for one camera; feed it that camera's frames in order."""

    def __init__(self, config: TamperConfig | None = None) -> None:
        self.config = config or TamperConfig()
        self._conditions = {reason: _Condition() for reason in REASONS}
        self._previous: Image | None = None
        self._history: deque[tuple[float, Image]] = deque()
        self._sharpness: float | None = None
        self._reference: npt.NDArray[np.float32] | None = None
        self._healthy_frames = 0
        self._healthy_seconds = 0.0
        self._last_learned: float | None = None
        self._kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
        self.last: HealthMeasures | None = None

    @property
    def raised(self) -> list[str]:
        """Reasons currently raised."""
        return [r for r, c in self._conditions.items() if c.raised]

    @property
    def unsettled(self) -> bool:
        """A condition is starting or clearing, or the baselines are still being learned:
        the next frames matter more than usual.

        A reader that picks which frames to decode (health mode) decodes the next ones
        while this holds, so an episode is confirmed in seconds, not intervals, and a
        camera watched from cold learns its view in a few keyframes.
        """
        return not self._warm() or any(c.since is not None for c in self._conditions.values())

    def rebaseline(self) -> None:
        """Forget the learned sharpness and reference view (after a deliberate re-aim)."""
        self._sharpness = None
        self._reference = None
        self._healthy_frames = 0
        self._healthy_seconds = 0.0
        self._last_learned = None

    def update(self, frame: Frame, ts: float) -> list[TamperFinding]:
        """Look at the next frame taken at ``ts``; return conditions raised or cleared."""
        cfg = self.config
        luma = small_luma(frame, cfg.height)
        if self._previous is not None and self._previous.shape != luma.shape:
            self._previous = None
            self._history.clear()
            self.rebaseline()
        measures, edges = self._measure(luma, ts)
        self._previous = luma
        self.last = measures
        values, holding = self._evaluate(measures)
        findings: list[TamperFinding] = []
        blocked = False
        for reason in REASONS:
            cond = self._conditions[reason]
            if blocked:
                # A stronger condition in progress hides weaker ones (a black picture is
                # also edge-less, frozen and 'moved'): they abstain, neither starting
                # nor clearing, so an episode under a blackout is not reported twice.
                cond.since = None
                continue
            finding = self._step(reason, holding[reason], values[reason], ts)
            if finding is not None:
                findings.append(finding)
            if holding[reason] or cond.raised:
                blocked = True
        if not blocked and self._nothing_pending():
            self._learn(measures, edges, ts)
        return findings

    def _measure(self, luma: Image, ts: float) -> tuple[HealthMeasures, Image]:
        cfg = self.config
        mean_arr, std_arr = cv2.meanStdDev(luma)
        mean, std = float(mean_arr[0, 0]), float(std_arr[0, 0])
        blurred = cv2.GaussianBlur(luma, (3, 3), 0)
        # Canny thresholds from the picture's own spread keep edges stable across lighting.
        hi = max(20.0, 1.2 * std)
        edges = cv2.Canny(blurred, 0.5 * hi, hi)
        edge_fraction = cv2.countNonZero(edges) / edges.size
        lap = cv2.Laplacian(luma, cv2.CV_32F, ksize=3)
        lap_std = float(cv2.meanStdDev(lap)[1][0, 0])
        sharpness = lap_std / (std + 1.0)
        diff = None
        if self._previous is not None:
            diff = float(cv2.mean(cv2.absdiff(luma, self._previous))[0])
        lag_diff = self._lag_diff(luma, ts)
        match = None
        ref = self._reference
        if (
            ref is not None
            and self._warm()
            and edge_fraction >= cfg.moved_min_edges
        ):
            match = _edge_match(edges, ref, self._kernel)
        measures = HealthMeasures(mean, std, edge_fraction, sharpness, diff, lag_diff, match)
        return measures, edges

    def _lag_diff(self, luma: Image, ts: float) -> float | None:
        """Difference from the newest kept frame at least ``frozen_lag`` seconds old.

        Keeps only the frames of the last ``frozen_lag`` seconds plus that one (about
        11 small frames at 5 fps, 3 at one a second).
        """
        lag = self.config.frozen_lag
        while len(self._history) >= 2 and ts - self._history[1][0] >= lag:
            self._history.popleft()
        result = None
        if self._history and lag <= ts - self._history[0][0] <= 3 * lag:
            result = float(cv2.mean(cv2.absdiff(luma, self._history[0][1]))[0])
        if self._history and ts < self._history[-1][0]:
            self._history.clear()  # the clock went back: start over
        self._history.append((ts, luma))
        return result

    def _evaluate(self, m: HealthMeasures) -> tuple[dict[str, float], dict[str, bool]]:
        cfg = self.config
        base = self._sharpness if self._warm() else None
        sharp_ratio = m.sharpness / base if base else 1.0
        values = {
            "blackout": m.mean,
            "covered": m.edges,
            "frozen": m.lag_diff if m.lag_diff is not None else 255.0,
            "defocus": sharp_ratio,
            "moved": m.match if m.match is not None else 1.0,
        }
        holding = {
            "blackout": m.mean < cfg.blackout_mean and m.std < cfg.blackout_std,
            "covered": m.std < cfg.covered_std and m.edges < cfg.covered_edges,
            "frozen": m.lag_diff is not None and m.lag_diff <= cfg.frozen_diff,
            "defocus": base is not None and sharp_ratio < cfg.defocus_ratio,
            "moved": m.match is not None and m.match < cfg.moved_match,
        }
        return values, holding

    def _step(self, reason: str, holds: bool, value: float, ts: float) -> TamperFinding | None:
        cond = self._conditions[reason]
        threshold = self._threshold(reason)
        if not cond.raised:
            if not holds:
                cond.since = None
                return None
            if cond.since is None:
                cond.since, cond.worst = ts, value
            cond.worst = self._worse(reason, cond.worst, value)
            if ts - cond.since >= self.config.raise_seconds[reason]:
                cond.raised, cond.since = True, None
                return TamperFinding(reason, True, ts, cond.worst, threshold)
            return None
        if holds:
            cond.since = None
            cond.worst = self._worse(reason, cond.worst, value)
            return None
        if cond.since is None:
            cond.since = ts
        if ts - cond.since >= self.config.clear_seconds:
            cond.raised, cond.since = False, None
            return TamperFinding(reason, False, ts, value, threshold)
        return None

    def _threshold(self, reason: str) -> float:
        cfg = self.config
        return {
            "blackout": cfg.blackout_mean,
            "covered": cfg.covered_edges,
            "frozen": cfg.frozen_diff,
            "defocus": cfg.defocus_ratio,
            "moved": cfg.moved_match,
        }[reason]

    @staticmethod
    def _worse(reason: str, a: float, b: float) -> float:
        # Every measure here is 'lower is worse'.
        del reason
        return min(a, b)

    def _nothing_pending(self) -> bool:
        return all(not c.raised and c.since is None for c in self._conditions.values())

    def _warm(self) -> bool:
        cfg = self.config
        return (
            self._healthy_frames >= cfg.warmup_frames
            and self._healthy_seconds >= cfg.warmup_seconds
        )

    def _learn(self, m: HealthMeasures, edges: Image, ts: float) -> None:
        cfg = self.config
        if self._last_learned is not None:
            # Time between healthy frames counts, but a long gap counts as one second.
            self._healthy_seconds += min(max(ts - self._last_learned, 0.0), 1.0)
        self._last_learned = ts
        self._healthy_frames += 1
        # A plain running mean over the first frames, an exponential average afterwards.
        sharp_rate = max(cfg.baseline_alpha, 1.0 / self._healthy_frames)
        ref_rate = max(cfg.reference_alpha, 1.0 / self._healthy_frames)
        if self._sharpness is None:
            self._sharpness = m.sharpness
        else:
            self._sharpness += sharp_rate * (m.sharpness - self._sharpness)
        if self._reference is None:
            self._reference = (edges > 0).astype(np.float32)
        else:
            # 0/1 as uint8, accumulated as float: the same values as (edges > 0) in float.
            _, current = cv2.threshold(edges, 0, 1, cv2.THRESH_BINARY)
            cv2.accumulateWeighted(current, self._reference, ref_rate)


GRID = 4
"""The edge match is judged per cell of a GRID x GRID split of the picture."""


def _edge_match(edges: Image, reference: npt.NDArray[np.float32], kernel: Image) -> float:
    """How well the current edges agree with the reference's stable edges, beyond chance.

    Per cell: the share of current edges near a stable reference edge and the share of
    stable reference edges near a current edge, each corrected for the share a random
    edge map of the same density would reach (Cohen's kappa style), averaged. 1 is the
    same view, about 0 an unrelated one. The result is the median over cells with
    enough reference edges: something standing in front of part of the picture spoils
    only its own cells, a moved camera spoils all of them.
    """
    # A scalar operand (OpenCV accepts one; its stubs list arrays only).
    stable: Image = cv2.compare(reference, 0.5, cv2.CMP_GT)  # type: ignore[call-overload]
    if cv2.countNonZero(stable) == 0 or cv2.countNonZero(edges) == 0:
        return 1.0
    h, w = edges.shape[:2]
    ch, cw = h // GRID, w // GRID
    if ch == 0 or cw == 0:
        return 1.0
    near_stable = cv2.dilate(stable, kernel)
    near_current = cv2.dilate(edges, kernel)
    forward_map = cv2.bitwise_and(edges, near_stable)
    backward_map = cv2.bitwise_and(stable, near_current)
    cells = _cell_counts(
        (stable, edges, forward_map, backward_map, near_stable, near_current), ch, cw
    )
    min_edges = max(4, ch * cw // 100)
    area = ch * cw
    scores: list[float] = []
    for ref_count, cur_count, forward, backward, near_s, near_c in cells:
        if ref_count < min_edges:
            continue
        if cur_count == 0:
            scores.append(0.0)
            continue
        scores.append(
            0.5 * (_beyond_chance(forward / cur_count, near_s / area)
                   + _beyond_chance(backward / ref_count, near_c / area))
        )
    if not scores:
        return 1.0
    return float(statistics.median(scores))


def _cell_counts(maps: tuple[Image, ...], ch: int, cw: int) -> list[tuple[int, ...]]:
    """Per GRID x GRID cell of ``ch`` x ``cw`` pixels, the non-zero count of each 0/255 map.

    The maps' cell areas are stacked into one array whose rows, read ``cw`` pixels at a
    time, are each one cell's share of one picture row; OpenCV sums those runs at once
    (``cv2.reduce``, vectorised) and the few thousand sums are added up per cell. Exact,
    and about half the time of summing a 4-D reshape in NumPy (whose uint8-to-int
    widening dominates), itself under half the time of an integral image per map.
    Returns one tuple (a count per map) per cell.
    """
    rows, cols = GRID * ch, GRID * cw
    stack = np.concatenate([m[:rows, :cols] for m in maps]).reshape(-1, cw)
    runs = cv2.reduce(stack, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
    sums = runs.reshape(len(maps), GRID, ch, GRID).sum(axis=2) // 255
    return list(zip(*sums.reshape(len(maps), -1).tolist(), strict=True))


def _beyond_chance(observed: float, chance: float) -> float:
    if chance >= 1.0:
        return 1.0
    return max(0.0, (observed - chance) / (1.0 - chance))
