"""Frame-difference motion detection against a running-average background.

Per frame: luma at a small fixed height, blurred, contrast stretched with limits
averaged over recent frames, compared with a running-average background; the
difference is thresholded (at least ``threshold``, more on a noisy camera or in rain:
the noise estimate rises fast and falls slowly), masked, opened (thin streaks vanish),
dilated and split into contours; contours below a minimum area are dropped, and only
those overlapping one of the previous frame are reported (short-lived rain and glitch
blobs never are). When
most of the frame changes at once and the picture keeps its structure (lights switched
on or off, the exposure jumping) or goes flat, the detector recalibrates instead of
reporting motion.

Use, per camera::

    detector = FrameDiffMotionDetector(MotionConfig(masks=..., zones=...))
    tracker = MotionTracker(TrackerConfig(start_frames=3, off_delay=4.0))  # detectors.tracker
    for ts, frame in frames:                      # at the camera's detect fps
        for transition in tracker.update(detector.detect(frame), ts):
            ...                                   # motion.start / motion.end per zone
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
    Polygon,
    ZoneSpec,
)
from detectors.frames import polygon_mask, small_luma

MEDIAN_PROBES = 4
"""Levels of a difference image counted directly before its median comes from a histogram."""

FloatImage = npt.NDArray[np.float32]
Mask = npt.NDArray[Any]
"""A uint8 image as OpenCV returns it (its stubs type results loosely)."""
Rect = tuple[int, int, int, int]
_Blob = tuple[Mask, Rect]
"""A blob's contour and its bounding box (x, y, w, h) in working pixels."""


@dataclass(frozen=True)
class MotionConfig:
    """Tuning of :class:`FrameDiffMotionDetector`; defaults suit a 5 fps sub stream."""

    height: int = 90
    """Rows of the working image (width follows the aspect ratio)."""
    threshold: int = 14
    """Smallest grey-level difference (after contrast stretch) that makes a pixel
    'changed'; raised automatically to ``noise_factor`` times the measured noise."""
    noise_factor: float = 4.5
    """Threshold in units of the camera's measured noise (robust sigma of the difference)."""
    noise_alpha: float = 0.1
    """How fast the noise estimate follows when the noise falls ..."""
    noise_rise_alpha: float = 0.5
    """... and when it rises."""
    min_area: float = 0.0012
    """Smallest contour kept (after dilation), as a fraction of the frame ..."""
    min_changed: float = 0.001
    """... holding at least this fraction of the frame in changed pixels (before dilation)."""
    alpha: float = 0.05
    """Background learning rate where nothing moves."""
    alpha_moving: float = 0.005
    """Background learning rate under moving pixels, so a stopped object fades in slowly."""
    contrast_alpha: float = 0.3
    """How fast the contrast limits follow the picture."""
    min_contrast: float = 36.0
    """Smallest span between the 10th and 90th luma percentiles that is stretched to the
    working range: caps the gain so a flat dark picture's noise is not amplified."""
    stats_every: int = 2
    """The contrast limits and the noise level, both slowly moving averages, are measured
    on one frame in this many (every frame while calibrating), their rates raised to
    keep the same time constants: the two histograms are a large share of the per-frame
    cost. 1 measures every frame."""
    blur: int = 5
    dilate_iterations: int = 2
    open_size: int = 2
    """Side of the square opening applied to the changed pixels before dilation: changes
    thinner than this (in working pixels) are dropped. 1 disables it."""
    persistence: bool = True
    """Report a blob only when the previous frame had a blob inside its box. Rain, snow,
    insects and encoder glitches make short-lived blobs at random places; whatever
    really moves is still there, shifted by less than its own size, one sampled frame
    later. The cost is one frame of delay (the tracker's ``start_frames`` counts the
    confirmed frames)."""
    recalibrate_fraction: float = 0.45
    """Changed fraction of the picture (before masks) that means a global change ..."""
    lighting_correlation: float = 0.8
    """... caused by light when the picture still correlates this well with the background
    (a gain change keeps the scene's structure; something big in front of the lens does
    not), or when the picture went flat (lights out, lens covered)."""
    flat_std: float = 4.0
    max_global_frames: int = 10
    """A global change that is not lighting is reported as motion for at most this many
    frames, then accepted as the new background (a re-aimed camera, a parked lorry)."""
    calibration_frames: int = 8
    """Frames reported as calibrating after a reset (1.6 s at 5 fps) while the background
    and the noise level are relearned; an encoded stream's noise needs about that long
    (a group of pictures) to show its true level."""
    masks: tuple[Polygon, ...] = ()
    zones: tuple[ZoneSpec, ...] = ()


