"""One camera's live pipeline: reader thread, detection thread, motion and tamper events.

The reader (see :mod:`ingest.reader`) never waits on detection: sampled frames go through a
bounded queue that drops the oldest and counts. The detection thread runs the camera's
motion detector, tracker and tamper checks, and publishes ``motion.start`` /
``motion.end`` / ``camera.tamper`` / ``camera.tamper_cleared`` with a JPEG snapshot for
starts and raised tampers.

A camera that can be in health mode (``detect_mode`` other than ``full``) is read by
:class:`ingest.packet_reader.PacketReader`, which switches between full decoding and
chosen keyframes without reconnecting (:meth:`CameraPipeline.set_mode`); its health-mode
keyframes go to :class:`ingest.health.HealthChecks` instead of the motion detector.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np

from compoundeye.events import Event, EventKind, make_event
from compoundeye.site.models import Camera, HealthMode
from compoundeye.timeutil import from_epoch
from detectors.base import Frame, FrameError, MotionTransition, TamperFinding
from detectors.frames import halves_first, small_luma
from ingest.detection import CameraDetectors, build_detectors
from ingest.health import HealthChecks
from ingest.packet_reader import HealthFrame, Mode, PacketReader
from ingest.reader import CameraReader, ReaderOptions, SampledFrame
from ingest.sampler import DropQueue
from ingest.snapshots import save_snapshot

log = logging.getLogger(__name__)

Publish = Callable[[Event], None]

IDLE_FINISH_SECONDS = 5.0
"""With no frame for this long and the stream down, open motion is ended."""
TAMPER_INTERVAL_SECONDS = 1.0
"""Tamper and health checks run on one frame per second of stream time: their conditions
must persist for seconds anyway, and this keeps them a small part of the per-frame cost."""
READER_STOP_SECONDS = 5.0
"""How long :meth:`CameraPipeline.run` waits for its reader at a stop (an FFmpeg read in
progress ends within its own timeout; the owner of the pipeline sets its own budget)."""


@dataclass
class DetectionStats:
    """Counters of the detection side, read by status and metrics."""

    processed: int = 0
    frame_errors: int = 0
    motion_sum: float = 0.0
    motion_frames: int = 0
    events: int = 0


class CameraPipeline:
    """Reader plus detection for one camera: ``run()`` blocks until ``stop()``."""

    def __init__(self, camera: Camera, publish: Publish, snapshots_dir: Path, *,
                 queue_size: int = 4, reader_options: ReaderOptions | None = None,
                 detectors: CameraDetectors | None = None, health: HealthMode | None = None,
                 mode: Mode = "full") -> None:
        """``health``: the camera may be in health mode (a packet reader, starting in
        ``mode``); None: always full (OpenCV's capture)."""
        self.camera = camera
        self._publish = publish
        self._snapshots = snapshots_dir
        self.queue: DropQueue[SampledFrame] = DropQueue(queue_size)
        self.reader: CameraReader | PacketReader
        if health is None:
            self.reader = CameraReader(camera.id, camera.detect_url, camera.detect_fps,
                                       self.queue, reader_options)
        else:
            self.reader = PacketReader(camera.id, camera.detect_url, camera.detect_fps,
                                       self.queue, reader_options, mode=mode,
                                       keyframe_interval=health.keyframe_interval_seconds,
                                       bitrate_change=health.bitrate_change)
        self.detectors = detectors or build_detectors(camera)
        self.health_checks = HealthChecks(self.detectors.tamper) if health else None
        self._in_health = False
        rows = getattr(getattr(self.detectors.tamper, "config", None), "height", None)
        self._tamper_rows = rows if isinstance(rows, int) and rows > 0 else 120
        # The motion detector's working height (0: unknown, always hand it the frame).
        rows = getattr(getattr(self.detectors.motion, "config", None), "height", None)
        self._motion_rows = rows if isinstance(rows, int) and rows > 0 else 0
        self.stats = DetectionStats()
        self._tampers: dict[str, TamperFinding] = {}
        self._motion_started: dict[str, float] = {}
        self._last_tamper_check: float | None = None
        self._stop = threading.Event()

    @property
    def camera_id(self) -> str:
        return self.camera.id

    @property
    def active_tampers(self) -> list[str]:
        """Tamper reasons currently raised."""
        return sorted(self._tampers)

    @property
    def mode(self) -> Mode:
        """``full`` or ``health`` (what the reader is asked to do now)."""
        return self.reader.mode if isinstance(self.reader, PacketReader) else "full"

    def set_mode(self, mode: Mode) -> None:
        """Full or health mode, on the open session; ignored for an always-full camera."""
        if isinstance(self.reader, PacketReader):
            self.reader.set_mode(mode)

    def run(self) -> None:
        """Read and detect until :meth:`stop`: the reader on a thread of its own (a daemon,
        so a stuck FFmpeg call never keeps the process alive), detection on this one."""
        reader = threading.Thread(target=self.reader.run, name=f"read-{self.camera.id}",
                                  daemon=True)
        reader.start()
        try:
            self._detect_until_stopped()
        finally:
            self.stop()
            reader.join(READER_STOP_SECONDS)

    def stop(self) -> None:
        """Ask :meth:`run` to return (from any thread): ends the reader and detection."""
        self._stop.set()
        self.reader.stop()
        self.queue.close()

    def _detect_until_stopped(self) -> None:
        """Detection loop: frames from the queue until stop; ends open motion on exit."""
        last_ts = 0.0
        try:
            while not self._stop.is_set():
                item = self.queue.get(timeout=1.0)
                if item is None:
                    if self._motion_started and not self.reader.stats.connected:
                        stale = self.reader.stats.last_frame or last_ts
                        if stale and stale + IDLE_FINISH_SECONDS < time.time():
                            self._transitions(self.detectors.tracker.finish(stale), None)
                    continue
                last_ts = item.wall_ts
                try:
                    self.process(item)
                except Exception:  # a detector bug must not end this camera's detection
                    self.stats.frame_errors += 1
                    if self.stats.frame_errors == 1 or self.stats.frame_errors % 1000 == 0:
                        log.exception("camera %s: detection failed on a frame", self.camera.id)
        finally:
            if self._motion_started and last_ts:
                self._transitions(self.detectors.tracker.finish(last_ts), None)

    def process(self, item: SampledFrame) -> None:
        """Run the detectors on one sampled frame and publish what they found."""
        if isinstance(item, HealthFrame):
            self._follow_mode(item.health)
            if item.health:
                self._process_health(item)
                return
        frame = item.image
        det = self.detectors
        try:
            luma = detection_luma(frame)
            result = det.motion.detect(self._motion_input(item, luma))
            findings = (det.tamper.update(keyframe_picture(frame, self._tamper_rows),
                                          item.wall_ts)
                        if self._tamper_due(item.stream_ts) else [])
        except FrameError as exc:
            self.stats.frame_errors += 1
            if self.stats.frame_errors == 1 or self.stats.frame_errors % 1000 == 0:
                log.warning("camera %s: unusable frame (%d so far): %s",
                            self.camera.id, self.stats.frame_errors, exc)
            return
        self.stats.processed += 1
        if not result.calibrating:
            self.stats.motion_sum += result.motion_fraction
            self.stats.motion_frames += 1
        self._transitions(det.tracker.update(result, item.wall_ts), frame)
        for finding in findings:
            self._tamper(finding, frame)

    def _follow_mode(self, health: bool) -> None:
        """Follow the reader into or out of health mode."""
        if health != self._in_health:
            self._in_health = health
            if health:  # no motion from here on: end what is open
                self._transitions(self.detectors.tracker.finish(time.time()), None)
                if self.health_checks is not None:
                    self.health_checks.enter()
            else:  # the background is minutes or hours old: learn it again
                reset = getattr(self.detectors.motion, "reset", None)
                if callable(reset):
                    reset()
                if self.health_checks is not None:
                    self.health_checks.leave()

    def _process_health(self, item: SampledFrame) -> None:
        """A health-mode keyframe: tamper checks on every one, coarse motion, no events."""
        assert self.health_checks is not None
        try:
            picture = keyframe_picture(item.image, self._tamper_rows)
            result = self.health_checks.process(picture, picture, item.wall_ts)
        except FrameError as exc:
            self.stats.frame_errors += 1
            log.warning("camera %s: unusable keyframe: %s", self.camera.id, exc)
            return
        if isinstance(self.reader, PacketReader):
            self.reader.confirm = result.unsettled
        self.stats.processed += 1
        if result.motion_fraction is not None:
            self.stats.motion_sum += result.motion_fraction
            self.stats.motion_frames += 1
        for finding in result.findings:
            self._tamper(finding, item.image)

    def _motion_input(self, item: SampledFrame, luma: Frame) -> Frame:
        """The reader's halved frame when the motion detector gets the same result from it.

        Its shrinking starts with the same halving (360 rows to its 90), which the reader
        did while the frame was still in the cache; reading the whole frame again here
        costs more than the rest of the shrinking.
        """
        half, rows = item.half, self._motion_rows
        if half is not None and luma is item.image and rows and halves_first(luma.shape, rows):
            return half
        return luma

    def _tamper_due(self, stream_ts: float) -> bool:
        last = self._last_tamper_check
        if last is None or stream_ts < last or stream_ts - last >= TAMPER_INTERVAL_SECONDS:
            self._last_tamper_check = stream_ts
            return True
        return False

    def _emit(self, kind: EventKind, ts: float, attrs: dict[str, Any],
              id_parts: tuple[object, ...], frame: Frame | None) -> None:
        moment = from_epoch(ts)
        event = make_event(kind, "camera", self.camera.id, moment, attrs, id_parts=id_parts)
        if frame is not None:
            rel = save_snapshot(self._snapshots, self.camera.id, moment, event.id, frame)
            if rel is not None:
                event = event.model_copy(update={"attrs": {**attrs, "snapshot": rel}})
        self.stats.events += 1
        self._publish(event)

    def _transitions(self, transitions: list[MotionTransition], frame: Frame | None) -> None:
        for tr in transitions:
            attrs: dict[str, Any] = {"zone": tr.zone, "peak_fraction": round(tr.peak_fraction, 4)}
            if tr.box is not None:
                attrs["box"] = [round(v, 4) for v in (tr.box.x, tr.box.y, tr.box.w, tr.box.h)]
            if tr.started:
                self._motion_started[tr.zone] = tr.ts
                self._emit(EventKind.MOTION_START, tr.ts, attrs, (tr.zone,), frame)
            else:
                began = self._motion_started.pop(tr.zone, None)
                if began is not None:
                    attrs["duration_seconds"] = round(tr.ts - began, 3)
                self._emit(EventKind.MOTION_END, tr.ts, attrs, (tr.zone,), None)

    def _tamper(self, finding: TamperFinding, frame: Frame) -> None:
        attrs: dict[str, Any] = {"reason": finding.reason, "measure": round(finding.measure, 4),
                                 "threshold": round(finding.threshold, 4)}
        if finding.raised:
            self._tampers[finding.reason] = finding
            log.warning("camera %s: tamper %s (measure %.3f)", self.camera.id, finding.reason,
                        finding.measure)
            self._emit(EventKind.CAMERA_TAMPER, finding.ts, attrs, (finding.reason,), frame)
        elif self._tampers.pop(finding.reason, None) is not None:
            log.info("camera %s: tamper %s cleared", self.camera.id, finding.reason)
            self._emit(EventKind.CAMERA_TAMPER_CLEARED, finding.ts, attrs, (finding.reason,),
                       None)


_LIMITED_TO_FULL = np.clip((np.arange(256) - 16) * 255.0 / 219.0 + 0.5, 0, 255).astype(np.uint8)


def full_range(luma: Frame, decoded: Frame) -> Frame:
    """The luma plane in full range (black 0, white 255) for the tamper checks.

    The decoder's own luma plane of an H.264 stream is limited ("TV") range: black is 16,
    white 235. The tamper checks judge absolute brightness (a blackout is a mean near 0),
    so that plane is expanded first; a frame converted from colour by OpenCV is full range
    already. Once a second per camera, so the table lookup costs nothing that matters.
    """
    if luma is decoded and luma.ndim == 2 and luma.dtype == np.uint8 and luma.size:
        return cast(Frame, cv2.LUT(luma, _LIMITED_TO_FULL))
    return luma


def keyframe_picture(image: Frame, rows: int) -> Frame:
    """A frame as the tamper checks want it (a health-mode keyframe, or the once-a-second
    full-rate check): shrunk to their ``rows``, then expanded to full range
    (:func:`full_range`) when it is the decoder's own luma plane.

    Shrinking first makes the table lookup a ninth of the work; it rounds the same values
    in the other order, a difference of at most one grey level.
    """
    luma = detection_luma(image)
    small = small_luma(luma, rows)
    return full_range(small, small) if luma is image else small


def detection_luma(frame: Frame) -> Frame:
    """The picture the detectors are handed: the frame itself when it is grey.

    The reader delivers the decoder's luma plane by default and the detectors shrink it
    to their working size themselves (area averaging on OpenCV's fast paths, see
    :func:`detectors.frames.small_luma`). A colour frame is converted to grey here, once
    for both detectors. Anything else goes through unchanged for the detectors to
    refuse with a :class:`FrameError`.
    """
    if frame.ndim == 3 and frame.shape[2] == 3 and frame.size and frame.dtype == np.uint8:
        return cast(Frame, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    return frame
