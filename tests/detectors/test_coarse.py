"""Coarse motion between pictures seconds apart."""

from __future__ import annotations

import numpy as np

from detectors.coarse import CoarseMotion


def picture(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.tile(np.linspace(40, 200, 640, dtype=np.float32), (360, 1))
    return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


def test_first_picture_has_no_measure_and_noise_is_not_motion() -> None:
    coarse = CoarseMotion()
    assert coarse.update(picture(1)) is None
    assert coarse.update(picture(2)) == 0.0  # fresh sensor noise only


def test_a_global_brightness_change_is_not_motion_but_a_mover_is() -> None:
    coarse = CoarseMotion()
    coarse.update(picture(1))
    brighter = np.clip(picture(2).astype(np.int16) + 30, 0, 255).astype(np.uint8)
    assert coarse.update(brighter) == 0.0
    person = brighter.copy()
    person[100:300, 200:260] = 10  # a dark figure: 200 x 60 of 360 x 640 pixels
    fraction = coarse.update(person)
    assert fraction is not None and 0.03 < fraction < 0.1


def test_reset_and_a_new_size_start_over() -> None:
    coarse = CoarseMotion()
    coarse.update(picture(1))
    coarse.reset()
    assert coarse.update(picture(2)) is None
    assert coarse.update(np.zeros((480, 640), np.uint8)) is None
