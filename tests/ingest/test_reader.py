"""The camera reader over real files and a dead address (the live RTSP path is covered by
test_worker.py against the simulator)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from compoundeye.services import free_port
from ingest.reader import (
    Backoff,
    CameraReader,
    ReaderOptions,
    SampledFrame,
    configure_ffmpeg_capture,
)
from ingest.sampler import DropQueue

CLIP = Path(__file__).resolve().parents[2] / "sample_streams" / "clips" / "people" / "sub.mp4"


@pytest.fixture(autouse=True)
def _ffmpeg_env() -> None:
    configure_ffmpeg_capture()


def run_reader(reader: CameraReader, timeout: float = 30) -> None:
    thread = threading.Thread(target=reader.run)
    thread.start()
    thread.join(timeout)
    reader.stop()
    thread.join(5)
    assert not thread.is_alive()


@pytest.mark.skipif(not CLIP.is_file(), reason="sample clips not generated")
def test_file_is_decoded_entirely_and_sampled_to_detect_fps() -> None:
    queue: DropQueue[SampledFrame] = DropQueue(1000)
    reader = CameraReader("c1", f"file://{CLIP}", 5.0, queue, ReaderOptions(max_frames=300))
    run_reader(reader)
    stats = reader.stats
    assert stats.frames_in == 300 and stats.decode_errors == 0
    assert stats.frames_sampled == 100  # 15 fps sampled to 5 fps
    first = queue.get(0)
    assert first is not None and first.image.shape == (360, 640)  # the luma plane, no colour
    # ... and its halving, made while the frame was in the cache (2x2 area averages).
    assert first.half is not None and first.half.shape == (180, 320)
    expected = cv2.resize(first.image, (320, 180), interpolation=cv2.INTER_AREA)
    assert np.array_equal(first.half, expected)
    assert (stats.width, stats.height) == (640, 360)
    assert stats.decode_cpu_seconds > 0


@pytest.mark.skipif(not CLIP.is_file(), reason="sample clips not generated")
def test_colour_frames_when_asked() -> None:
    queue: DropQueue[SampledFrame] = DropQueue(100)
    reader = CameraReader("c1", f"file://{CLIP}", 5.0, queue,
                          ReaderOptions(max_frames=30, colour=True))
    run_reader(reader)
    item = queue.get(0)
    assert item is not None and item.image.shape == (360, 640, 3)
    assert item.half is None  # halved for the detectors only when grey


def test_dead_camera_is_retried_with_backoff_and_stops_at_once() -> None:
    queue: DropQueue[SampledFrame] = DropQueue(4)
    url = f"rtsp://127.0.0.1:{free_port()}/cam"
    reader = CameraReader("c1", url, 5.0, queue,
                          ReaderOptions(open_timeout_ms=1000, backoff_initial=0.1,
                                        backoff_max=0.2))
    thread = threading.Thread(target=reader.run)
    thread.start()
    deadline = time.monotonic() + 20
    while reader.stats.open_failures < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    reader.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert reader.stats.open_failures >= 3 and reader.stats.frames_in == 0
    assert reader.stats.last_error == "cannot open stream" and not reader.stats.connected


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    import random

    backoff = Backoff(1.0, 8.0, random.Random(7))
    delays = [backoff.next() for _ in range(6)]
    for delay, ceiling in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next() <= 1.0
