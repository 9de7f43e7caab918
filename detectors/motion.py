"""Frame-difference motion detection against a running-average background.

Per frame: luma at a small fixed height, contrast stretched with limits averaged over
recent frames, blurred, compared with a running-average background; the difference is
thresholded, masked, dilated and split into contours, and contours below a minimum area
are dropped. When most of the frame changes at once (lights switched on or off, the
camera's exposure jumping) the detector recalibrates instead of reporting motion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from detectors.base import (
    Box,
    Frame,
    MotionResult,
    MotionTransition,
    Polygon,
    ZoneSpec,
)
from detectors.frames import polygon_mask, small_luma

FloatImage = npt.NDArray[np.float32]
Mask = npt.NDArray[Any]
"""A uint8 image as OpenCV returns it (its stubs type results loosely)."""


@dataclass(frozen=True)
class MotionConfig:
    """Tuning of :class:`FrameDiffMotionDetector`; defaults suit a 5 fps sub stream."""

    height: int = 90
    """Rows of the working image (width follows the aspect ratio)."""
    threshold: int = 14
    """Grey-level difference (after contrast stretch) that makes a pixel 'changed'."""
    min_area: float = 0.0012
    """Smallest contour kept, as a fraction of the frame."""
    alpha: float = 0.05
    """Background learning rate where nothing moves."""
    alpha_moving: float = 0.005
    """Background learning rate under moving pixels, so a stopped object fades in slowly."""
    contrast_alpha: float = 0.3
    """How fast the contrast limits follow the picture."""
    min_contrast: float = 60.0
    """Smallest stretch span: caps the gain so a flat dark picture's noise is not amplified."""
    blur: int = 5
    dilate_iterations: int = 2
    recalibrate_fraction: float = 0.45
    """Changed fraction of the picture (before masks) that means a global change."""
    calibration_frames: int = 3
    """Frames reported as calibrating after a reset; the background is relearned fast."""
    masks: tuple[Polygon, ...] = ()
    zones: tuple[ZoneSpec, ...] = ()


@dataclass
class _Geometry:
    shape: tuple[int, int]
    active: Mask
    zone_masks: dict[str, Mask] = field(default_factory=dict)
    zone_pixels: dict[str, int] = field(default_factory=dict)
    zone_min_pixels: dict[str, float] = field(default_factory=dict)


