"""``compoundeye bench motion``: detector quality on the sample clips, and cost vs MOG2.

Quality: every clip in ``sample_streams/clips/<name>/`` (its sub stream video and
``truth.json``) is read with OpenCV, sampled at the detect rate, and run through the
motion detector, the motion tracker and the camera health detector. Motion intervals
are scored event by event (bench.evaluation) and by time covered, tamper episodes by
reason and time to detect, at the detect rate and again at one frame a second (the
edge worker's health-check cadence).

Camera masks: a clip's truth may list ``distractors`` (swaying foliage and the like) as
polygons in main-stream pixels, the area the distractor can cover. A site would mask
those areas in its camera file (``masks``); the benchmark does exactly that, normalising
each polygon by the clip's main-stream size and handing it to the motion detector as a
mask. Weather (rain over the whole picture) cannot be masked and is left to the detector.

Speed: per-frame cost of our motion detector against
``cv2.createBackgroundSubtractorMOG2`` (default parameters), both handed the same
decoded sub-stream frames (640x360 BGR on the sample clips), single-threaded OpenCV.
MOG2 models every pixel of the frame it is given; ours reduces the frame to a small
grey image first (``MotionConfig.height`` rows). As a second figure MOG2 also runs on
our small grey image, the 'same working resolution' comparison.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from bench.evaluation import Episode, Raise, score_intervals, score_tamper, time_coverage
from bench.runner import BenchResult
from detectors.base import Polygon
from detectors.frames import small_luma
from detectors.motion import FrameDiffMotionDetector, MotionConfig
from detectors.tamper import CameraHealthDetector
from detectors.tracker import MotionTracker, TrackerConfig

log = logging.getLogger(__name__)

CLIPS_DIR = Path(__file__).resolve().parent.parent / "sample_streams" / "clips"
DETECT_FPS = 5.0
F1_TARGET = 0.9
TAMPER_TARGET_S = 5.0
RATIO_TARGET = 3.0
EDGE_TAMPER_HZ = 1.0
OFF_DELAY_TAIL = TrackerConfig().off_delay + 1.0
"""Detected time this long after true motion still counts as inside it (the off-delay)."""

Frame = npt.NDArray[np.uint8]


@dataclass
class ClipRun:
    """What the detectors reported on one clip."""

    motion: list[tuple[float, float]]
    raises: list[Raise]
    frames: int
    duration: float


def clip_video(directory: Path) -> Path | None:
    """The clip's detection video: ``sub.*`` if present, else any single video file."""
    videos = sorted(
        p for p in directory.iterdir() if p.suffix in {".mp4", ".mkv", ".ts", ".avi"}
    )
    for video in videos:
        if video.stem == "sub":
            return video
    return videos[0] if len(videos) == 1 else None


