"""The clip renderer and its ground truth, on tiny synthetic clips (no encoding here)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from sample_streams.clips import FPS, ClipSpec, Tamper, catalogue, ground_truth, render
from sample_streams.scene import Mover

W, H = 192, 108
CLIPS = Path(__file__).resolve().parents[2] / "sample_streams" / "clips"


def tiny(seed: int = 7, **kw) -> ClipSpec:
    base = dict(
        name="tiny",
        seed=seed,
        duration_s=4.0,
        movers=(
            Mover("person", "walkway", 0.5, 0.6, 1, 1.0, seed),
            Mover("car", "road_near", 2.0, 0.9, -1, 1.0, seed + 1),
        ),
        switches=(1.0,),
        tamper=(Tamper(3.0, 3.6, "frozen"),),
    )
    base.update(kw)
    return ClipSpec(**base)  # type: ignore[arg-type]


def frames_of(spec: ClipSpec) -> list[np.ndarray]:
    return list(render(spec, W, H))


def test_render_is_deterministic_and_seeded():
    a, b = frames_of(tiny()), frames_of(tiny())
    assert len(a) == len(b) == 60
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    other = frames_of(tiny(seed=8))
    assert not np.array_equal(a[0], other[0])
    assert a[0].shape == (H, W, 3) and a[0].dtype == np.uint8


def test_ground_truth_shape():
    truth = ground_truth(tiny(), W, H)
    assert set(truth) >= {
        "name",
        "fps",
        "frames",
        "duration_s",
        "motion",
        "tamper",
        "light_switch",
        "notes",
    }
    assert truth["fps"] == FPS and truth["frames"] == 60 and truth["duration_s"] == 4.0
    assert [m["kind"] for m in truth["motion"]] == ["person", "car"]
    for m in truth["motion"]:
        assert 0 <= m["start_s"] < m["end_s"] <= truth["duration_s"]
        assert m["zone"] in ("walkway", "road_near")
    assert truth["tamper"] == [{"start_s": 3.0, "end_s": 3.6, "reason": "frozen"}]
    assert truth["light_switch"] == [1.0]
    json.dumps(truth)  # serialisable as is


def test_motion_truth_matches_pixels():
    """Without noise or drift, a frame differs from the last exactly when a mover is in view."""
    spec = tiny(switches=(), tamper=(), noise_sigma=0.0, drift_amplitude=0.0)
    frames = frames_of(spec)
    truth = ground_truth(spec, W, H)
    in_view = np.zeros(len(frames), bool)
    for m in truth["motion"]:
        in_view[round(m["start_s"] * FPS) : round(m["end_s"] * FPS)] = True
    for i in range(1, len(frames)):
        changed = not np.array_equal(frames[i], frames[i - 1])
        # A mover in view in this frame or the previous one (it may just have left) changes pixels.
        assert changed == bool(in_view[i] or in_view[i - 1]), i
    moving_pairs = sum(not np.array_equal(frames[i], frames[i - 1]) for i in range(1, len(frames)))
    assert moving_pairs > 20
    assert np.array_equal(frames[0], frames[1])  # nobody in view at the start


def test_frozen_episode_repeats_one_frame_and_light_switch_jumps():
    frames = frames_of(tiny())
    frozen = frames[45:54]  # 3.0 s .. 3.6 s
    assert all(np.array_equal(frozen[0], f) for f in frozen)
    assert not np.array_equal(frames[44], frames[45]) or not np.array_equal(frames[54], frames[53])
    before, after = frames[14].mean(), frames[15].mean()  # switch at 1.0 s = frame 15
    assert after < 0.6 * before


@pytest.mark.parametrize("reason", ["blackout", "covered", "defocus", "moved"])
def test_tamper_effects(reason):
    spec = tiny(movers=(), switches=(), tamper=(Tamper(1.0, 2.0, reason),), drift_amplitude=0.0)
    frames = frames_of(spec)
    clean, bad = frames[10].astype(np.float32), frames[20].astype(np.float32)
    grey_clean, grey_bad = clean.mean(axis=2), bad.mean(axis=2)
    sharp = cv2.Laplacian(grey_clean, cv2.CV_32F, ksize=3)

    def edges(img: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(img, (0, 0), 1.5)

    if reason == "blackout":
        assert grey_bad.mean() < 8
    elif reason == "covered":
        assert grey_bad.mean() < 0.25 * grey_clean.mean()
        assert edges(grey_bad).std() < 0.2 * edges(grey_clean).std()
    elif reason == "defocus":
        blurred = cv2.Laplacian(cv2.GaussianBlur(grey_bad, (0, 0), 1.0), cv2.CV_32F, ksize=3)
        assert (
            blurred.var()
            < 0.2
            * cv2.Laplacian(cv2.GaussianBlur(grey_clean, (0, 0), 1.0), cv2.CV_32F, ksize=3).var()
        )
        assert abs(grey_bad.mean() - grey_clean.mean()) < 10
    else:
        assert np.abs(grey_bad - grey_clean).mean() > 15
        assert abs(grey_bad.mean() - grey_clean.mean()) < 25
    assert sharp.var() > 0
    # After the episode the picture is back to the clean scene (noise aside).
    assert np.abs(frames[40].astype(np.float32) - clean).mean() < 6


def test_catalogue_matches_committed_truth():
    specs = catalogue()
    assert set(specs) == {"quiet", "people", "cars", "lightswitch", "tamper", "night"}
    for name, spec in specs.items():
        committed = json.loads((CLIPS / name / "truth.json").read_text())
        assert committed == ground_truth(spec), (
            f"{name}: regenerate with python -m sample_streams.generate"
        )
        assert 25 <= committed["duration_s"] <= 65
    tamper = specs["tamper"].tamper
    assert sorted(ep.reason for ep in tamper) == [
        "blackout",
        "covered",
        "defocus",
        "frozen",
        "moved",
    ]
    assert all(ep.end_s - ep.start_s >= 8 for ep in tamper)
    assert all(b.start_s - a.end_s > 0 for a, b in itertools.pairwise(tamper))
    assert not specs["quiet"].movers and not specs["quiet"].switches
    assert len(specs["lightswitch"].switches) == 2
