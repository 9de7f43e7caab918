"""The clip renderer and its ground truth, on tiny synthetic clips (no encoding here)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from sample_streams import scene
from sample_streams.clips import FPS, ClipSpec, Tamper, catalogue, ground_truth, render
from sample_streams.scene import Foliage, Mover

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
    assert set(specs) == {
        "quiet",
        "people",
        "cars",
        "lightswitch",
        "tamper",
        "night",
        "sparse",
        "rain",
        "night_tamper",
        "static_long",
    }
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


def polygon_mask(polygons: list[list[list[int]]], w: int = W, h: int = H) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    for poly in polygons:
        cv2.fillPoly(mask, [np.array(poly, np.int32)], 255)
    return mask > 0


def test_swaying_foliage_stays_inside_its_distractor_polygon():
    """Without noise, pixels outside the canopy regions change only while a mover is in view."""
    spec = tiny(
        switches=(),
        tamper=(),
        noise_sigma=0.0,
        drift_amplitude=0.0,
        foliage=(Foliage(0.25, 0.3, 0.15, seed=5), Foliage(0.8, 0.35, 0.1, period_s=1.7, seed=6)),
    )
    frames = frames_of(spec)
    truth = ground_truth(spec, W, H)
    assert [d["kind"] for d in truth["distractors"]] == ["foliage", "foliage"]
    inside = polygon_mask([d["polygon"] for d in truth["distractors"]])
    assert 0.02 < inside.mean() < 0.3  # a local region, not the whole picture
    in_view = np.zeros(len(frames), bool)
    for m in truth["motion"]:
        in_view[round(m["start_s"] * FPS) : round(m["end_s"] * FPS)] = True
    swaying = 0
    for i in range(1, len(frames)):
        diff = np.any(frames[i] != frames[i - 1], axis=2)
        swaying += int(diff[inside].any())
        outside = bool(diff[~inside].any())
        assert outside == bool(in_view[i] or in_view[i - 1]), i
    assert swaying > 0.8 * (len(frames) - 1)  # the trees move nearly all the time
    assert "weather" not in truth


def test_rain_changes_the_whole_picture_and_is_deterministic():
    spec = tiny(movers=(), switches=(), tamper=(), duration_s=1.0, rain_streaks=60)
    a, b = frames_of(spec), frames_of(spec)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    truth = ground_truth(spec, W, H)
    assert truth["motion"] == [] and truth["weather"] == {
        "kind": "rain",
        "streaks_per_frame": 60,
        "lulls": [],
    }
    dry = frames_of(tiny(movers=(), switches=(), tamper=(), duration_s=1.0))
    # Rain draws from its own generator: between the streaks the frame is the dry clip's.
    for wet, plain in zip(a, dry, strict=True):
        same = np.all(wet == plain, axis=2)
        assert 0.6 < same.mean() < 0.99
    diff = np.abs(a[3].astype(np.int16) - a[2]).max(axis=2) > 15
    halves = [diff[:, : W // 2].sum(), diff[:, W // 2 :].sum()]
    assert min(halves) > 20  # streaks everywhere, not in one region


def test_canopy_polygon_bounds_every_offset():
    canopy = scene.make_canopy(Foliage(0.5, 0.5, 0.2, seed=1), 320, 180)
    poly = np.array(scene.canopy_polygon(canopy, 320, 180), np.int32)
    a = canopy.amplitude_px
    for t in np.linspace(0, 20, 97):
        for dx, dy in scene.canopy_offsets(canopy, float(t)):
            assert abs(dx) <= a + 1 and abs(dy) <= 0.3 * a + 1
    img = np.zeros((180, 320, 3), np.float32)
    scene.paste_canopy(img, canopy, 1.3)
    drawn = np.argwhere(img.any(axis=2))
    assert all(cv2.pointPolygonTest(poly, (float(x), float(y)), True) >= -1 for y, x in drawn[::7])


def test_harder_clips_cover_their_cases():
    specs = catalogue()
    sparse = ground_truth(specs["sparse"])
    motion = sparse["motion"]
    assert {m["kind"] for m in motion} == {"person", "car"} and len(motion) >= 4
    gaps = [b["start_s"] - a["end_s"] for a, b in itertools.pairwise(motion)]
    gaps.append(sparse["duration_s"] - motion[-1]["end_s"] + motion[0]["start_s"])  # loop seam
    assert min(gaps) > 6.0, gaps
    during = [
        m for m in motion if any(m["start_s"] < s < m["end_s"] for s in sparse["light_switch"])
    ]
    assert len(during) == 1 and during[0]["kind"] == "person"
    heights = [
        scene.make_sprite(m, 1280, 720).alpha.shape[0]
        for m in specs["sparse"].movers
        if m.kind == "person"
    ]
    assert min(heights) <= 80  # the small distant one, about 10% of the frame height

    rain = ground_truth(specs["rain"])
    assert rain["weather"]["kind"] == "rain" and len(rain["distractors"]) >= 1
    assert len(rain["motion"]) == 1 and rain["motion"][0]["start_s"] >= 25.0
    for d in rain["distractors"]:
        xs, ys = zip(*d["polygon"], strict=True)
        assert 0 <= min(xs) < max(xs) <= 1280 and 0 <= min(ys) < max(ys) <= 720

    night_tamper = specs["night_tamper"]
    assert night_tamper.night and not night_tamper.movers
    assert sorted(ep.reason for ep in night_tamper.tamper) == ["blackout", "covered"]
    eps = night_tamper.tamper
    clean = [eps[0].start_s] + [b.start_s - a.end_s for a, b in itertools.pairwise(eps)]
    clean.append(night_tamper.duration_s - eps[-1].end_s)
    assert min(clean) >= 6.0

    static = ground_truth(specs["static_long"])
    assert static["duration_s"] >= 40 and not static["tamper"] and not static["light_switch"]
    assert len(static["motion"]) == 1
    assert static["motion"][0]["end_s"] - static["motion"][0]["start_s"] < 5.0
    assert specs["static_long"].noise_sigma <= 1.0 and specs["static_long"].grain_sigma == 0.0


def test_lull_stops_wind_and_rain():
    spec = tiny(
        movers=(),
        switches=(),
        tamper=(),
        noise_sigma=0.0,
        drift_amplitude=0.0,
        foliage=(Foliage(0.3, 0.3, 0.15, seed=2),),
        rain_streaks=40,
        lulls=((1.0, 3.6),),
    )
    frames = frames_of(spec)
    changed = [not np.array_equal(frames[i], frames[i - 1]) for i in range(1, len(frames))]
    calm = range(round(2.0 * FPS) + 1, round(2.6 * FPS))  # fully calm: [start + 1 s, end - 1 s)
    assert not any(changed[i - 1] for i in calm)
    assert all(changed[: round(1.0 * FPS) - 1]) and all(changed[round(3.6 * FPS) :])
    assert len(calm) >= 8
    assert ground_truth(spec, W, H)["weather"]["lulls"] == [[1.0, 3.6]]
