"""Builds each camera's detectors from ``detectors/`` with the camera's zones and masks.

The tamper detector comes from ``detectors.tamper`` when that module is installed, and
from :mod:`ingest.minimal_detector` otherwise (logged once per process start).
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any

from compoundeye.site.models import Camera
from detectors.base import MotionDetector, TamperDetector, ZoneSpec
from detectors.motion import FrameDiffMotionDetector, MotionConfig, MotionTracker, TrackerConfig
from ingest.minimal_detector import MinimalHealthDetector

log = logging.getLogger(__name__)


@dataclass
class CameraDetectors:
    """One camera's detector objects (each stateful, for that camera only)."""

    motion: MotionDetector
    tracker: MotionTracker
    tamper: TamperDetector
    tamper_impl: str


def _zone_specs(camera: Camera) -> tuple[ZoneSpec, ...]:
    return tuple(ZoneSpec(z.name, list(z.polygon), z.min_area) for z in camera.zones)


def _tamper_detector() -> tuple[TamperDetector, str]:
    try:
        module: Any = importlib.import_module("detectors.tamper")
        detector: TamperDetector = module.CameraHealthDetector()
    except (ImportError, AttributeError, TypeError) as exc:
        log.debug("detectors.tamper not usable (%s); using the minimal health detector", exc)
        return MinimalHealthDetector(), "ingest.minimal_detector"
    return detector, "detectors.tamper"


def build_detectors(camera: Camera) -> CameraDetectors:
    """Motion detector and tracker for the camera's zones and masks, plus its tamper checks."""
    config = MotionConfig(
        masks=tuple(list(m) for m in camera.masks),
        zones=_zone_specs(camera),
    )
    tamper, impl = _tamper_detector()
    return CameraDetectors(
        motion=FrameDiffMotionDetector(config),
        tracker=MotionTracker(TrackerConfig()),
        tamper=tamper,
        tamper_impl=impl,
    )
