"""The small interfaces every detector implements, and the findings they return.

Frames are numpy arrays: BGR ``(h, w, 3)`` uint8 or grey ``(h, w)`` uint8. Times are
seconds on a monotonic or epoch clock chosen by the caller; detectors only compare them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]
Polygon = list[tuple[float, float]]
"""Normalised (0..1) vertices, x to the right and y down."""


class FrameError(ValueError):
    """A frame a detector cannot use (empty, wrong type or shape); says why."""


@dataclass(frozen=True)
class Box:
    """A moving region in normalised frame coordinates."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class MotionResult:
    """What one frame showed: boxes, the fraction of the frame moving, per-zone fractions."""

    boxes: tuple[Box, ...]
    motion_fraction: float
    calibrating: bool
    zone_fractions: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ZoneSpec:
    """A named zone of a camera for the motion detector."""

    name: str
    polygon: Polygon
    min_area: float = 0.002


@dataclass(frozen=True)
class MotionTransition:
    """Motion started or ended in a zone (``zone`` is ``"*"`` for the whole frame)."""

    zone: str
    started: bool
    ts: float
    peak_fraction: float
    box: Box | None = None


@dataclass(frozen=True)
class TamperFinding:
    """A tamper condition raised or cleared, with the measure that decided it."""

    reason: str
    raised: bool
    ts: float
    measure: float
    threshold: float


class MotionDetector(Protocol):
    """Motion detection over successive frames of one camera."""

    def detect(self, frame: Frame) -> MotionResult:
        """Look at the next frame; raise :class:`FrameError` for an unusable frame."""
        ...


class TamperDetector(Protocol):
    """Camera tamper and health checks over successive frames of one camera."""

    def update(self, frame: Frame, ts: float) -> list[TamperFinding]:
        """Look at the next frame taken at ``ts``; return conditions raised or cleared."""
        ...
