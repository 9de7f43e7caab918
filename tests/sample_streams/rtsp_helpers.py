"""Helpers for the sample-stream tests: read RTSP with OpenCV, label frames from truth.json."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

TCP_OPTIONS = "rtsp_transport;tcp"
DIFF_LEVEL = 16  # grey levels of change (after a 5x5 blur) that count a pixel as changed
MOTION_PIXELS = 60  # changed pixels (at 640x360) that make a frame pair "moving"


@dataclass
class Capture:
    """What a reader got from one stream: grey frames, when each arrived, how it ended."""

    url: str
    frames: list[np.ndarray] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.time() per frame
    shapes: set[tuple[int, ...]] = field(default_factory=set)
    opened: bool = False
    error: str = ""
    elapsed: float = 0.0


def read_stream(
    url: str, seconds: float, open_timeout_ms: int = 8000, read_timeout_ms: int = 5000
) -> Capture:
    """Read `seconds` of frames from url with OpenCV's FFmpeg backend over RTSP/TCP."""
    assert os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS") == TCP_OPTIONS, "set rtsp_transport;tcp"
    result = Capture(url)
    started = time.monotonic()
    cap = cv2.VideoCapture(
        url,
        cv2.CAP_FFMPEG,
        [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            open_timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            read_timeout_ms,
        ],
    )
    try:
        result.opened = cap.isOpened()
        if not result.opened:
            result.error = "open failed"
            return result
        first: float | None = None
        while True:
            ok, frame = cap.read()
            now = time.time()
            if not ok:
                result.error = "read failed"
                break
            first = now if first is None else first
            result.shapes.add(frame.shape)
            result.frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
            result.arrivals.append(now)
            if now - first >= seconds:
                break
    finally:
        cap.release()
        result.elapsed = time.monotonic() - started
    return result


def read_many(urls: dict[str, str], seconds: float) -> dict[str, Capture]:
    """Read several streams at once, one thread each."""
    out: dict[str, Capture] = {}

    def worker(key: str, url: str) -> None:
        out[key] = read_stream(url, seconds)

    threads = [threading.Thread(target=worker, args=item, daemon=True) for item in urls.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    return out


def changed_pixels(prev: np.ndarray, cur: np.ndarray) -> int:
    a = cv2.GaussianBlur(prev, (5, 5), 0)
    b = cv2.GaussianBlur(cur, (5, 5), 0)
    return int((cv2.absdiff(a, b) > DIFF_LEVEL).sum())


def load_truth(clip_dir: Path) -> dict[str, Any]:
    truth: dict[str, Any] = json.loads((clip_dir / "truth.json").read_text())
    return truth


def label(truth: dict[str, Any], t: float, margin: float = 0.5) -> str | None:
    """'motion', 'still', or None (too close to a change to say) for clip time t."""
    if t < margin or t > truth["duration_s"] - margin:
        return None  # the loop seam
    changes = [x for ep in truth["tamper"] for x in (ep["start_s"], ep["end_s"])] + truth[
        "light_switch"
    ]
    if any(abs(t - c) < margin for c in changes):
        return None
    for m in truth["motion"]:
        if m["start_s"] + margin <= t <= m["end_s"] - margin:
            return "motion"
        if m["start_s"] - margin <= t <= m["end_s"] + margin:
            return None
    if truth.get("weather") or truth.get("distractors"):
        return None  # rain and swaying trees change pixels with nobody moving
    return "still"


def decode_file(path: Path, size: tuple[int, int] = (160, 90)) -> list[np.ndarray]:
    """All frames of a local clip as small grey images."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(
                cv2.resize(
                    cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), size, interpolation=cv2.INTER_AREA
                )
            )
    finally:
        cap.release()
    return frames


def best_match(
    frame: np.ndarray, clip: list[np.ndarray], around: int, window: int
) -> tuple[int, float]:
    """Index (mod clip length) of the clip frame nearest `frame` within around +- window."""
    small = cv2.resize(
        frame, (clip[0].shape[1], clip[0].shape[0]), interpolation=cv2.INTER_AREA
    ).astype(np.float32)
    best, best_err = around % len(clip), float("inf")
    for k in range(around - window, around + window + 1):
        err = float(np.abs(clip[k % len(clip)].astype(np.float32) - small).mean())
        if err < best_err:
            best, best_err = k % len(clip), err
    return best, best_err
