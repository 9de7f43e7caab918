"""Motion detector on numpy-drawn scenes (with the tracker where a test needs intervals)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detectors.base import FrameError, MotionResult, ZoneSpec
from detectors.motion import FrameDiffMotionDetector, MotionConfig
from detectors.tracker import MotionTracker
from tests.detectors.scenes import Scene, background

FPS = 5.0


@pytest.fixture(scope="module")
def base() -> np.ndarray:
    return background(seed=3)


def walk(x0: float, x1: float, frames: int) -> list[tuple[float, float, float, float]]:
    """A person-sized block walking across at mid height."""
    return [(x0 + (x1 - x0) * i / max(1, frames - 1), 0.45, 0.06, 0.3) for i in range(frames)]


def settle(detector: FrameDiffMotionDetector, scene: Scene, frames: int = 10) -> None:
    for _ in range(frames):
        detector.detect(scene.render())


def twice(detector: FrameDiffMotionDetector, frame: np.ndarray) -> MotionResult:
    """The result of a second sampled frame showing the same thing (a blob is reported
    once it persists, see ``MotionConfig.persistence``)."""
    detector.detect(frame)
    return detector.detect(frame)


def test_static_noisy_scene_has_no_motion(base):
    detector = FrameDiffMotionDetector()
    scene = Scene(base, noise=6.0)
    results = [detector.detect(scene.render()) for _ in range(60)]
    assert results[0].calibrating
    assert all(r.motion_fraction == 0.0 and not r.boxes for r in results[5:])


@pytest.mark.parametrize(("noise", "gain"), [(12.0, 1.0), (25.0, 0.3), (40.0, 1.0)])
def test_heavy_noise_even_in_the_dark_is_not_motion_but_a_person_still_is(base, noise, gain):
    detector = FrameDiffMotionDetector()
    scene = Scene(base, noise=noise)
    quiet = [detector.detect(scene.render(gain=gain)) for _ in range(40)]
    assert all(r.motion_fraction == 0.0 for r in quiet)
    person = twice(detector, scene.render(gain=gain, block=(0.4, 0.45, 0.06, 0.3)))
    assert person.motion_fraction > 0.01


def test_coarse_grain_in_a_dark_scene_never_starts_motion(base):
    detector, tracker = FrameDiffMotionDetector(), MotionTracker()
    scene = Scene(base, noise=7.0, grain=6.0)
    transitions = []
    for i in range(150):  # 30 s
        transitions += tracker.update(detector.detect(scene.render(gain=0.25)), i / FPS)
    assert transitions == []


def test_bright_object_in_a_dark_scene_stays_local(base):
    # Headlights at night: a bright object must not re-stretch the whole picture.
    detector = FrameDiffMotionDetector()
    scene = Scene(base, noise=6.0)
    for _ in range(20):
        detector.detect(scene.render(gain=0.3))
    for i in range(6):
        r = detector.detect(scene.render(gain=0.3, block=(0.05 * i, 0.45, 0.12, 0.3)))
        assert not r.calibrating
        if i > 0:  # reported from the second frame on (the blob persists)
            assert 0.02 < r.motion_fraction < 0.1
    assert detector.recalibrations == 0


def test_moving_block_is_detected_with_a_box_where_it_is(base):
    detector = FrameDiffMotionDetector()
    scene = Scene(base)
    settle(detector, scene)
    first = detector.detect(scene.render(block=(0.39, 0.45, 0.06, 0.3)))
    # A blob seen once is not reported yet: rain and glitches last one frame.
    assert not first.calibrating and first.motion_fraction == 0.0 and first.boxes == ()
    result = detector.detect(scene.render(block=(0.40, 0.45, 0.06, 0.3)))
    assert not result.calibrating
    assert 0.01 < result.motion_fraction < 0.1
    assert len(result.boxes) >= 1
    box = max(result.boxes, key=lambda b: b.w * b.h)
    # The box covers the block's centre (0.43, 0.6).
    assert box.x <= 0.43 <= box.x + box.w
    assert box.y <= 0.60 <= box.y + box.h


def test_tiny_change_below_min_area_is_ignored(base):
    detector = FrameDiffMotionDetector(MotionConfig(min_area=0.01))
    scene = Scene(base)
    settle(detector, scene)
    result = twice(detector, scene.render(block=(0.5, 0.5, 0.02, 0.04)))
    assert result.motion_fraction == 0.0 and result.boxes == ()


def test_light_switch_recalibrates_instead_of_reporting_motion(base):
    detector = FrameDiffMotionDetector()
    scene = Scene(base)
    settle(detector, scene)
    for gain in (0.4, 1.0, 0.3):
        results = [detector.detect(scene.render(gain=gain)) for _ in range(15)]
        assert results[0].calibrating
        assert all(r.motion_fraction == 0.0 and not r.boxes for r in results)
        assert not results[-1].calibrating
    assert detector.recalibrations == 3
    # Motion is seen again once the background has been relearned in the new light.
    moving = twice(detector, scene.render(gain=0.3, block=(0.3, 0.45, 0.06, 0.3)))
    assert moving.motion_fraction > 0.0


def test_slow_light_drift_is_followed_without_motion(base):
    detector = FrameDiffMotionDetector()
    scene = Scene(base)
    gains = 1.0 + 0.15 * np.sin(np.linspace(0, 2 * np.pi, 150))
    results = [detector.detect(scene.render(gain=float(g))) for g in gains]
    assert all(r.motion_fraction == 0.0 for r in results)


def test_mask_hides_motion_inside_it(base):
    mask = [(0.3, 0.0), (0.6, 0.0), (0.6, 1.0), (0.3, 1.0)]
    masked = FrameDiffMotionDetector(MotionConfig(masks=(mask,)))
    plain = FrameDiffMotionDetector()
    scene = Scene(base)
    for _ in range(10):
        frame = scene.render()
        masked.detect(frame)
        plain.detect(frame)
    inside = scene.render(block=(0.4, 0.45, 0.06, 0.3))
    assert twice(plain, inside).motion_fraction > 0
    assert twice(masked, inside).motion_fraction == 0.0
    outside = scene.render(block=(0.75, 0.45, 0.06, 0.3))
    assert twice(masked, outside).motion_fraction > 0


def test_zone_fractions_report_only_the_zone_with_motion(base):
    left = ZoneSpec("left", [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)])
    right = ZoneSpec("right", [(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)])
    detector = FrameDiffMotionDetector(MotionConfig(zones=(left, right)))
    scene = Scene(base)
    settle(detector, scene)
    result = twice(detector, scene.render(block=(0.15, 0.45, 0.06, 0.3)))
    assert set(result.zone_fractions) == {"left", "right"}
    assert result.zone_fractions["left"] > 0.0
    assert result.zone_fractions["right"] == 0.0
    # Fraction of the zone, so about twice the whole-frame fraction for a half-frame zone.
    assert result.zone_fractions["left"] == pytest.approx(2 * result.motion_fraction, rel=0.1)


def test_zone_min_area_filters_small_motion_in_that_zone(base):
    strict = ZoneSpec("strict", [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)], min_area=0.2)
    loose = ZoneSpec("loose", [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)], min_area=0.001)
    detector = FrameDiffMotionDetector(MotionConfig(zones=(strict, loose)))
    scene = Scene(base)
    settle(detector, scene)
    result = twice(detector, scene.render(block=(0.4, 0.45, 0.06, 0.3)))
    assert result.zone_fractions["strict"] == 0.0
    assert result.zone_fractions["loose"] > 0.0


def test_resolution_change_restarts_calibration(base):
    detector = FrameDiffMotionDetector()
    scene = Scene(base)
    settle(detector, scene)
    # Same aspect ratio: the working image keeps its size, the background stays valid.
    half = np.ascontiguousarray(scene.render()[::2, ::2])
    same = detector.detect(half)
    assert not same.calibrating and same.motion_fraction == 0.0
    # Another aspect ratio: the working image changes size, so calibration restarts.
    assert detector.detect(np.ascontiguousarray(scene.render()[:200, :300])).calibrating


def test_grey_and_bgr_frames_agree(base):
    scene = Scene(base, noise=0.0)
    frame = scene.render()
    grey = np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    a, b = FrameDiffMotionDetector(), FrameDiffMotionDetector()
    for _ in range(5):
        a.detect(frame)
        b.detect(grey)
    moved = scene.render(block=(0.4, 0.45, 0.06, 0.3))
    ra = twice(a, moved)
    rb = twice(b, np.asarray(cv2.cvtColor(moved, cv2.COLOR_BGR2GRAY), dtype=np.uint8))
    assert ra.motion_fraction == pytest.approx(rb.motion_fraction, abs=0.01)


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((360, 640, 3), np.float32),
        np.zeros((360, 640, 4), np.uint8),
        np.zeros((360, 640, 3, 1), np.uint8),
        np.zeros((8, 640, 3), np.uint8),
        "not a frame",
    ],
    ids=["empty", "float", "bgra", "4d", "too-thin", "str"],
)
def test_bad_frames_raise_frame_error(frame):
    with pytest.raises(FrameError):
        FrameDiffMotionDetector().detect(frame)


def test_bad_frame_does_not_disturb_the_state(base):
    detector = FrameDiffMotionDetector()
    scene = Scene(base)
    settle(detector, scene)
    with pytest.raises(FrameError, match="empty"):
        detector.detect(np.zeros((0, 640, 3), np.uint8))
    assert detector.detect(scene.render()).calibrating is False


def test_detector_and_tracker_on_a_walk_give_one_interval(base):
    detector = FrameDiffMotionDetector()
    tracker = MotionTracker()
    scene = Scene(base, noise=4.0)
    frames = [scene.render() for _ in range(20)]
    frames += [scene.render(block=b) for b in walk(0.0, 0.9, 25)]
    frames += [scene.render() for _ in range(40)]
    transitions = []
    for i, frame in enumerate(frames):
        transitions += [t for t in tracker.update(detector.detect(frame), i / FPS) if t.zone == "*"]
    assert [t.started for t in transitions] == [True, False]
    start, end = transitions[0].ts, transitions[1].ts
    assert 4.0 <= start <= 4.0 + 3 / FPS + 1e-9
    assert 9.0 <= end <= 9.0 + 6.0
    assert transitions[0].box is not None


def test_something_big_in_front_of_the_lens_is_motion_not_lighting(base):
    detector = FrameDiffMotionDetector()
    scene = Scene(base)
    settle(detector, scene)
    big = (0.1, 0.05, 0.75, 0.9)  # two thirds of the picture
    first = twice(detector, scene.render(block=big))
    assert not first.calibrating and first.motion_fraction > 0.5
    assert detector.recalibrations == 0
    # Staying there, it becomes the background after max_global_frames.
    results = [detector.detect(scene.render(block=big)) for _ in range(15)]
    assert detector.recalibrations == 1
    assert results[-1].motion_fraction == 0.0


def test_lights_out_recalibrates(base):
    detector = FrameDiffMotionDetector()
    scene = Scene(base)
    settle(detector, scene)
    dark = detector.detect(scene.render(gain=0.0, noise=1.0))
    assert dark.calibrating and dark.motion_fraction == 0.0


def test_stats_every_must_be_positive():
    with pytest.raises(ValueError, match="stats_every"):
        FrameDiffMotionDetector(MotionConfig(stats_every=0))


@pytest.mark.parametrize("every", [1, 2, 3])
def test_walker_is_found_whatever_the_stats_cadence(base, every):
    detector = FrameDiffMotionDetector(MotionConfig(stats_every=every))
    scene = Scene(base, seed=4)
    settle(detector, scene)
    moving = []
    for block in walk(0.1, 0.8, 12):
        moving.append(detector.detect(scene.render(block=block)).motion_fraction)
    assert min(moving[2:]) > 0.0


def rain(picture: np.ndarray, rng: np.random.Generator, streaks: int, level: float) -> np.ndarray:
    """``picture`` with thin bright rain streaks at random places (1 px wide, 8-18 long)."""
    overlay: np.ndarray = np.zeros(picture.shape[:2], np.float32)
    h, w = overlay.shape
    for _ in range(streaks):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        length = int(rng.integers(8, 18))
        cv2.line(overlay, (x, y), (x + length // 5, y + length), level, 1)
    streaked: np.ndarray = np.clip(picture + overlay[..., None], 0, 255)
    return streaked


@pytest.mark.parametrize(("streaks", "level"), [(350, 45.0), (700, 60.0)])
def test_rain_setting_in_is_not_motion_but_a_person_in_the_rain_is(base, streaks, level):
    # Dry for 10 s, rain sets in over 1 s and stays; a person walks through it at 24 s.
    detector, tracker = FrameDiffMotionDetector(), MotionTracker()
    scene = Scene(base, noise=2.0)
    rng = np.random.default_rng(1)
    transitions = []
    for i in range(150):
        share = min(1.0, max(0.0, (i - 50) / 5))
        block = (0.1 + 0.03 * (i - 120), 0.45, 0.06, 0.3) if 120 <= i < 145 else None
        frame = scene.render(picture=rain(base, rng, int(streaks * share), level), block=block)
        result = detector.detect(frame)
        if i < 120:
            assert result.boxes == (), f"rain reported as motion at frame {i}"
        transitions += [t for t in tracker.update(result, i / FPS) if t.zone == "*"]
    assert [t.started for t in transitions] == [True]
    assert 24.0 <= transitions[0].ts <= 25.0


def test_blobs_in_random_places_each_frame_are_never_reported(base):
    # Something new in a new place every frame (insects at the lens, encoder glitches):
    # no blob is there a frame later, so none is reported, while the same blobs held
    # for two frames are.
    detector = FrameDiffMotionDetector()
    scene = Scene(base)
    settle(detector, scene)
    spots = [(0.05 + 0.15 * (i % 6), 0.1 + 0.4 * (i % 2), 0.05, 0.12) for i in range(30)]
    assert all(detector.detect(scene.render(block=s)).boxes == () for s in spots)
    assert twice(detector, scene.render(block=spots[0])).boxes != ()


def test_persistence_and_opening_can_be_switched_off(base):
    detector = FrameDiffMotionDetector(MotionConfig(persistence=False, open_size=1))
    scene = Scene(base)
    settle(detector, scene)
    assert detector.detect(scene.render(block=(0.4, 0.45, 0.06, 0.3))).motion_fraction > 0.01
