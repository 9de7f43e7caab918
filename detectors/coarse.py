"""Coarse motion: how much of the picture changed between two pictures seconds apart.

Health mode decodes a keyframe every few seconds; frame differencing at that rate cannot
follow a mover, but it still tells a busy view from an empty one. The picture is shrunk
to a small grid of cell means (area averaging: sensor noise and coding noise average
out), a global brightness change is taken off (the median cell difference), and the share
of cells that changed by more than ``cell_threshold`` grey levels is the measure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detectors.base import Frame
from detectors.frames import small_luma


@dataclass(frozen=True)
class CoarseMotionConfig:
    """Grid size and threshold of :class:`CoarseMotion`."""

    height: int = 36
    """Rows of the cell grid (the width follows the picture's aspect ratio: 64 at 16:9)."""
    cell_threshold: float = 10.0
    """Grey levels (0..255) a cell's mean must move beyond the global change to count."""


class CoarseMotion:
    """Fraction of the picture changed since the previous picture fed to it."""

    def __init__(self, config: CoarseMotionConfig | None = None) -> None:
        self.config = config or CoarseMotionConfig()
        self._previous: npt.NDArray[np.float32] | None = None

    def reset(self) -> None:
        """Forget the previous picture."""
        self._previous = None

    def update(self, frame: Frame) -> float | None:
        """The changed fraction since the last picture (None for the first, or when the
        picture size changed)."""
        cells = small_luma(frame, self.config.height).astype(np.float32)
        previous, self._previous = self._previous, cells
        if previous is None or previous.shape != cells.shape:
            return None
        diff = cells - previous
        shift = float(np.median(diff))
        changed = np.abs(diff - shift) > self.config.cell_threshold
        return int(np.count_nonzero(changed)) / int(changed.size)