class FrameDiffMotionDetector:
    """Motion detector for one camera; feed it that camera's frames in order.

    ``zone_fractions`` maps each zone name to the fraction of the zone covered by
    moving pixels, or 0.0 when the moving pixels inside the zone are fewer than the
    zone's ``min_area`` (a fraction of the whole frame). ``motion_fraction`` is the
    moving fraction of the unmasked picture.
    """

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config or MotionConfig()
        if self.config.height < 16:
            raise ValueError("MotionConfig.height must be at least 16")
        self._geometry: _Geometry | None = None
        self._background: FloatImage | None = None
        self._low = 0.0
        self._high = 255.0
        self._calibrating = 0
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self.frames = 0
        self.recalibrations = 0

    def reset(self) -> None:
        """Forget the background; the next frames calibrate."""
        self._background = None

    def detect(self, frame: Frame) -> MotionResult:
        """Look at the next frame; raise :class:`FrameError` for an unusable frame."""
        cfg = self.config
        luma = small_luma(frame, cfg.height)
        geometry = self._geometry_for(luma.shape)
        self.frames += 1
        low, high = _contrast_limits(luma)
        bg = self._background
        if bg is None or bg.shape != luma.shape:
            self._low, self._high = low, high
            self._background = self._prepare(luma).astype(np.float32)
            self._calibrating = cfg.calibration_frames
            return _quiet(geometry, calibrating=True)
        self._low += cfg.contrast_alpha * (low - self._low)
        self._high += cfg.contrast_alpha * (high - self._high)
        current = self._prepare(luma)
        diff = cv2.absdiff(current, cv2.convertScaleAbs(bg))
        _, changed = cv2.threshold(diff, cfg.threshold, 255, cv2.THRESH_BINARY)

        changed_fraction = cv2.countNonZero(changed) / changed.size
        if changed_fraction >= cfg.recalibrate_fraction:
            # Lights or exposure changed the whole picture: start again from this frame.
            self.recalibrations += 1
            self._low, self._high = low, high
            self._background = self._prepare(luma).astype(np.float32)
            self._calibrating = cfg.calibration_frames
            return _quiet(geometry, calibrating=True)
        if self._calibrating > 0:
            self._calibrating -= 1
            cv2.accumulateWeighted(current, bg, 0.5)
            return _quiet(geometry, calibrating=True)

        changed = cv2.bitwise_and(changed, geometry.active)
        moving = cv2.dilate(changed, self._kernel, iterations=cfg.dilate_iterations)
        moving, boxes = self._keep_large(moving, geometry)
        cv2.accumulateWeighted(current, bg, cfg.alpha, mask=cv2.bitwise_not(moving))
        if cfg.alpha_moving > 0:
            cv2.accumulateWeighted(current, bg, cfg.alpha_moving, mask=moving)
        moving_pixels = cv2.countNonZero(moving)
        active_pixels = max(1, cv2.countNonZero(geometry.active))
        zones: dict[str, float] = {}
        for name, zmask in geometry.zone_masks.items():
            inside = cv2.countNonZero(cv2.bitwise_and(moving, zmask)) if moving_pixels else 0
            enough = inside > 0 and inside >= geometry.zone_min_pixels[name]
            zones[name] = inside / max(1, geometry.zone_pixels[name]) if enough else 0.0
        return MotionResult(
            boxes=tuple(boxes),
            motion_fraction=moving_pixels / active_pixels,
            calibrating=False,
            zone_fractions=zones,
        )

    def _prepare(self, luma: npt.NDArray[np.uint8]) -> Mask:
        """Contrast stretch with the averaged limits, then blur away pixel noise."""
        span = max(self._high - self._low, self.config.min_contrast)
        gain = 255.0 / span
        stretched: Mask = cv2.convertScaleAbs(
            luma, alpha=gain, beta=-self._low * gain
        )
        k = self.config.blur
        if k > 1:
            stretched = cv2.GaussianBlur(stretched, (k, k), 0)
        return stretched

    def _keep_large(self, moving: Mask, geometry: _Geometry) -> tuple[Mask, list[Box]]:
        h, w = geometry.shape
        min_pixels = self.config.min_area * h * w
        contours, _ = cv2.findContours(moving, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        keep = []
        boxes: list[Box] = []
        for contour in contours:
            x, y, bw, bh = cv2.boundingRect(contour)
            if bw * bh < min_pixels or cv2.contourArea(contour) < min_pixels:
                continue
            keep.append(contour)
            boxes.append(Box(x / w, y / h, bw / w, bh / h))
        if len(keep) == len(contours):
            return moving, boxes
        kept = np.zeros_like(moving)
        if keep:
            cv2.drawContours(kept, keep, -1, 255, thickness=cv2.FILLED)
            kept = cv2.bitwise_and(kept, moving)
        return kept, boxes

    def _geometry_for(self, shape: tuple[int, ...]) -> _Geometry:
        h, w = int(shape[0]), int(shape[1])
        if self._geometry is not None and self._geometry.shape == (h, w):
            return self._geometry
        cfg = self.config
        active: Mask = np.full((h, w), 255, np.uint8)
        if cfg.masks:
            active = cv2.bitwise_and(active, cv2.bitwise_not(polygon_mask(cfg.masks, (h, w))))
        geometry = _Geometry(shape=(h, w), active=active)
        for zone in cfg.zones:
            zmask = cv2.bitwise_and(polygon_mask([zone.polygon], (h, w)), active)
            geometry.zone_masks[zone.name] = zmask
            geometry.zone_pixels[zone.name] = cv2.countNonZero(zmask)
            geometry.zone_min_pixels[zone.name] = zone.min_area * h * w
        self._geometry = geometry
        return geometry


def _contrast_limits(luma: npt.NDArray[np.uint8]) -> tuple[float, float]:
    """The 1st and 99th luma percentiles, from a histogram (cheaper than sorting)."""
    hist = cv2.calcHist([luma], [0], None, [256], [0, 256]).ravel()
    cdf = np.cumsum(hist)
    total = cdf[-1]
    low = float(np.searchsorted(cdf, 0.01 * total))
    high = float(np.searchsorted(cdf, 0.99 * total))
    return low, high


def _quiet(geometry: _Geometry, calibrating: bool) -> MotionResult:
    return MotionResult(
        boxes=(),
        motion_fraction=0.0,
        calibrating=calibrating,
        zone_fractions={name: 0.0 for name in geometry.zone_masks},
    )




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
