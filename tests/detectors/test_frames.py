"""Frame checks: any array gives a result or a FrameError, never another exception."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from detectors.base import FrameError
from detectors.frames import (
    MIN_SIDE,
    check_frame,
    halve,
    halves_first,
    polygon_mask,
    small_luma,
)
from detectors.motion import FrameDiffMotionDetector
from detectors.tamper import CameraHealthDetector

DTYPES = st.sampled_from([np.uint8, np.int8, np.uint16, np.int32, np.float32, np.float64, bool])

shapes = st.one_of(
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=70),
    st.tuples(st.integers(0, 70), st.integers(0, 70)),
    st.tuples(st.integers(0, 70), st.integers(0, 70), st.sampled_from([1, 2, 3, 4])),
)


@st.composite
def any_frame(draw):
    dtype = draw(DTYPES)
    shape = draw(shapes)
    return np.zeros(shape, dtype) + np.array(draw(st.integers(0, 1)), dtype)


def usable(frame: np.ndarray) -> bool:
    return (
        frame.dtype == np.uint8
        and frame.ndim in (2, 3)
        and (frame.ndim == 2 or frame.shape[2] in (1, 3))
        and min(frame.shape[:2]) >= MIN_SIDE
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=any_frame())
def test_motion_detector_gives_a_result_or_frame_error(frame):
    detector = FrameDiffMotionDetector()
    try:
        result = detector.detect(frame)
    except FrameError as exc:
        assert not usable(frame)
        assert str(exc)  # says why
    else:
        assert usable(frame)
        assert 0.0 <= result.motion_fraction <= 1.0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=any_frame())
def test_health_detector_gives_a_result_or_frame_error(frame):
    detector = CameraHealthDetector()
    try:
        findings = detector.update(frame, 0.0)
    except FrameError:
        assert not usable(frame)
    else:
        assert usable(frame) and findings == []


@settings(max_examples=150, deadline=None)
@given(
    h=st.integers(MIN_SIDE, 400),
    w=st.integers(MIN_SIDE, 400),
    channels=st.sampled_from([None, 1, 3]),
    seed=st.integers(0, 2**16),
)
def test_odd_sizes_work_and_keep_the_working_height(h, w, channels, seed):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (h, w, channels)
    frame = rng.integers(0, 256, shape, dtype=np.uint8)
    luma = small_luma(frame, 90)
    assert luma.shape[0] == 90 and luma.dtype == np.uint8
    assert 1 <= luma.shape[1] <= 360
    detector = FrameDiffMotionDetector()
    assert detector.detect(frame).calibrating
    assert 0.0 <= detector.detect(frame).motion_fraction <= 1.0


def test_non_contiguous_views_are_accepted():
    frame = np.zeros((360, 640, 3), np.uint8)
    view = frame[::2, ::3]
    assert check_frame(view) is view
    assert small_luma(view, 90).shape == (90, 107)  # 180x214 keeps its aspect ratio


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (np.zeros((0, 640, 3), np.uint8), "empty"),
        (np.zeros((360, 640, 3), np.float64), "dtype"),
        (np.zeros((360, 640, 2), np.uint8), "channels"),
        (np.zeros((360,), np.uint8), "dimensions"),
        (np.zeros((10, 640), np.uint8), "outside"),
        ([[1, 2], [3, 4]], "numpy array"),
    ],
)
def test_error_messages_say_why(frame, message):
    with pytest.raises(FrameError, match=message):
        check_frame(frame)


def test_polygon_mask_fills_the_normalised_area():
    mask = polygon_mask([[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]], (100, 200))
    assert mask[:, :90].all() and not mask[:, 110:].any()
    with pytest.raises(ValueError, match="3 points"):
        polygon_mask([[(0.0, 0.0), (1.0, 1.0)]], (10, 10))


@pytest.mark.parametrize(
    ("shape", "height", "reference"),
    [
        ((360, 640), 90, (slice(None), slice(None))),  # two exact halvings
        ((360, 640), 120, (slice(None), slice(0, 639))),  # a 3x3 box, 640 -> 213 columns
        ((720, 1280), 120, (slice(None), slice(0, 1278))),  # a halving, then a 3x3 box
        ((1080, 1920), 90, (slice(None), slice(None))),  # halvings, then a 3x3 box
    ],
)
def test_grey_frames_are_area_averaged_on_fast_paths(shape, height, reference):
    rng = np.random.default_rng(7)
    grey = rng.integers(0, 256, shape, dtype=np.uint8)
    luma = small_luma(grey, height)
    src = grey[reference]
    expected = cv2.resize(src, (luma.shape[1], height), interpolation=cv2.INTER_AREA)
    assert luma.shape == expected.shape and luma.flags.c_contiguous
    # One area average in several steps: equal up to the rounding of each step.
    assert int(np.abs(luma.astype(np.int16) - expected).max()) <= 1


def test_grey_frames_of_any_factor_keep_the_requested_size():
    rng = np.random.default_rng(8)
    for h, w in [(241, 333), (300, 16), (17, 400), (480, 640), (1080, 1920)]:
        grey = rng.integers(0, 256, (h, w), dtype=np.uint8)
        for height in (90, 120):
            luma = small_luma(grey, height)
            assert luma.shape == (height, max(1, min(4 * height, round(w * height / h))))


def test_small_luma_of_the_halved_frame_is_the_same_when_it_halves_first():
    rng = np.random.default_rng(10)
    used = 0
    for _ in range(300):
        h, w = int(rng.integers(MIN_SIDE, 800)), int(rng.integers(MIN_SIDE, 800))
        grey = rng.integers(0, 256, (h, w), dtype=np.uint8)
        for height in (45, 90, 120):
            if halves_first(grey.shape, height):
                used += 1
                assert np.array_equal(small_luma(halve(grey), height), small_luma(grey, height))
    assert used > 100
    assert halves_first((360, 640), 90) and not halves_first((360, 640), 120)
