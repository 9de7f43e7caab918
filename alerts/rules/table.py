"""The alert rules, in the order their intents come out for one event.

Adding a rule is adding its class (in the module of its family) and one line here.
"""

from __future__ import annotations

from alerts.rules.activity import ActivityAnomalyEvents, ActivityBaselineRule
from alerts.rules.base import AlertRule
from alerts.rules.cameras import CameraOffline, CameraRecording, CameraTamper
from alerts.rules.doors import DoorOffline, DoorStateRules
from alerts.rules.motion import ArmedZoneMotion
from alerts.rules.storage import RetentionBlocked

RULES: tuple[type[AlertRule], ...] = (
    DoorStateRules,
    DoorOffline,
    CameraOffline,
    CameraTamper,
    CameraRecording,
    ActivityBaselineRule,  # before the armed zone: a motion.start's anomalies come first
    ArmedZoneMotion,
    ActivityAnomalyEvents,
    RetentionBlocked,
)
