"""The RTSP simulator over real RTSP/TCP: OpenCV and ffmpeg clients against the GStreamer server."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sample_streams import generate
from sample_streams.clips import ClipSpec
from sample_streams.scene import Mover
from sample_streams.simulator import RtspSimulator
from tests.sample_streams.rtsp_helpers import (
    MOTION_PIXELS,
    TCP_OPTIONS,
    Capture,
    best_match,
    changed_pixels,
    decode_file,
    label,
    load_truth,
    read_many,
    read_stream,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
FPS = 15


@pytest.fixture(autouse=True)
def tcp_transport(monkeypatch):
    monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", TCP_OPTIONS)


def align(
    frames: list[np.ndarray], clip: list[np.ndarray], estimate: int, window: int = 10
) -> tuple[int, float]:
    """Clip index of frames[0]: the offset near `estimate` that best fits the whole run."""
    step = max(1, len(frames) // 30)
    best, best_err = estimate, float("inf")
    for d in range(-window, window + 1):
        errs = [
            best_match(frames[j], clip, estimate + d + j, 0)[1] for j in range(0, len(frames), step)
        ]
        if float(np.mean(errs)) < best_err:
            best, best_err = estimate + d, float(np.mean(errs))
    return best % len(clip), best_err


def test_eight_cameras_serve_their_clips(rtsp_simulator):
    sim = rtsp_simulator
    cams = sorted(sim.cameras)
    assert len(cams) == 8
    seconds = 6.0
    captures = read_many({cam: sim.url(cam) for cam in cams}, seconds)
    local = {clip: decode_file(sim.clip_dir(cam) / "sub.mp4") for cam, clip in sim.cameras.items()}
    agree = {"motion": [0, 0], "still": [0, 0]}
    for cam in cams:
        cap = captures[cam]
        assert cap.opened and not cap.error, (cam, cap.error)
        assert cap.shapes == {(360, 640, 3)}
        arrivals = np.array(cap.arrivals)
        # The client's probe delivers its first ~2 s in a burst; the steady rate comes after.
        steady = arrivals[arrivals >= arrivals[0] + 2.0]
        rate = (len(steady) - 1) / (steady[-1] - steady[0])
        assert 13.5 <= rate <= 16.5, (cam, rate)
        assert len(cap.frames) >= seconds * FPS * 0.9
        # Which clip, and where in it: the frames are the clip's own frames, bit for bit.
        clip = local[sim.cameras[cam]]
        estimate = round(sim.clip_time(cam, cap.arrivals[-1]) * FPS) - (len(cap.frames) - 1)
        start, err = align(cap.frames, clip, estimate)
        assert err < 1.0, (cam, err)
        for other, frames in local.items():
            if other != sim.cameras[cam] and len(frames) >= len(clip):
                assert best_match(cap.frames[0], frames, start, 0)[1] > err
        truth = load_truth(sim.clip_dir(cam))
        for i in range(1, len(cap.frames)):
            expected = label(truth, ((start + i) % len(clip)) / FPS)
            if expected is None:
                continue
            moving = changed_pixels(cap.frames[i - 1], cap.frames[i]) > MOTION_PIXELS
            agree[expected][0] += int(moving == (expected == "motion"))
            agree[expected][1] += 1
    # cars (twice, 7 s apart) and people cover >80% of their clips with motion, so 6 s of
    # eight cameras always contains moving and still frames.
    for kind, (ok, total) in agree.items():
        assert total > 20, (kind, agree)
        assert ok / total >= 0.95, (kind, agree)


def test_two_clients_share_one_pipeline(rtsp_simulator):
    url = rtsp_simulator.url("cam4")
    captures: dict[str, Capture] = {}
    reader = threading.Thread(target=lambda: captures.update(read_many({"a": url, "b": url}, 6.0)))
    reader.start()
    time.sleep(5.0)  # both clients are connected by now (OpenCV opens one at a time)
    streaming = rtsp_simulator.status()["streaming"]
    reader.join(timeout=60)
    assert streaming.count("/cam4/sub") == 1, streaming
    assert all(c.opened and not c.error and len(c.frames) > 40 for c in captures.values())
    # The clients saw the same frames at the same time: one shared pipeline, one timeline.
    a, b = captures["a"], captures["b"]
    assert any(np.array_equal(f, g) for f in a.frames[-10:] for g in b.frames)


def test_offline_cuts_clients_and_refuses_connections(rtsp_simulator_factory):
    sim = rtsp_simulator_factory({"gate1": "people", "gate2": "cars"}, fresh=True)
    try:
        cap = read_stream(sim.url("gate1"), 2.0)
        assert cap.opened and len(cap.frames) > 20
        # A client watching when the camera goes off the air loses the stream at once.
        result: dict[str, Capture] = {}

        def watch() -> None:
            result["cap"] = read_stream(sim.url("gate1"), 60.0)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        time.sleep(4.0)
        sim.take_offline("gate1")
        watcher.join(timeout=30)
        assert not watcher.is_alive()  # it asked for 60 s of frames: the stream was cut
        seen = result["cap"]
        assert seen.error == "read failed" and seen.frames
        assert sim.status()["offline"] == ["gate1"]
        refused = read_stream(sim.url("gate1"), 1.0, open_timeout_ms=5000)
        assert not refused.opened
        # The other camera is untouched.
        other = read_stream(sim.url("gate2"), 1.0)
        assert other.opened and other.frames
        sim.bring_online("gate1")
        back = read_stream(sim.url("gate1"), 2.0)
        assert back.opened and not back.error and len(back.frames) > 20
        assert sim.status()["offline"] == []
    finally:
        sim.stop()


def test_corrupt_mount_errors_without_hanging(rtsp_simulator):
    proc = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostdin",
            "-rtsp_transport",
            "tcp",
            "-i",
            rtsp_simulator.corrupt_url,
            "-t",
            "4",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    errors = [
        line
        for line in proc.stderr.splitlines()
        if "error" in line.lower() or "invalid" in line.lower()
    ]
    assert len(errors) >= 3, proc.stderr[-2000:]
    started = time.monotonic()
    cap = read_stream(rtsp_simulator.corrupt_url, 3.0)
    assert time.monotonic() - started < 30
    assert cap.opened  # the stream is there; its content is garbage


def test_loop_is_seamless_over_several_clip_lengths(tmp_path: Path):
    """A 3 s clip read for 8 s: timestamps run on evenly across loops, every frame decodes."""
    spec = ClipSpec(
        "shortA",
        seed=11,
        duration_s=3.0,
        movers=(Mover("person", "walkway", 0.0, 0.8, 1, 1.0, 11),),
    )
    generate.encode_clip(spec, tmp_path, width=320, height=180, sub_size=(320, 180))
    with RtspSimulator({"loop1": "shortA"}, clips_dir=tmp_path) as sim:
        proc = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-rtsp_transport",
                "tcp",
                "-read_intervals",
                "%+8",
                "-select_streams",
                "v",
                "-show_entries",
                "packet=pts_time",
                "-of",
                "csv=p=0",
                sim.url("loop1"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        stamps = [
            float(x.split(",")[0]) for x in proc.stdout.split() if x and not x.startswith("N/A")
        ]
        assert len(stamps) >= 8 * FPS * 0.95
        steps = np.diff(stamps)
        assert np.allclose(steps, 1 / FPS, atol=0.002), (steps.min(), steps.max())
        cap = read_stream(sim.url("loop1"), 7.0)
        assert not cap.error and len(cap.frames) >= 7 * FPS
        assert sim.clip_dir("loop1") == tmp_path / "shortA"
        clip = decode_file(sim.clip_dir("loop1") / "sub.mp4")
        start, err = align(
            cap.frames,
            clip,
            round(sim.clip_time("loop1", cap.arrivals[-1]) * FPS) - len(cap.frames) + 1,
        )
        assert err < 1.0
        seam = [i for i in range(len(cap.frames)) if (start + i) % len(clip) == 0]
        assert len(seam) >= 2  # crossed the loop point at least twice
