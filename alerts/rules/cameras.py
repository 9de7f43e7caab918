"""Camera health rules: a camera offline, a camera tampered with, a camera not recording."""

from __future__ import annotations

from alerts.rules.base import AlertRule, AlertSpec, Cause
from compoundeye.events import Event, EventKind

CAMERA_OFFLINE = AlertSpec("camera_offline", "Camera offline", state=True, auto_resolve=True)
CAMERA_TAMPER = AlertSpec("camera_tamper", "Camera tampered", state=True, auto_resolve=True)
CAMERA_RECORDING = AlertSpec("camera_recording", "Camera not recording", state=True,
                             auto_resolve=True, priority=2)


class CameraOffline(AlertRule):
    """A camera its edge worker lost, until it is back (see also :mod:`alerts.watchdog`)."""

    kinds = frozenset({EventKind.CAMERA_OFFLINE, EventKind.CAMERA_ONLINE})
    alerts = (CAMERA_OFFLINE,)

    def evaluate(self, event: Event) -> list[Cause]:
        if event.kind is EventKind.CAMERA_ONLINE:
            return [Cause.clear(CAMERA_OFFLINE.name, "camera", event)]
        reason = str(event.attrs.get("reason", ""))
        return [Cause.open(CAMERA_OFFLINE.name, "camera", event, attrs={"reason": reason})]


class CameraTamper(AlertRule):
    """One alert per tamper reason (covered, moved, ...), until that reason clears."""

    kinds = frozenset({EventKind.CAMERA_TAMPER, EventKind.CAMERA_TAMPER_CLEARED})
    alerts = (CAMERA_TAMPER,)

    def evaluate(self, event: Event) -> list[Cause]:
        reason = str(event.attrs.get("reason", "unknown"))
        if event.kind is EventKind.CAMERA_TAMPER_CLEARED:
            return [Cause.clear(CAMERA_TAMPER.name, "camera", event, detail=reason)]
        return [Cause.open(CAMERA_TAMPER.name, "camera", event, detail=reason,
                           attrs={"reason": reason}, title_extra=reason)]


class CameraRecording(AlertRule):
    """A camera that should record and finishes no segment, until it does again (priority
    ``priorities.camera_recording``, P2 by default); the reason is in the title."""

    kinds = frozenset({EventKind.CAMERA_RECORDING_FAILED, EventKind.CAMERA_RECORDING_OK})
    alerts = (CAMERA_RECORDING,)

    def evaluate(self, event: Event) -> list[Cause]:
        if event.kind is EventKind.CAMERA_RECORDING_OK:
            return [Cause.clear(CAMERA_RECORDING.name, "camera", event)]
        reason = str(event.attrs.get("reason", "")) or "no segment finished"
        attrs = {"reason": reason, "last_segment": event.attrs.get("last_segment")}
        return [Cause.open(CAMERA_RECORDING.name, "camera", event, attrs=attrs,
                           title_extra=reason.split(": ", 1)[0])]
