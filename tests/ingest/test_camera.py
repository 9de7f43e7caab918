"""The per-camera detection path on synthetic frames: events, snapshots, zones, counters."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from compoundeye.events import Event, EventKind
from compoundeye.site.models import Camera
from ingest.camera import CameraPipeline
from ingest.detection import build_detectors
from ingest.reader import SampledFrame

T0 = 1_795_000_000.0


def camera(**kw) -> Camera:
    data = {"id": "cam1", "main_url": "rtsp://127.0.0.1:1/main",
            "location": {"building": "B1", "lat": 1.0, "lon": 2.0}, "detect_fps": 5}
    return Camera.model_validate(data | kw)


def scene(rng: np.random.Generator) -> np.ndarray:
    base = np.full((360, 640, 3), 90, np.uint8)
    cv2.rectangle(base, (50, 50), (250, 200), (160, 140, 120), -1)
    cv2.circle(base, (500, 250), 60, (40, 60, 200), -1)
    noise = rng.integers(-3, 4, base.shape, dtype=np.int16)
    out: np.ndarray = np.clip(base.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return out


def frame_with_box(rng: np.random.Generator, x: int) -> np.ndarray:
    img = scene(rng)
    cv2.rectangle(img, (x, 220), (x + 60, 330), (30, 30, 30), -1)
    return img


def run_frames(pipe: CameraPipeline, frames: list[np.ndarray], t0: float) -> float:
    t = t0
    for i, img in enumerate(frames):
        pipe.process(SampledFrame(img, t, t - t0, i))
        t += 0.2
    return t


def test_motion_start_with_snapshot_then_end(tmp_path: Path) -> None:
    events: list[Event] = []
    cam = camera(zones=[{"name": "right", "polygon": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}])
    pipe = CameraPipeline(cam, events.append, tmp_path)
    rng = np.random.default_rng(1)
    t = run_frames(pipe, [scene(rng) for _ in range(20)], T0)
    assert events == []
    t = run_frames(pipe, [frame_with_box(rng, 380 + 12 * i) for i in range(15)], t)
    run_frames(pipe, [scene(rng) for _ in range(40)], t)
    kinds = [(e.kind, e.attrs["zone"]) for e in events]
    assert (EventKind.MOTION_START, "*") in kinds and (EventKind.MOTION_END, "*") in kinds
    assert (EventKind.MOTION_START, "right") in kinds
    start = next(e for e in events if e.kind == EventKind.MOTION_START and e.attrs["zone"] == "*")
    snap = tmp_path / start.attrs["snapshot"]
    assert snap.is_file() and snap.parts[-3] == "cam1" and snap.name == f"{start.id}.jpg"
    image = cv2.imread(str(snap))
    assert image is not None and image.shape[:2] == (360, 640)
    end = next(e for e in events if e.kind == EventKind.MOTION_END and e.attrs["zone"] == "*")
    assert end.attrs["duration_seconds"] > 0 and "snapshot" not in end.attrs
    assert end.source.id == "cam1" and end.ts > start.ts
    assert pipe.stats.processed == 75 and pipe.stats.motion_frames > 0


def test_masked_area_gives_no_motion(tmp_path: Path) -> None:
    events: list[Event] = []
    cam = camera(masks=[[[0.5, 0], [1, 0], [1, 1], [0.5, 1]]])
    pipe = CameraPipeline(cam, events.append, tmp_path)
    rng = np.random.default_rng(2)
    t = run_frames(pipe, [scene(rng) for _ in range(20)], T0)
    run_frames(pipe, [frame_with_box(rng, 380 + 12 * i) for i in range(15)], t)
    assert [e for e in events if e.kind == EventKind.MOTION_START] == []


def test_blackout_raises_tamper_once_and_clears(tmp_path: Path) -> None:
    events: list[Event] = []
    cam = camera()
    dets = build_detectors(cam)
    pipe = CameraPipeline(cam, events.append, tmp_path, detectors=dets)
    rng = np.random.default_rng(3)
    t = run_frames(pipe, [scene(rng) for _ in range(100)], T0)
    black = np.zeros((360, 640, 3), np.uint8)
    t = run_frames(pipe, [black.copy() for _ in range(150)], t)
    tampers = [e for e in events if e.kind == EventKind.CAMERA_TAMPER]
    assert len(tampers) == 1, [(e.kind, e.attrs) for e in events]
    assert tampers[0].attrs["reason"] == "blackout" and "measure" in tampers[0].attrs
    assert (tmp_path / tampers[0].attrs["snapshot"]).is_file()
    assert pipe.active_tampers == ["blackout"]
    run_frames(pipe, [scene(rng) for _ in range(200)], t)
    cleared = [e for e in events if e.kind == EventKind.CAMERA_TAMPER_CLEARED]
    assert [e.attrs["reason"] for e in cleared] == ["blackout"]
    assert pipe.active_tampers == []


def test_unusable_frame_is_counted_not_raised(tmp_path: Path) -> None:
    sink: list[Event] = []
    pipe = CameraPipeline(camera(), sink.append, tmp_path)
    pipe.process(SampledFrame(np.zeros((4, 4, 3), np.uint8), T0, 0.0, 1))
    pipe.process(SampledFrame(np.zeros((0,), np.uint8), T0, 0.0, 2))
    assert pipe.stats.frame_errors == 2 and pipe.stats.processed == 0


def test_detectors_get_the_grey_plane_once() -> None:
    from ingest.camera import detection_luma

    grey = np.zeros((360, 640), np.uint8)
    assert detection_luma(grey) is grey  # the reader's luma plane goes through untouched
    bgr = scene(np.random.default_rng(5))
    assert np.array_equal(detection_luma(bgr), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    empty = np.zeros((0,), np.uint8)
    assert detection_luma(empty) is empty  # left for the detectors to refuse


def test_grey_frames_give_motion_events(tmp_path: Path) -> None:
    events: list[Event] = []
    pipe = CameraPipeline(camera(), events.append, tmp_path)
    rng = np.random.default_rng(6)

    def grey(img: np.ndarray) -> np.ndarray:
        return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), dtype=np.uint8)

    t = run_frames(pipe, [grey(scene(rng)) for _ in range(20)], T0)
    t = run_frames(pipe, [grey(frame_with_box(rng, 380 + 12 * i)) for i in range(15)], t)
    run_frames(pipe, [grey(scene(rng)) for _ in range(40)], t)
    kinds = [(e.kind, e.attrs["zone"]) for e in events]
    assert (EventKind.MOTION_START, "*") in kinds and (EventKind.MOTION_END, "*") in kinds
    assert pipe.stats.frame_errors == 0 and pipe.stats.processed == 75


def test_the_readers_halved_frame_gives_the_same_detections(tmp_path: Path) -> None:
    from detectors.frames import halve

    rng = np.random.default_rng(9)
    frames = ([scene(rng) for _ in range(20)]
              + [frame_with_box(rng, 380 + 12 * i) for i in range(15)]
              + [scene(rng) for _ in range(20)])
    greys = [np.asarray(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), dtype=np.uint8) for f in frames]
    runs = []
    for with_half in (False, True):
        events: list[Event] = []
        pipe = CameraPipeline(camera(), events.append, tmp_path / str(with_half))
        fractions = []
        for i, grey in enumerate(greys):
            t = T0 + 0.2 * i
            pipe.process(SampledFrame(grey, t, t - T0, i, halve(grey) if with_half else None))
            fractions.append(pipe.stats.motion_sum)
        runs.append((fractions, [(e.kind, e.attrs["zone"], e.ts) for e in events]))
    assert runs[0] == runs[1] and runs[0][1]  # identical, and motion was seen


def _luma_frames(clip: Path, step: int) -> list[np.ndarray]:
    """Every ``step``-th frame of a clip as the reader hands it over: the decoder's own
    (limited-range) luma plane, no colour conversion."""
    cap = cv2.VideoCapture(str(clip), cv2.CAP_FFMPEG)
    cap.set(cv2.CAP_PROP_CONVERT_RGB, 0)
    frames = []
    index = 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        if index % step == 0:
            assert image.ndim == 2, "expected the luma plane"
            frames.append(image)
        index += 1
    cap.release()
    return frames


def test_tamper_clip_through_the_luma_path_gives_the_true_reasons(tmp_path: Path) -> None:
    """The decoder's luma plane is limited range (black is 16): a blackout must still be
    called a blackout, and nothing may be raised on the clean lead-in."""
    clips = Path(__file__).resolve().parents[2] / "sample_streams" / "clips"
    truth = __import__("json").loads((clips / "tamper" / "truth.json").read_text())
    events: list[Event] = []
    cam = camera()
    pipe = CameraPipeline(cam, events.append, tmp_path, detectors=build_detectors(cam))
    frames = _luma_frames(clips / "tamper" / "sub.mp4", step=3)  # 15 fps -> 5 fps
    run_frames(pipe, frames, T0)
    raised = [(e.attrs["reason"], e.ts.timestamp() - T0) for e in events
              if e.kind == EventKind.CAMERA_TAMPER]
    first = truth["tamper"][0]
    assert first["reason"] == "blackout"
    assert raised, "no tamper raised on the tamper clip"
    reason, at = raised[0]
    assert reason == "blackout", raised
    assert first["start_s"] <= at <= first["start_s"] + 5, raised
    for episode in truth["tamper"]:
        inside = [r for r, t in raised if episode["start_s"] <= t <= episode["end_s"] + 1]
        assert episode["reason"] in inside, (episode, raised)
