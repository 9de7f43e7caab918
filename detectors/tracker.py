"""Hysteresis over per-frame motion results: ``motion.start`` and ``motion.end`` per zone."""

from __future__ import annotations

from dataclasses import dataclass

from detectors.base import Box, MotionResult, MotionTransition


@dataclass
class _ZoneState:
    run: int = 0
    active: bool = False
    last_motion: float = 0.0
    peak: float = 0.0
    box: Box | None = None


@dataclass(frozen=True)
class TrackerConfig:
    """Hysteresis of :class:`MotionTracker`."""

    start_frames: int = 3
    """Consecutive frames with motion in a zone before ``motion.start``."""
    off_delay: float = 4.0
    """Seconds without motion in a zone before ``motion.end``."""
    min_fraction: float = 0.0
    """Whole-frame motion fraction that counts as motion (above, not equal)."""


class MotionTracker:
    """Turns per-frame motion results into start and end transitions, per zone.

    The whole frame is the zone ``"*"``. A zone starts after ``start_frames``
    consecutive frames with motion in it and ends once ``off_delay`` seconds have passed
    since its last motion. Calibrating frames break a run of motion frames but are not
    evidence that motion ended: the off-delay simply keeps counting.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        if self.config.start_frames < 1:
            raise ValueError("start_frames must be at least 1")
        if self.config.off_delay < 0:
            raise ValueError("off_delay must not be negative")
        self._zones: dict[str, _ZoneState] = {}

    def active_zones(self) -> list[str]:
        """Zones currently in motion."""
        return [name for name, state in self._zones.items() if state.active]

    def update(self, result: MotionResult, ts: float) -> list[MotionTransition]:
        """Feed the result of the frame taken at ``ts``; return transitions it caused."""
        observed: dict[str, tuple[float, Box | None]] = {}
        if not result.calibrating:
            whole = result.motion_fraction if result.boxes else 0.0
            if whole > self.config.min_fraction:
                observed["*"] = (whole, _largest(result.boxes))
            for name, fraction in result.zone_fractions.items():
                if fraction > 0.0:
                    observed[name] = (fraction, None)
        names = ["*", *result.zone_fractions]
        out: list[MotionTransition] = []
        for name in names:
            state = self._zones.setdefault(name, _ZoneState())
            seen = observed.get(name)
            if seen is None or result.calibrating:
                state.run = 0
            else:
                fraction, box = seen
                state.run += 1
                state.last_motion = ts
                if fraction >= state.peak:
                    state.peak = fraction
                    state.box = box or state.box
                if not state.active and state.run >= self.config.start_frames:
                    state.active = True
                    out.append(MotionTransition(name, True, ts, state.peak, state.box))
                continue
            if state.active and ts - state.last_motion >= self.config.off_delay - 1e-9:
                out.append(self._end(name, state, ts))
            elif not state.active:
                state.peak, state.box = 0.0, None
        return out

    def finish(self, ts: float) -> list[MotionTransition]:
        """End every active zone at ``ts`` (the stream stopped)."""
        return [self._end(n, s, ts) for n, s in self._zones.items() if s.active]

    def _end(self, name: str, state: _ZoneState, ts: float) -> MotionTransition:
        transition = MotionTransition(name, False, ts, state.peak, state.box)
        state.active, state.run, state.peak, state.box = False, 0, 0.0, None
        return transition


def _largest(boxes: tuple[Box, ...]) -> Box | None:
    return max(boxes, key=lambda b: b.w * b.h, default=None)