def read_sampled(video: Path, fps: float = DETECT_FPS) -> Iterator[tuple[float, Frame]]:
    """Decode ``video`` and yield (seconds from start, frame) at about ``fps``."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise OSError(f"cannot open {video}")
    try:
        source_fps = cap.get(cv2.CAP_PROP_FPS) or 15.0
        step = max(1, round(source_fps / fps))
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if index % step == 0:
                yield index / source_fps, np.asarray(frame, dtype=np.uint8)
            index += 1
    finally:
        cap.release()


def masks_of(truth: dict[str, Any]) -> tuple[Polygon, ...]:
    """The clip's ``distractors`` polygons as camera masks, normalised to 0..1.

    Distractor polygons are in main-stream pixels (``width`` x ``height`` of the truth);
    raises ValueError when a clip lists distractors without that size or with a
    malformed polygon.
    """
    distractors = truth.get("distractors", [])
    if not distractors:
        return ()
    try:
        width, height = float(truth["width"]), float(truth["height"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError("truth lists distractors but no main-stream width/height") from exc
    if width <= 0 or height <= 0:
        raise ValueError(f"bad main-stream size {width}x{height} in truth")
    masks: list[Polygon] = []
    for distractor in distractors:
        points = distractor.get("polygon", [])
        if len(points) < 3 or any(len(p) != 2 for p in points):
            raise ValueError(f"distractor polygon needs at least 3 (x, y) points: {points}")
        masks.append([(float(x) / width, float(y) / height) for x, y in points])
    return tuple(masks)


def run_clip(
    frames: Iterator[tuple[float, Frame]], masks: tuple[Polygon, ...] = ()
) -> ClipRun:
    """Run motion, hysteresis and health detection over timestamped frames.

    ``masks`` are the camera's motion masks (normalised polygons), as a site file gives.
    """
    motion = FrameDiffMotionDetector(MotionConfig(masks=masks))
    tracker = MotionTracker()
    health = CameraHealthDetector()
    intervals: list[tuple[float, float]] = []
    raises: list[Raise] = []
    started: float | None = None
    count, last = 0, 0.0
    for ts, frame in frames:
        count, last = count + 1, ts
        for t in tracker.update(motion.detect(frame), ts):
            if t.zone != "*":
                continue
            if t.started:
                started = t.ts
            elif started is not None:
                intervals.append((started, t.ts))
                started = None
        raises += [Raise(f.ts, f.reason) for f in health.update(frame, ts) if f.raised]
    if started is not None:
        intervals.append((started, last))
    return ClipRun(intervals, raises, count, last)


def tamper_raises(frames: Iterable[tuple[float, Frame]]) -> list[Raise]:
    """The tamper conditions raised over timestamped frames (any rate)."""
    health = CameraHealthDetector()
    return [Raise(f.ts, f.reason) for ts, frame in frames for f in health.update(frame, ts)
            if f.raised]


def episodes_of(truth: dict[str, Any]) -> list[Episode]:
    """The true tamper episodes of a clip."""
    return [
        Episode(float(t["start_s"]), float(t["end_s"]), str(t["reason"]))
        for t in truth.get("tamper", [])
    ]


def score_clip(run: ClipRun, truth: dict[str, Any]) -> dict[str, Any]:
    """Per-clip figures: motion scores, false alarms near light switches, tamper scores.

    Motion detections that overlap no moving object but a tamper episode (or the
    off-delay after it) are set aside: the truth does not say whether a hand over the
    lens is motion.
    """
    true_motion = [(float(m["start_s"]), float(m["end_s"])) for m in truth.get("motion", [])]
    episodes = episodes_of(truth)
    # Putting a tamper right is a whole-picture change too: the off-delay after an
    # episode is set aside with the episode.
    tampered = [(e.start, e.end + OFF_DELAY_TAIL) for e in episodes]
    motion = score_intervals(true_motion, run.motion, tampered)
    switches = [float(s) for s in truth.get("light_switch", [])]
    near_switch = [
        fa for fa in motion.false_alarms if any(fa[0] - 3.0 <= s <= fa[1] for s in switches)
    ]
    tamper = score_tamper(episodes, run.raises)
    out: dict[str, Any] = {"frames": run.frames, "motion": motion.as_dict()}
    out["motion"]["false_alarms_at_light_switch"] = len(near_switch)
    time_recall, time_precision = time_coverage(
        true_motion, run.motion, tail=OFF_DELAY_TAIL, exclude=tampered
    )
    out["motion"]["time_recall"] = round(time_recall, 4)
    out["motion"]["time_precision"] = round(time_precision, 4)
    out["motion"]["delays_s"] = [round(d, 3) for d in motion.delays]
    spans = [[round(a, 2), round(b, 2)] for a, b in motion.false_alarms]
    out["motion"]["false_alarm_spans"] = spans
    out["tamper"] = tamper.as_dict()
    return out


def discover(clips_dir: Path = CLIPS_DIR) -> list[tuple[str, Path, dict[str, Any]]]:
    """(name, video, truth) of every clip with a truth.json and a video."""
    found: list[tuple[str, Path, dict[str, Any]]] = []
    if not clips_dir.is_dir():
        return found
    for directory in sorted(p for p in clips_dir.iterdir() if p.is_dir()):
        truth_file = directory / "truth.json"
        video = clip_video(directory)
        if truth_file.is_file() and video is not None:
            found.append((directory.name, video, json.loads(truth_file.read_text())))
    return found


def per_frame_seconds(apply: Callable[[Frame], object], frames: list[Frame], rounds: int) -> float:
    """Best-of-``rounds`` mean seconds per frame of ``apply`` over ``frames``."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for frame in frames:
            apply(frame)
        best = min(best, (time.perf_counter() - start) / len(frames))
    return best


def measure_speed(frames: list[Frame], rounds: int) -> dict[str, Any]:
    """Per-frame cost of our detector and of MOG2 on the same frames, one OpenCV thread.

    Three timings over the same input frames: ours (which shrinks each frame to a small
    grey image internally), MOG2 on the frame as given, and MOG2 on the same small grey
    image ours works on (the shrinking included), which isolates the algorithm's cost
    from the working resolution's.
    """
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        ours = FrameDiffMotionDetector()
        height = ours.config.height
        ours_s = per_frame_seconds(ours.detect, frames, rounds)
        mog2_s = per_frame_seconds(cv2.createBackgroundSubtractorMOG2().apply, frames, rounds)
        mog2_small = cv2.createBackgroundSubtractorMOG2()
        mog2_small_s = per_frame_seconds(
            lambda f: mog2_small.apply(small_luma(f, height)), frames, rounds
        )
        health = CameraHealthDetector()
        clock = iter(range(10**9))
        health_s = per_frame_seconds(
            lambda f: health.update(f, next(clock) / DETECT_FPS), frames, rounds
        )
    finally:
        cv2.setNumThreads(threads)
    h, w = frames[0].shape[:2]
    sh, sw = small_luma(frames[0], height).shape[:2]
    return {
        "input_resolution": f"{w}x{h} BGR",
        "ours_working_resolution": f"{sw}x{sh} grey",
        "mog2_working_resolution": f"{w}x{h} BGR",
        "ours_ms_per_frame": round(ours_s * 1e3, 4),
        "mog2_ms_per_frame": round(mog2_s * 1e3, 4),
        "mog2_on_our_small_grey_ms_per_frame": round(mog2_small_s * 1e3, 4),
        "ratio_vs_mog2_on_our_small_grey": round(mog2_small_s / ours_s, 3),
        "tamper_ms_per_frame": round(health_s * 1e3, 4),
        "timed_frames": len(frames),
        "timing_rounds": rounds,
        "opencv_threads": 1,
    }


