"""Frame checks, luma extraction, downscaling and polygon masks shared by the detectors."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from detectors.base import Frame, FrameError, Polygon

MIN_SIDE = 16
"""Smallest accepted frame side in pixels: below this there is nothing to detect."""

MAX_SIDE = 16384


def check_frame(frame: object) -> Frame:
    """Return ``frame`` if it is a usable BGR or grey uint8 image, else raise FrameError.

    Accepted shapes: ``(h, w)``, ``(h, w, 1)`` and ``(h, w, 3)``, each side
    ``MIN_SIDE..MAX_SIDE`` pixels.
    """
    if not isinstance(frame, np.ndarray):
        raise FrameError(f"a frame must be a numpy array, got {type(frame).__name__}")
    if frame.size == 0:
        raise FrameError(f"empty frame (shape {frame.shape})")
    if frame.dtype != np.uint8:
        raise FrameError(f"frame dtype must be uint8, got {frame.dtype}")
    if frame.ndim not in (2, 3):
        raise FrameError(f"frame must be (h, w) or (h, w, 3), got {frame.ndim} dimensions")
    if frame.ndim == 3 and frame.shape[2] not in (1, 3):
        raise FrameError(
            f"frame must have 1 (grey) or 3 (BGR) channels, got {frame.shape[2]}"
        )
    h, w = frame.shape[:2]
    if min(h, w) < MIN_SIDE or max(h, w) > MAX_SIDE:
        raise FrameError(
            f"frame size {w}x{h} is outside {MIN_SIDE}..{MAX_SIDE} pixels per side"
        )
    return frame


def small_luma(frame: object, height: int) -> npt.NDArray[np.uint8]:
    """The frame's luma plane resized to ``height`` rows, keeping the aspect ratio.

    The frame is checked first (FrameError when unusable). Downscaling uses area
    averaging, which also removes most per-pixel sensor noise. BGR frames are
    decimated before the colour conversion when they are much larger than the target,
    so the per-frame cost does not grow with the input resolution.
    """
    img = check_frame(frame)
    h, w = img.shape[:2]
    width = _width(h, w, height)
    if img.ndim == 3 and img.shape[2] == 3:
        step = h // (2 * height)
        if step >= 2:
            img = img[::step, ::step]
        grey = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGR2GRAY)
    else:
        grey = _area_shrink(img.reshape(h, w), height)
    if grey.shape[0] == height and grey.shape[1] == width:
        return np.ascontiguousarray(grey)
    interp = cv2.INTER_AREA if grey.shape[0] >= height else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(grey, (width, height), interpolation=interp), dtype=np.uint8)


def _area_shrink(grey: npt.NDArray[np.uint8], height: int) -> npt.NDArray[np.uint8]:
    """Area-average ``grey`` down towards ``height`` rows with OpenCV's fast paths only.

    OpenCV's area resize is vectorised for an exact halving only: 360 rows to 90 cost
    about six times more in one step than in two halvings, and 360 to 120 (a factor of
    3) more than twice a 3x3 box filter sampled every third pixel, which gives the same
    averages. So: halve while the factor is even or inexact, finish an odd exact factor
    with the box filter. What is left (a factor under 2) is for the caller's resize, on
    a small image by then. An odd last row or column is dropped before a halving.
    """
    while True:
        h, w = grey.shape[:2]
        factor = h // height
        if factor < 2 or w < 2:
            return grey
        if factor % 2 == 1 and h == factor * height and w >= factor:
            centre, cols = factor // 2, (w // factor) * factor
            box = cv2.blur(grey, (factor, factor))
            return np.ascontiguousarray(box[centre:h:factor, centre:cols:factor])
        grey = halve(grey)


def halve(grey: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """2x2 area averages of a grey image (an odd last row or column is dropped)."""
    half_h, half_w = grey.shape[0] // 2, grey.shape[1] // 2
    return np.asarray(cv2.resize(grey[: 2 * half_h, : 2 * half_w], (half_w, half_h),
                                 interpolation=cv2.INTER_AREA), dtype=np.uint8)


def halves_first(shape: tuple[int, ...], height: int) -> bool:
    """Whether :func:`small_luma` of a grey image of ``shape`` starts with :func:`halve`.

    Then it gives the same result from the halved image, which a caller may have made
    already (the reader halves each sampled frame while it is still in the cache).
    """
    h, w = shape[0], shape[1]
    factor = h // height
    if (factor < 2 or min(h // 2, w // 2) < MIN_SIDE or max(h, w) > MAX_SIDE
            or _width(h, w, height) != _width(h // 2, w // 2, height)):
        return False  # the halved image would be refused, or give another width
    return not (factor % 2 == 1 and h == factor * height and w >= factor)


def _width(h: int, w: int, height: int) -> int:
    """Columns of the ``height``-row picture of an ``h`` x ``w`` frame (aspect kept)."""
    return max(1, min(4 * height, round(w * height / h)))


def polygon_mask(
    polygons: Sequence[Polygon], shape: tuple[int, int]
) -> npt.NDArray[np.uint8]:
    """A uint8 mask (255 inside any polygon) of ``shape`` = (h, w) from normalised polygons."""
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    for polygon in polygons:
        if len(polygon) < 3:
            raise ValueError("a polygon needs at least 3 points")
        pts = np.array(
            [[round(min(max(x, 0.0), 1.0) * (w - 1)), round(min(max(y, 0.0), 1.0) * (h - 1))]
             for x, y in polygon],
            np.int32,
        )
        cv2.fillPoly(mask, [pts], 255)
    return mask
