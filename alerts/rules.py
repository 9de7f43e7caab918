"""Which events become alerts: door rules, camera health, armed zones, activity.

:class:`RuleEngine` turns each event into intents (:mod:`alerts.dedupe`): open an alert
for a cause (with the correlated cameras, clip window and snapshot) or resolve one whose
cause cleared. The door rules and the activity baseline come from ``detectors/``; this
module only maps events in and findings out. It keeps state in memory (doors open, last
grants, motion time this hour), so it is fed events in stream order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from alerts.activity import ActivityTracker
from alerts.correlation import Correlator
from alerts.dedupe import (
    AUTO_RESOLVE_RULES,
    Intent,
    Open,
    Resolve,
    cooldown_for,
    dedupe_key,
    priority_for,
)
from compoundeye.events import Event, EventKind
from compoundeye.site.models import Site
from compoundeye.store import NewAlert
from detectors.activity import ActivityAnomaly
from detectors.doors import (
    DoorEvent,
    DoorEventError,
    DoorFinding,
    DoorRuleEngine,
    DoorRulesConfig,
    DoorSpec,
)

log = logging.getLogger(__name__)

DOOR_KINDS = {
    EventKind.DOOR_GRANTED: "granted", EventKind.DOOR_DENIED: "denied",
    EventKind.DOOR_OPENED: "opened", EventKind.DOOR_CLOSED: "closed",
    EventKind.DOOR_FORCED: "forced", EventKind.DOOR_HELD: "held",
    EventKind.DOOR_TAMPER: "tamper",
}
REPORTED_RULES = {
    EventKind.DOOR_FORCED: "door_forced", EventKind.DOOR_HELD: "door_held",
}
"""Conditions a controller reports itself; every report updates the open alert."""
TITLES = {
    "door_forced": "Door forced open", "door_held": "Door held open",
    "door_tamper": "Door controller tampered", "door_denied_burst": "Repeated access denied",
    "door_after_hours": "Access outside schedule", "door_impossible_travel": "Impossible travel",
    "door_offline": "Door controller offline", "camera_offline": "Camera offline",
    "camera_tamper": "Camera tampered", "motion_armed": "Motion in armed zone",
    "activity_anomaly": "Unusual activity",
}


class RuleEngine:
    """Maps events to alert intents; ``tick(now)`` fires the time-driven door rules."""

    def __init__(self, site: Site, *, clock: Callable[[], datetime] | None = None,
                 activity_load: Callable[[str], dict[str, str]] | None = None) -> None:
        self.site = site
        self.correlator = Correlator(site)
        rules = site.door_rules
        self.doors = DoorRuleEngine(
            rules=DoorRulesConfig(
                forced_grace_seconds=rules.forced_grace_seconds,
                denied_burst_count=rules.denied_burst_count,
                denied_burst_window_seconds=rules.denied_burst_window_seconds,
                travel_max_speed_mps=rules.travel_max_speed_mps,
                travel_min_distance_m=rules.travel_min_distance_m),
            doors={d.id: DoorSpec(d.id, d.held_open_seconds, d.location.lat, d.location.lon)
                   for d in site.doors},
            is_open=self._door_schedule_open, clock=clock)
        self.activity = ActivityTracker(site.tz, activity_load)
        self._armed_zones = {(c.id, z.name): z.armed_schedule for c in site.cameras
                             for z in c.zones if z.armed_schedule}

    # -- helpers -------------------------------------------------------------------------

    def _door_schedule_open(self, door_id: str, ts: datetime) -> bool:
        door = self.site.door(door_id)
        if door is None or door.schedule is None:
            return True
        schedule = self.site.schedules.get(door.schedule)
        return True if schedule is None else schedule.active(ts, self.site.tz)

    def _zone_armed(self, camera_id: str, zone: str, ts: datetime) -> bool:
        name = self._armed_zones.get((camera_id, zone))
        if name is None:
            return False
        schedule = self.site.schedules.get(name)
        if schedule is None:
            return False
        return schedule.active(ts, self.site.tz)

    def _name(self, source_type: str, source_id: str) -> str:
        thing = (self.site.door(source_id) if source_type == "door"
                 else self.site.camera(source_id))
        return (thing.name if thing is not None and thing.name else source_id)

    def open_intent(self, rule: str, source_type: str, source_id: str, at: datetime,
              event: Event | None, detail: str = "", attrs: dict[str, Any] | None = None,
              title_extra: str = "") -> Open:
        snapshot = None
        if event is not None:
            raw = event.attrs.get("snapshot")
            snapshot = raw if isinstance(raw, str) and raw else None
        ctx = self.correlator.context(source_type, source_id, at, snapshot)
        title = f"{TITLES.get(rule, rule)}: {self._name(source_type, source_id)}"
        if title_extra:
            title += f" ({title_extra})"
        new = NewAlert(
            rule=rule, priority=priority_for(rule, self.site), source_type=source_type,
            source_id=source_id, title=title,
            dedupe_key=dedupe_key(rule, source_type, source_id, detail), event_at=at,
            building=ctx.building, location=ctx.location,
            event_ids=[event.id] if event is not None else [], cameras=ctx.cameras,
            clip_start=ctx.clip_start, clip_end=ctx.clip_end, snapshot=ctx.snapshot,
            attrs=dict(attrs or {}), cooldown=cooldown_for(rule, self.site))
        return Open(new, event.id if event is not None else None)

    def resolve_intent(self, rule: str, source_type: str, source_id: str, at: datetime,
                 event: Event | None, detail: str = "",
                 details: dict[str, Any] | None = None) -> Resolve:
        auto = self.site.alerting.auto_resolve and rule in AUTO_RESOLVE_RULES
        return Resolve(dedupe_key(rule, source_type, source_id, detail),
                       event.id if event is not None else None, at,
                       cause=event.kind.value if event is not None else "cleared",
                       detach_only=not auto, details=dict(details or {}))

    # -- events --------------------------------------------------------------------------

    def evaluate(self, event: Event, *, door_rules: bool = True) -> list[Intent]:
        """The intents one event causes (often none).

        ``door_rules=False`` leaves the stateful door events (grants, openings, ...) out:
        with several alerting processes only the door-rules leader evaluates them.
        """
        self.correlator.note(event)
        kind = event.kind
        sid = event.source.id
        if kind in DOOR_KINDS:
            return self._door(event) if door_rules else []
        if kind is EventKind.DOOR_OFFLINE:
            return [self.open_intent("door_offline", "door", sid, event.ts, event,
                               attrs={"reason": event.attrs.get("reason", "no heartbeat")})]
        if kind is EventKind.DOOR_ONLINE:
            return [self.resolve_intent("door_offline", "door", sid, event.ts, event)]
        if kind is EventKind.CAMERA_OFFLINE:
            return [self.open_intent("camera_offline", "camera", sid, event.ts, event,
                               attrs={"reason": str(event.attrs.get("reason", ""))})]
        if kind is EventKind.CAMERA_ONLINE:
            return [self.resolve_intent("camera_offline", "camera", sid, event.ts, event)]
        if kind is EventKind.CAMERA_TAMPER:
            reason = str(event.attrs.get("reason", "unknown"))
            return [self.open_intent("camera_tamper", "camera", sid, event.ts, event, reason,
                               {"reason": reason}, title_extra=reason)]
        if kind is EventKind.CAMERA_TAMPER_CLEARED:
            reason = str(event.attrs.get("reason", "unknown"))
            return [self.resolve_intent("camera_tamper", "camera", sid, event.ts, event, reason)]
        if kind in (EventKind.MOTION_START, EventKind.MOTION_END):
            return self._motion(event)
        if kind is EventKind.ACTIVITY_ANOMALY:
            zone = str(event.attrs.get("zone", "*"))
            return [self.open_intent("activity_anomaly", "camera", sid, event.ts, event, zone,
                               dict(event.attrs), title_extra=zone)]
        return []

    def _door(self, event: Event) -> list[Intent]:
        credential = event.attrs.get("credential")
        reason = event.attrs.get("reason")
        try:
            door_event = DoorEvent(
                DOOR_KINDS[event.kind], event.source.id, event.ts,
                credential=credential if isinstance(credential, str) else None,
                reason=reason if isinstance(reason, str) else None)
        except DoorEventError as exc:
            log.warning("door event %s not usable by the door rules: %s", event.id, exc)
            return []
        findings = self.doors.feed(door_event)
        intents = [self._finding(f, event) for f in findings]
        repeat = REPORTED_RULES.get(event.kind)
        if repeat is not None and not any(f.rule == repeat and not f.clears for f in findings):
            # The controller says it again (held for an hour, forced again): the rule
            # engine does not raise twice, but the open alert is updated (count, last event).
            attrs = {"by": "controller", "repeated": True}
            intents.append(self.open_intent(repeat, "door", event.source.id, event.ts, event,
                                            attrs=attrs))
        return intents

    def _finding(self, finding: DoorFinding, event: Event | None) -> Intent:
        detail = ""
        if finding.rule in ("door_denied_burst",):
            detail = str(finding.details.get("scope", ""))
            if finding.credential:
                detail += f":{finding.credential}"
        elif finding.rule == "door_impossible_travel" and finding.credential:
            detail = finding.credential
        if finding.clears:
            return self.resolve_intent(finding.rule, "door", finding.door_id, finding.ts, event,
                                 detail, finding.details)
        attrs = dict(finding.details)
        if finding.credential:
            attrs["credential"] = finding.credential
        return self.open_intent(finding.rule, "door", finding.door_id, finding.ts, event, detail,
                          attrs)

    def _motion(self, event: Event) -> list[Intent]:
        zone = str(event.attrs.get("zone", "*"))
        started = event.kind is EventKind.MOTION_START
        out: list[Intent] = []
        for anomaly in self.activity.motion(event.source.id, zone, event.ts, started):
            out.append(self._anomaly(event.source.id, anomaly, event))
        if started and self._zone_armed(event.source.id, zone, event.ts):
            out.append(self.open_intent("motion_armed", "camera", event.source.id, event.ts, event,
                                  zone, {"zone": zone}, title_extra=zone))
        return out

    def _anomaly(self, camera: str, anomaly: ActivityAnomaly, event: Event) -> Intent:
        attrs = {"zone": anomaly.zone, "hour_of_week": anomaly.hour_of_week,
                 "observed": round(anomaly.observed, 4), "expected": round(anomaly.expected, 4),
                 "low": round(anomaly.low, 4), "high": round(anomaly.high, 4),
                 "samples": anomaly.samples, "direction": anomaly.direction}
        intent = self.open_intent("activity_anomaly", "camera", camera, event.ts, None,
                            anomaly.zone, attrs, title_extra=f"{anomaly.zone}, "
                            f"{anomaly.direction}")
        return intent

    def tick(self, now: datetime, *, door_rules: bool = True) -> list[Intent]:
        """Time-driven findings (doors held open past their limit)."""
        self.correlator.prune(now)
        if not door_rules:
            return []
        return [self._finding(f, None) for f in self.doors.tick(now)]
