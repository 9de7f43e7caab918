"""The detectors on the committed sample clips (sub stream, decoded with OpenCV at 5 fps)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.evaluation import overlaps
from bench.motion import CLIPS_DIR, read_sampled
from detectors.base import Polygon, ZoneSpec
from detectors.motion import FrameDiffMotionDetector, MotionConfig
from detectors.tamper import CameraHealthDetector
from detectors.tracker import MotionTracker

pytestmark = pytest.mark.timeout(120)


def clip(name: str) -> tuple[Path, dict[str, Any]]:
    directory = CLIPS_DIR / name
    video, truth = directory / "sub.mp4", directory / "truth.json"
    if not (video.is_file() and truth.is_file()):
        pytest.skip(f"sample clip {name} not generated (sample_streams generator)")
    return video, json.loads(truth.read_text())


def zone_intervals(
    video: Path, zones: tuple[ZoneSpec, ...] = (), masks: tuple[Polygon, ...] = ()
) -> dict[str, list[tuple[float, float]]]:
    detector = FrameDiffMotionDetector(MotionConfig(zones=zones, masks=masks))
    tracker = MotionTracker()
    out: dict[str, list[tuple[float, float]]] = {}
    starts: dict[str, float] = {}
    last = 0.0
    for ts, frame in read_sampled(video):
        last = ts
        for t in tracker.update(detector.detect(frame), ts):
            if t.started:
                starts[t.zone] = t.ts
            else:
                out.setdefault(t.zone, []).append((starts.pop(t.zone), t.ts))
    for zone, start in starts.items():
        out.setdefault(zone, []).append((start, last))
    return out


def motion_intervals(video: Path) -> list[tuple[float, float]]:
    return zone_intervals(video).get("*", [])


def tamper_findings(video: Path, fps: float = 5.0) -> list[tuple[str, bool, float]]:
    detector = CameraHealthDetector()
    return [
        (f.reason, f.raised, f.ts)
        for ts, frame in read_sampled(video, fps)
        for f in detector.update(frame, ts)
    ]


@pytest.mark.parametrize("name", ["quiet", "lightswitch", "night", "people", "cars"])
def test_every_moving_object_found_and_no_false_alarm(name):
    video, truth = clip(name)
    detected = motion_intervals(video)
    true = [(m["start_s"], m["end_s"]) for m in truth["motion"]]
    for t in true:
        assert any(overlaps(t, d) for d in detected), f"missed {t} in {name}"
    for d in detected:
        assert any(overlaps(d, t) for t in true), f"false alarm {d} in {name}"
    if name == "lightswitch":
        # The switches themselves (8 s and 18 s) must not start motion.
        assert all(d[0] > 20.0 for d in detected)


@pytest.mark.parametrize("name", ["quiet", "lightswitch", "night", "people", "cars"])
@pytest.mark.parametrize("fps", [5.0, 1.0])
def test_clean_clips_raise_no_tamper(name, fps):
    video, _ = clip(name)
    assert tamper_findings(video, fps) == []


@pytest.mark.parametrize("fps", [5.0, 1.0], ids=["5fps", "1fps-edge-cadence"])
def test_each_tamper_episode_raised_once_and_cleared_once_within_5_s(fps):
    video, truth = clip("tamper")
    findings = tamper_findings(video, fps)
    episodes = truth["tamper"]
    assert len(findings) == 2 * len(episodes)
    for episode, raised, cleared in zip(episodes, findings[::2], findings[1::2], strict=True):
        assert raised[:2] == (episode["reason"], True)
        assert cleared[:2] == (episode["reason"], False)
        assert episode["start_s"] <= raised[2] <= episode["start_s"] + 5.0
        assert episode["end_s"] <= cleared[2] <= episode["end_s"] + 5.0


def band(name: str, y0: float, y1: float) -> ZoneSpec:
    return ZoneSpec(name, [(0.0, y0), (1.0, y0), (1.0, y1), (0.0, y1)])


def test_zones_on_the_people_clip_see_only_their_own_lane():
    video, truth = clip("people")
    # The generator's lanes: people on the sidewalk stand between about 0.49 and 0.64 of
    # the height, people on the walkway between about 0.73 and 0.97.
    found = zone_intervals(video, (band("walkway", 0.8, 1.0), band("sidewalk", 0.45, 0.62)))
    for zone in ("walkway", "sidewalk"):
        true = [(m["start_s"], m["end_s"]) for m in truth["motion"] if m["zone"] == zone]
        detected = found.get(zone, [])
        assert true and detected
        for t in true:
            assert any(overlaps(t, d) for d in detected), f"{zone}: missed {t}"
        for d in detected:
            assert any(overlaps(d, t) for t in true), f"{zone}: false alarm {d}"


def test_a_mask_over_the_walkway_hides_the_people_walking_there():
    video, truth = clip("people")
    walkway_mask = band("mask", 0.68, 1.0).polygon
    detected = zone_intervals(video, masks=(walkway_mask,)).get("*", [])
    sidewalk = [(m["start_s"], m["end_s"]) for m in truth["motion"] if m["zone"] == "sidewalk"]
    walkway_only = (truth["motion"][0]["start_s"], sidewalk[0][0])  # before anyone else
    assert truth["motion"][0]["zone"] == "walkway"
    assert not any(overlaps(walkway_only, d) for d in detected)
    for t in sidewalk:
        assert any(overlaps(t, d) for d in detected)
