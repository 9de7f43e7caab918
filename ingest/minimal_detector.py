"""A minimal camera-health detector behind :class:`detectors.base.TamperDetector`.

Used only while ``detectors.tamper.CameraHealthDetector`` is not available. It raises
``blackout`` when the picture stays almost black and ``frozen`` when it stops changing at
all, each after a hold time, and clears them with the same hold time.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from detectors.base import Frame, FrameError, TamperFinding


@dataclass(frozen=True)
class MinimalHealthConfig:
    """Thresholds of :class:`MinimalHealthDetector`."""

    blackout_luma: float = 12.0
    """Mean luma below which the picture counts as black."""
    frozen_diff: float = 0.01
    """Mean absolute difference between frames (64x36 grey) below which the picture is frozen:
    identical frames, not a still scene, whose sensor noise still differs."""
    hold_seconds: float = 5.0
    """How long a condition must hold before it is raised (or be gone before it clears)."""


@dataclass
class _Condition:
    since: float | None = None
    raised: bool = False


class MinimalHealthDetector:
    """Blackout and frozen-picture detection for one camera."""

    def __init__(self, config: MinimalHealthConfig | None = None) -> None:
        self.config = config or MinimalHealthConfig()
        self._previous: np.ndarray | None = None
        self._conditions = {"blackout": _Condition(), "frozen": _Condition()}

    def update(self, frame: Frame, ts: float) -> list[TamperFinding]:
        """Look at the next frame taken at ``ts``; return conditions raised or cleared."""
        if not isinstance(frame, np.ndarray) or frame.size == 0 or frame.dtype != np.uint8:
            raise FrameError("a frame must be a non-empty uint8 numpy array")
        grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        small = cv2.resize(grey, (64, 36), interpolation=cv2.INTER_AREA)
        luma = float(small.mean())
        diff = (float(cv2.absdiff(small, self._previous).mean())
                if self._previous is not None and self._previous.shape == small.shape
                else 255.0)
        self._previous = small
        cfg = self.config
        out: list[TamperFinding] = []
        for reason, present, measure, threshold in (
            ("blackout", luma < cfg.blackout_luma, luma, cfg.blackout_luma),
            ("frozen", diff < cfg.frozen_diff, diff, cfg.frozen_diff),
        ):
            finding = self._step(reason, present, ts, measure, threshold)
            if finding is not None:
                out.append(finding)
        return out

    def _step(self, reason: str, present: bool, ts: float, measure: float,
              threshold: float) -> TamperFinding | None:
        cond = self._conditions[reason]
        if present != cond.raised:
            if cond.since is None:
                cond.since = ts
            if ts - cond.since >= self.config.hold_seconds:
                cond.raised = present
                cond.since = None
                return TamperFinding(reason, present, ts, measure, threshold)
        else:
            cond.since = None
        return None