@dataclass
class _Geometry:
    shape: tuple[int, int]
    active: Mask
    active_pixels: int = 1
    masked: bool = False
    zone_masks: dict[str, Mask] = field(default_factory=dict)
    zone_pixels: dict[str, int] = field(default_factory=dict)
    zone_min_pixels: dict[str, float] = field(default_factory=dict)


@dataclass
class _Moving:
    """What moves in one frame: every large blob, and the confirmed ones reported."""

    moving: Mask
    moving_pixels: int
    reported: Mask
    reported_pixels: int
    boxes: list[Box]


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
        if self.config.stats_every < 1:
            raise ValueError("MotionConfig.stats_every must be at least 1")
        every = self.config.stats_every
        self._contrast_rate = 1.0 - (1.0 - self.config.contrast_alpha) ** every
        self._noise_rate = 1.0 - (1.0 - self.config.noise_alpha) ** every
        self._noise_rise_rate = 1.0 - (1.0 - self.config.noise_rise_alpha) ** every
        self._geometry: _Geometry | None = None
        self._background: FloatImage | None = None
        self._raw: FloatImage | None = None
        self._global_run = 0
        self._noise = 0.0
        self._noise_samples = 0
        self._low = 0.0
        self._high = 255.0
        self._calibrating = 0
        self._previous: Mask | None = None
        self._rising = False
        size = max(1, self.config.open_size)
        self._open_kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
        self._kernel = _iterated(
            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)), self.config.dilate_iterations
        )
        self._ramp = np.arange(256, dtype=np.float32)
        self._lut_key: tuple[float, float] | None = None
        self._lut = np.zeros(256, np.uint8)
        self.frames = 0
        self.recalibrations = 0

    def reset(self) -> None:
        """Forget the background; the next frames calibrate."""
        self._background = None
        self._raw = None

    def detect(self, frame: Frame) -> MotionResult:
        """Look at the next frame; raise :class:`FrameError` for an unusable frame."""
        cfg = self.config
        luma = small_luma(frame, cfg.height)
        geometry = self._geometry_for(luma.shape)
        self.frames += 1
        raw: Mask = cv2.GaussianBlur(luma, (cfg.blur, cfg.blur), 0) if cfg.blur > 1 else luma
        bg, raw_bg = self._background, self._raw
        if bg is None or raw_bg is None or bg.shape != luma.shape:
            self._restart(raw, *_contrast_limits(luma))
            return _quiet(geometry, calibrating=True)
        measure = (
            self._calibrating > 0 or self._rising or self.frames % cfg.stats_every == 0
        )
        if measure:
            self._follow_contrast(luma)
        current = self._stretch(raw)
        diff = cv2.absdiff(current, cv2.convertScaleAbs(bg))
        threshold = max(float(cfg.threshold), cfg.noise_factor * self._noise)
        _, changed = cv2.threshold(diff, threshold, 255, cv2.THRESH_BINARY)
        changed_pixels = cv2.countNonZero(changed)
        changed_fraction = changed_pixels / changed.size
        if measure and (self._calibrating > 0 or changed_fraction < 0.25):
            self._estimate_noise(diff)
        if self._global_change(changed_fraction, raw, raw_bg):
            # Lights or exposure changed the whole picture: start again from this frame.
            self.recalibrations += 1
            self._restart(raw, *_contrast_limits(luma))
            return _quiet(geometry, calibrating=True)
        if self._calibrating > 0:
            self._calibrate(current, raw, bg, raw_bg)
            return _quiet(geometry, calibrating=True)
        found = self._blobs(changed, changed_pixels, geometry)
        self._learn(current, raw, bg, raw_bg, found.moving if found.moving_pixels else None)
        return MotionResult(
            boxes=tuple(found.boxes),
            motion_fraction=found.reported_pixels / geometry.active_pixels,
            calibrating=False,
            zone_fractions=_zone_fractions(found, geometry),
        )

    # -- the steps of one frame ----------------------------------------------------------

    def _follow_contrast(self, luma: Mask) -> None:
        """Move the averaged contrast limits towards this frame's."""
        low, high = _contrast_limits(luma)
        self._low += self._contrast_rate * (low - self._low)
        self._high += self._contrast_rate * (high - self._high)

    def _estimate_noise(self, diff: Mask) -> None:
        """Update the camera's noise level from one difference image.

        Robust noise sigma from the median difference, learned only while most of the
        picture is still (the caller checks); a plain mean over the first frames after a
        restart, so a noisy camera never starts unguarded.
        """
        noise = _median(diff) * 1.4826
        self._noise_samples += 1
        # Noise that grows (rain or snow setting in, gain rising at dusk) is followed
        # quickly, or the lagging threshold lets it through as motion meanwhile.
        self._rising = noise > 1.2 * self._noise + 0.5  # measure the next frame too
        usual = self._noise_rise_rate if noise > self._noise else self._noise_rate
        rate = max(usual, 1.0 / self._noise_samples)
        self._noise += rate * (noise - self._noise)

    def _global_change(self, changed_fraction: float, raw: Mask, raw_bg: FloatImage) -> bool:
        """Whether this frame changed the whole picture in a way to recalibrate from.

        A global change that looks like light does at once; one that does not is reported
        as motion for ``max_global_frames`` frames first.
        """
        cfg = self.config
        if changed_fraction < cfg.recalibrate_fraction:
            self._global_run = 0
            return False
        if self._global_run >= cfg.max_global_frames or self._is_lighting(raw, raw_bg):
            return True
        self._global_run += 1
        return False

    def _calibrate(self, current: Mask, raw: Mask, bg: FloatImage, raw_bg: FloatImage) -> None:
        """Add one calibration frame to the new background.

        A plain mean of the calibration frames: the new background starts with as little
        of any single frame's noise as possible.
        """
        seen = self.config.calibration_frames - self._calibrating + 2
        self._calibrating -= 1
        cv2.accumulateWeighted(current, bg, 1.0 / seen)
        cv2.accumulateWeighted(raw, raw_bg, 1.0 / seen)

    def _blobs(self, changed: Mask, changed_pixels: int, geometry: _Geometry) -> _Moving:
        """From the changed pixels to the moving blobs and the confirmed ones."""
        cfg = self.config
        if changed_pixels == 0:
            # Nothing changed: nothing can move (the usual frame of a quiet scene).
            self._previous = None
            return _Moving(moving=changed, moving_pixels=0, reported=changed,
                           reported_pixels=0, boxes=[])
        if geometry.masked:
            changed = cv2.bitwise_and(changed, geometry.active)
        if cfg.open_size > 1:
            # Opening first: thin streaks (rain, snow, a cable in the wind) vanish,
            # anything wider than the kernel keeps its shape.
            changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, self._open_kernel)
        moving = cv2.dilate(changed, self._kernel) if cfg.dilate_iterations > 0 else changed
        moving, blobs = self._keep_large(moving, changed, geometry)
        moving_pixels = cv2.countNonZero(moving) if blobs else 0
        reported, boxes = self._confirmed(moving, blobs, geometry)
        reported_pixels = cv2.countNonZero(reported) if boxes else 0
        return _Moving(moving=moving, moving_pixels=moving_pixels, reported=reported,
                       reported_pixels=reported_pixels, boxes=boxes)

    def _learn(self, current: Mask, raw: Mask, bg: FloatImage, raw_bg: FloatImage,
               moving: Mask | None) -> None:
        """Learn the frame into the background: slowly under ``moving`` pixels.

        Every blob (confirmed or not) is learned slowly, so the first frame of a mover
        does not bleed into the background.
        """
        cfg = self.config
        if moving is None:
            # Nothing moves: the same updates without the (all-255, all-0) masks.
            cv2.accumulateWeighted(current, bg, cfg.alpha)
            cv2.accumulateWeighted(raw, raw_bg, cfg.alpha)
            return
        still = cv2.bitwise_not(moving)
        cv2.accumulateWeighted(current, bg, cfg.alpha, mask=still)
        cv2.accumulateWeighted(raw, raw_bg, cfg.alpha, mask=still)
        if cfg.alpha_moving > 0:
            cv2.accumulateWeighted(current, bg, cfg.alpha_moving, mask=moving)
            cv2.accumulateWeighted(raw, raw_bg, cfg.alpha_moving, mask=moving)

    # -- state ---------------------------------------------------------------------------

    def _restart(self, raw: Mask, low: float, high: float) -> None:
        self._low, self._high = low, high
        self._background = self._stretch(raw).astype(np.float32)
        self._raw = raw.astype(np.float32)
        self._calibrating = self.config.calibration_frames
        self._global_run = 0
        self._previous = None
        self._noise_samples = 0

    def _is_lighting(self, raw: Mask, raw_bg: FloatImage) -> bool:
        """Whether a whole-picture change looks like light (same structure, new gain)."""
        _, std = cv2.meanStdDev(raw)
        if float(std[0, 0]) < self.config.flat_std:
            return True
        score = cv2.matchTemplate(raw.astype(np.float32), raw_bg, cv2.TM_CCOEFF_NORMED)
        return float(score[0, 0]) >= self.config.lighting_correlation

    def _stretch(self, raw: Mask) -> Mask:
        """Map the averaged 10th..90th percentile span to 51..204 (saturating).

        The middle of the distribution is used, not its extremes, so a bright object
        (headlights in a dark street) does not change the stretch of the whole picture.
        """
        key = (self._low, self._high)
        if key != self._lut_key:
            span = max(self._high - self._low, self.config.min_contrast)
            levels = self._ramp - self._low  # 51 + (v - low) * 153 / span, in place
            levels *= 153.0 / span
            levels += 51.0
            np.clip(levels, 0, 255, out=levels)
            self._lut = levels.astype(np.uint8)
            self._lut_key = key
        stretched: Mask = cv2.LUT(raw, self._lut)
        return stretched

    def _keep_large(
        self, moving: Mask, changed: Mask, geometry: _Geometry
    ) -> tuple[Mask, list[_Blob]]:
        """The blobs large enough to count, as a mask and as (contour, box) pairs."""
        h, w = geometry.shape
        min_pixels = self.config.min_area * h * w
        min_changed = self.config.min_changed * h * w
        contours, _ = cv2.findContours(moving, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        keep: list[_Blob] = []
        for contour in contours:
            x, y, bw, bh = cv2.boundingRect(contour)
            if bw * bh < min_pixels or cv2.contourArea(contour) < min_pixels:
                continue
            # Dilation grows a speck of noise into a sizeable blob: also ask for enough
            # pixels that really changed inside it.
            if cv2.countNonZero(changed[y : y + bh, x : x + bw]) < min_changed:
                continue
            keep.append((contour, (x, y, bw, bh)))
        return _only(moving, keep, len(contours)), keep

    def _confirmed(
        self, moving: Mask, blobs: list[_Blob], geometry: _Geometry
    ) -> tuple[Mask, list[Box]]:
        """The blobs to report (see ``MotionConfig.persistence``) and their boxes.

        A blob is confirmed when it overlaps a blob of the previous frame (pixels of
        both, inside its box).
        """
        previous, self._previous = self._previous, (moving if blobs else None)
        total = len(blobs)
        if self.config.persistence:
            blobs = [
                blob for blob in blobs
                if previous is not None and _overlap(previous, moving, blob[1])
            ]
        h, w = geometry.shape
        boxes = [Box(x / w, y / h, bw / w, bh / h) for _, (x, y, bw, bh) in blobs]
        return _only(moving, blobs, total), boxes

    def _geometry_for(self, shape: tuple[int, ...]) -> _Geometry:
        h, w = int(shape[0]), int(shape[1])
        if self._geometry is not None and self._geometry.shape == (h, w):
            return self._geometry
        cfg = self.config
        active: Mask = np.full((h, w), 255, np.uint8)
        if cfg.masks:
            active = cv2.bitwise_and(active, cv2.bitwise_not(polygon_mask(cfg.masks, (h, w))))
        geometry = _Geometry(shape=(h, w), active=active,
                             active_pixels=max(1, cv2.countNonZero(active)),
                             masked=bool(cfg.masks))
        for zone in cfg.zones:
            zmask = cv2.bitwise_and(polygon_mask([zone.polygon], (h, w)), active)
            geometry.zone_masks[zone.name] = zmask
            geometry.zone_pixels[zone.name] = cv2.countNonZero(zmask)
            geometry.zone_min_pixels[zone.name] = zone.min_area * h * w
        self._geometry = geometry
        return geometry


def _contrast_limits(luma: npt.NDArray[np.uint8]) -> tuple[float, float]:
    """The 10th and 90th luma percentiles, from a histogram (cheaper than sorting)."""
    hist = cv2.calcHist([luma], [0], None, [256], [0, 256]).ravel()
    cdf = np.cumsum(hist)
    low, high = np.searchsorted(cdf, (0.1 * cdf[-1], 0.9 * cdf[-1]))
    return float(low), float(high)


def _median(image: Mask) -> float:
    """Median of a uint8 image: the first level with at least half the pixels at or below it.

    A difference image is mostly zeros and ones, and its histogram is slow (the counts of
    a handful of bins form one long dependency chain): counting the pixels above each
    of the first few levels finds the same median several times faster. The histogram
    takes over for a noisier picture.
    """
    total = image.size
    half = 0.5 * total
    for level in range(MEDIAN_PROBES):
        _, above = cv2.threshold(image, level, 255, cv2.THRESH_BINARY)
        if total - cv2.countNonZero(above) >= half:
            return float(level)
    cdf = np.cumsum(cv2.calcHist([image], [0], None, [256], [0, 256]).ravel())
    return float(np.searchsorted(cdf, 0.5 * cdf[-1]))


def _only(moving: Mask, blobs: list[_Blob], total: int) -> Mask:
    """``moving`` limited to ``blobs`` (``total``: how many blobs ``moving`` holds)."""
    if len(blobs) == total:
        return moving
    kept = np.zeros_like(moving)
    if blobs:
        cv2.drawContours(kept, [contour for contour, _ in blobs], -1, 255, cv2.FILLED)
        kept = cv2.bitwise_and(kept, moving)
    return kept


def _overlap(previous: Mask, current: Mask, rect: Rect) -> bool:
    """Whether ``previous`` and ``current`` share a pixel inside ``rect``."""
    x, y, w, h = rect
    both = cv2.bitwise_and(previous[y : y + h, x : x + w], current[y : y + h, x : x + w])
    return cv2.countNonZero(both) > 0


def _iterated(kernel: Mask, iterations: int) -> Mask:
    """The kernel whose one dilation equals ``iterations`` dilations by ``kernel``."""
    kh, kw = kernel.shape[:2]
    n = max(1, iterations)
    canvas = np.zeros(((kh - 1) * n + 1, (kw - 1) * n + 1), np.uint8)
    canvas[canvas.shape[0] // 2, canvas.shape[1] // 2] = 1
    combined: Mask = cv2.dilate(canvas, kernel, iterations=n)
    return combined


def _zone_fractions(found: _Moving, geometry: _Geometry) -> dict[str, float]:
    """Each zone's reported fraction, 0.0 below the zone's smallest area."""
    zones: dict[str, float] = {}
    for name, zmask in geometry.zone_masks.items():
        inside = (cv2.countNonZero(cv2.bitwise_and(found.reported, zmask))
                  if found.reported_pixels else 0)
        enough = inside > 0 and inside >= geometry.zone_min_pixels[name]
        zones[name] = inside / max(1, geometry.zone_pixels[name]) if enough else 0.0
    return zones


def _quiet(geometry: _Geometry, calibrating: bool) -> MotionResult:
    return MotionResult(
        boxes=(),
        motion_fraction=0.0,
        calibrating=calibrating,
        zone_fractions={name: 0.0 for name in geometry.zone_masks},
    )
