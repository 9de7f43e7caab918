"""Builds each camera's detectors from ``detectors/`` with the camera's zones and masks."""

from __future__ import annotations

from dataclasses import dataclass

from compoundeye.site.models import Camera
from detectors.base import MotionDetector, TamperDetector, ZoneSpec
from detectors.motion import FrameDiffMotionDetector, MotionConfig
from detectors.tamper import CameraHealthDetector
from detectors.tracker import MotionTracker, TrackerConfig


@dataclass
class CameraDetectors:
    """One camera's detector objects (each stateful, for that camera only)."""

    motion: MotionDetector
    tracker: MotionTracker
    tamper: TamperDetector


def _zone_specs(camera: Camera) -> tuple[ZoneSpec, ...]:
    return tuple(ZoneSpec(z.name, list(z.polygon), z.min_area) for z in camera.zones)


def build_detectors(camera: Camera) -> CameraDetectors:
    """Motion detector and tracker for the camera's zones and masks, plus its tamper checks."""
    config = MotionConfig(
        masks=tuple(list(m) for m in camera.masks),
        zones=_zone_specs(camera),
    )
    return CameraDetectors(
        motion=FrameDiffMotionDetector(config),
        tracker=MotionTracker(TrackerConfig()),
        tamper=CameraHealthDetector(),
    )
