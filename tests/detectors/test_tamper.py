"""Camera tamper and health detector on numpy-drawn scenes."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from detectors.base import FrameError, TamperFinding
from detectors.tamper import REASONS, CameraHealthDetector, TamperConfig
from tests.detectors.scenes import Scene, background

FPS = 5.0
Picture = np.ndarray


@pytest.fixture(scope="module")
def base() -> Picture:
    # Half the sub-stream size keeps the tests quick; the detector works at 120 rows anyway.
    return background(seed=11, h=180, w=320)


def blackout(img: Picture) -> Picture:
    return np.full_like(img, 3.0)


def covered(img: Picture) -> Picture:
    return cv2.GaussianBlur(img, (0, 0), sigmaX=40) * 0.12 + 8.0


def defocus(img: Picture) -> Picture:
    return cv2.GaussianBlur(img, (0, 0), sigmaX=7)


def moved(img: Picture) -> Picture:
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 6.0, 1.05)
    matrix[0, 2] += 0.08 * w
    return cv2.warpAffine(img, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)


EFFECTS: dict[str, Callable[[Picture], Picture]] = {
    "blackout": blackout,
    "covered": covered,
    "defocus": defocus,
    "moved": moved,
}


def run(detector: CameraHealthDetector, frames: list[np.ndarray], t0: float = 0.0):
    findings: list[TamperFinding] = []
    for i, frame in enumerate(frames):
        findings += detector.update(frame, t0 + i / FPS)
    return findings


def n(seconds: float) -> int:
    return int(seconds * FPS)


def episode_frames(scene: Scene, reason: str, healthy_s=8.0, episode_s=8.0, after_s=6.0):
    frames = [scene.render() for _ in range(n(healthy_s))]
    if reason == "frozen":
        still = scene.render()
        frames += [still] * n(episode_s)
    else:
        picture = EFFECTS[reason](scene.base)
        frames += [scene.render(picture=picture) for _ in range(n(episode_s))]
    frames += [scene.render() for _ in range(n(after_s))]
    return frames


@pytest.mark.parametrize("reason", REASONS)
def test_each_reason_is_raised_once_and_cleared_once(base, reason):
    detector = CameraHealthDetector()
    findings = run(detector, episode_frames(Scene(base, noise=3.0), reason))
    assert [(f.reason, f.raised) for f in findings] == [(reason, True), (reason, False)]
    raised, cleared = findings
    # Episode from 8 s to 16 s: raised within 5 s of its start, cleared after it ended.
    assert 8.0 < raised.ts <= 13.0
    assert 16.0 <= cleared.ts <= 16.0 + 4.0
    assert raised.threshold == detector._threshold(reason)
    # Every measure is 'lower is worse', so the worst value seen is under the threshold.
    assert raised.measure <= raised.threshold
    assert detector.raised == []


def test_short_glitch_below_persistence_is_not_raised(base):
    scene = Scene(base)
    frames = [scene.render() for _ in range(40)]
    frames += [scene.render(picture=blackout(base)) for _ in range(5)]  # 1 s
    frames += [scene.render() for _ in range(20)]
    assert run(CameraHealthDetector(), frames) == []


def test_walking_people_and_light_switches_are_not_tamper(base):
    scene = Scene(base, noise=4.0)
    frames = [scene.render() for _ in range(40)]
    for i in range(60):  # a large mover crossing back and forth, 12 s
        x = (i % 30) / 30
        frames.append(scene.render(block=(x, 0.2, 0.15, 0.7)))
    frames += [scene.render(gain=0.35) for _ in range(40)]  # lights down
    frames += [scene.render(gain=0.35, block=(0.3, 0.2, 0.15, 0.7)) for _ in range(10)]
    frames += [scene.render(gain=1.0) for _ in range(40)]  # lights back
    assert run(CameraHealthDetector(), frames) == []


def test_something_standing_in_front_of_part_of_the_view_is_not_moved(base):
    scene = Scene(base)
    frames = [scene.render() for _ in range(40)]
    frames += [scene.render(block=(0.1, 0.05, 0.4, 0.9)) for _ in range(60)]  # 12 s
    frames += [scene.render() for _ in range(20)]
    assert run(CameraHealthDetector(), frames) == []


def test_identical_frames_are_frozen_but_a_noisy_still_scene_is_not(base):
    scene = Scene(base, noise=2.0)
    assert run(CameraHealthDetector(), [scene.render() for _ in range(40)]) == []
    # A real sensor always adds noise; bit-identical frames mean the image stopped.
    still = Scene(base, noise=0.0)
    findings = run(CameraHealthDetector(), [still.render() for _ in range(40)])
    assert [(f.reason, f.raised) for f in findings] == [("frozen", True)]


def test_defocus_needs_a_learned_baseline(base):
    # A camera that starts out of focus has no healthy sharpness to compare with.
    scene = Scene(base)
    frames = [scene.render(picture=defocus(base)) for _ in range(40)]
    assert run(CameraHealthDetector(), frames) == []


def test_blackout_hides_weaker_reasons(base):
    # A black picture is also edge-less, unchanging and 'moved': only blackout is raised.
    detector = CameraHealthDetector()
    scene = Scene(base)
    frames = [scene.render() for _ in range(40)]
    frames += [scene.render(picture=blackout(base), noise=0.0)] * 40
    findings = run(detector, frames)
    assert [(f.reason, f.raised) for f in findings] == [("blackout", True)]


def test_rebaseline_accepts_a_new_view(base):
    detector = CameraHealthDetector()
    scene = Scene(base)
    shifted = moved(base)
    frames = [scene.render() for _ in range(40)]
    frames += [scene.render(picture=shifted) for _ in range(25)]
    findings = run(detector, frames)
    assert [(f.reason, f.raised) for f in findings] == [("moved", True)]
    detector.rebaseline()
    later = run(detector, [scene.render(picture=shifted) for _ in range(40)], t0=100.0)
    assert [(f.reason, f.raised) for f in later] == [("moved", False)]


def test_persistence_windows_are_configurable(base):
    config = TamperConfig(raise_seconds={r: 1.0 for r in REASONS}, clear_seconds=1.0)
    detector = CameraHealthDetector(config)
    findings = run(detector, episode_frames(Scene(base), "blackout", episode_s=4.0))
    raised, cleared = findings
    assert raised.ts == pytest.approx(8.0 + 1.0)
    assert cleared.ts == pytest.approx(12.0 + 1.0)


@pytest.mark.parametrize(
    "frame",
    [np.zeros((0, 10), np.uint8), np.zeros((100, 100), np.int16), np.zeros((5, 5, 3), np.uint8)],
    ids=["empty", "int16", "tiny"],
)
def test_bad_frames_raise_frame_error(frame):
    with pytest.raises(FrameError):
        CameraHealthDetector().update(frame, 0.0)


def test_a_raised_condition_is_not_cleared_by_a_stronger_one_hiding_it(base):
    scene = Scene(base)
    shifted = moved(base)
    frames = [scene.render() for _ in range(40)]
    frames += [scene.render(picture=shifted) for _ in range(25)]  # moved raised
    frames += [scene.render(picture=blackout(shifted)) for _ in range(25)]  # lights out
    frames += [scene.render(picture=shifted) for _ in range(25)]  # still moved
    findings = run(CameraHealthDetector(), frames)
    assert [(f.reason, f.raised) for f in findings] == [
        ("moved", True), ("blackout", True), ("blackout", False),
    ]


def test_cell_counts_match_counting_each_cell():
    from detectors.tamper import GRID, _cell_counts

    rng = np.random.default_rng(12)
    h, w = 121, 215  # not multiples of the grid: the remainder is outside every cell
    maps = tuple(((rng.random((h, w)) > p) * 255).astype(np.uint8) for p in (0.5, 0.9, 0.97,
                                                                             0.2, 0.7, 0.999))
    ch, cw = h // GRID, w // GRID
    cells = _cell_counts(maps, ch, cw)
    expected = [
        tuple(cv2.countNonZero(m[gy * ch:(gy + 1) * ch, gx * cw:(gx + 1) * cw]) for m in maps)
        for gy in range(GRID) for gx in range(GRID)
    ]
    assert cells == expected


def test_at_night_a_covered_lens_and_a_blackout_are_told_apart(base):
    # A dark noisy night picture (about a fifth of the light, as on the night clips). A hand
    # over the lens still lets a little light through (a dim flat glow, mean about 8); a
    # blackout is the black level. Both are noisy: a night sensor's gain is high.
    # Spreads as measured on the night sample clip's sub stream: std 1.4 covered, 0.6 black.
    night = Scene(base * 0.2, noise=6.0, grain=3.0)
    glow = Scene(np.full_like(base, 8.0), noise=1.5)
    black = Scene(np.full_like(base, 2.5), noise=0.7)
    frames = [night.render() for _ in range(n(8.0))]
    frames += [glow.render() for _ in range(n(8.0))]
    frames += [night.render() for _ in range(n(8.0))]
    frames += [black.render() for _ in range(n(8.0))]
    frames += [night.render() for _ in range(n(6.0))]
    findings = run(CameraHealthDetector(), frames)
    assert [(f.reason, f.raised) for f in findings] == [
        ("covered", True), ("covered", False), ("blackout", True), ("blackout", False),
    ]
    assert 8.0 < findings[0].ts <= 13.0 and 24.0 < findings[2].ts <= 29.0