def measure(quick: bool) -> BenchResult:
    """Score every sample clip and time the detector against MOG2."""
    clips = discover()
    if not clips:
        raise FileNotFoundError(
            f"no clips with truth.json under {CLIPS_DIR}: generate the sample clips first"
        )
    per_clip: dict[str, Any] = {}
    timing_frames: list[Frame] = []
    truth_total = found = detected = false_alarms = ignored = 0
    delays: list[float] = []
    episodes = tamper_found = false_tampers = 0
    worst_ttd = 0.0
    tamper_1hz_found = false_tampers_1hz = 0
    worst_ttd_1hz = 0.0
    for name, video, truth in clips:
        frames = list(read_sampled(video))
        # The timed frames: a stretch of every clip, so each kind of scene is in the mix.
        timing_frames += [f for _, f in frames[: 40 if quick else 150]]
        masks = masks_of(truth)
        figures = score_clip(run_clip(iter(frames), masks), truth)
        figures["camera_masks"] = len(masks)
        # The edge worker checks health about once a second: score that rate too.
        step = max(1, round(DETECT_FPS / EDGE_TAMPER_HZ))
        slow = score_tamper(episodes_of(truth), tamper_raises(frames[::step])).as_dict()
        figures["tamper_at_1hz"] = slow
        tamper_1hz_found += slow["found"]
        false_tampers_1hz += slow["false_tampers"]
        worst_ttd_1hz = max(worst_ttd_1hz, slow["max_time_to_detect_s"] or 0.0)
        per_clip[name] = figures
        m, t = figures["motion"], figures["tamper"]
        truth_total += m["truth"]
        found += m["found"]
        detected += m["detected"]
        false_alarms += m["false_alarms"]
        ignored += m["ignored"]
        delays += m["delays_s"]
        episodes += t["episodes"]
        tamper_found += t["found"]
        false_tampers += t["false_tampers"]
        worst_ttd = max(worst_ttd, t["max_time_to_detect_s"] or 0.0)
        log.info("clip %s: %s", name, figures)
    scored = detected - ignored
    precision = 1.0 if scored == 0 else (scored - false_alarms) / scored
    recall = 1.0 if truth_total == 0 else found / truth_total
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    speed = measure_speed(timing_frames, rounds=3 if quick else 5)
    ratio = speed["mog2_ms_per_frame"] / speed["ours_ms_per_frame"]
    extra: dict[str, Any] = {
        "motion_precision": round(precision, 4),
        "motion_recall": round(recall, 4),
        "motion_f1": round(f1, 4),
        "motion_f1_target": F1_TARGET,
        "motion_false_alarms": false_alarms,
        "camera_masks": (
            "each clip's truth 'distractors' polygons (foliage) are applied as the camera's "
            "motion masks, as a site file's 'masks' would be; weather is not masked"
        ),
        "motion_mean_delay_s": round(sum(delays) / len(delays), 3) if delays else None,
        "tamper_scoring": (
            "strict by reason: an episode is found only by a raise of its own reason "
            "inside it; any other raise is a false tamper"
        ),
        "tamper_episodes": episodes,
        "tamper_found": tamper_found,
        "tamper_max_time_to_detect_s": round(worst_ttd, 3),
        "tamper_target_s": TAMPER_TARGET_S,
        "false_tampers": false_tampers,
        "tamper_found_at_1hz": tamper_1hz_found,
        "tamper_max_time_to_detect_s_at_1hz": round(worst_ttd_1hz, 3),
        "false_tampers_at_1hz": false_tampers_1hz,
        "meets_quality_targets": (
            f1 >= F1_TARGET
            and tamper_found == episodes
            and worst_ttd <= TAMPER_TARGET_S
            and false_tampers == 0
            and tamper_1hz_found == episodes
            and worst_ttd_1hz <= TAMPER_TARGET_S
            and false_tampers_1hz == 0
        ),
        **speed,
        "clips": per_clip,
    }
    return BenchResult(
        name="motion",
        value=speed["ours_ms_per_frame"],
        unit="ms/frame",
        baseline="cv2.createBackgroundSubtractorMOG2 on the same frames",
        baseline_value=speed["mog2_ms_per_frame"],
        ratio=round(ratio, 3),
        target=RATIO_TARGET,
        extra=extra,
    )
