"""Numpy-drawn test scenes: a textured static picture, sensor noise, a moving block."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]


def background(seed: int = 1, h: int = 360, w: int = 640) -> npt.NDArray[np.float32]:
    """A static scene with edges and texture everywhere (blocks, lines, smooth noise)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    coarse = rng.uniform(60, 200, (h // 40 + 1, w // 40 + 1, 3)).astype(np.float32)
    img += cv2.resize(coarse, (w, h), interpolation=cv2.INTER_NEAREST)
    fine = rng.normal(0, 12, (h // 4, w // 4, 3)).astype(np.float32)
    img += cv2.resize(fine, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(25):
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.line(img, p1, p2, tuple(float(v) for v in rng.uniform(0, 255, 3)), 2)
    return np.clip(img, 0, 255)


@dataclass
class Scene:
    """Renders frames of a static scene with optional mover, lighting and noise."""

    base: npt.NDArray[np.float32]
    noise: float = 3.0
    seed: int = 7
    grain: float = 0.0
    """Spatially coarse noise (8x8-pixel cells), as low-light sensors and encoders make."""

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def render(
        self,
        gain: float = 1.0,
        block: tuple[float, float, float, float] | None = None,
        noise: float | None = None,
        picture: npt.NDArray[np.float32] | None = None,
    ) -> Frame:
        """One frame; ``block`` = (x, y, w, h) normalised, drawn as a dark textured box."""
        img = (self.base if picture is None else picture) * gain
        if block is not None:
            h, w = img.shape[:2]
            x, y, bw, bh = block
            x0, y0 = int(x * w), int(y * h)
            x1, y1 = int((x + bw) * w), int((y + bh) * h)
            img = img.copy()
            img[y0:y1, x0:x1] = (30, 40, 90)
            img[y0:y1:6, x0:x1] = (200, 180, 160)
        sigma = self.noise if noise is None else noise
        if sigma > 0:
            img = img + self.rng.standard_normal(img.shape, dtype=np.float32) * sigma
        if self.grain > 0:
            h, w = img.shape[:2]
            coarse = self.rng.standard_normal((h // 8, w // 8), dtype=np.float32)
            grain = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR) * self.grain
            img = img + grain[..., None]
        return np.asarray(np.clip(img, 0, 255), dtype=np.uint8)
