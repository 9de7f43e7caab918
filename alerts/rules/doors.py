"""Door rules: the door state machines of ``detectors.doors``, and controllers offline."""

from __future__ import annotations

import logging
from datetime import datetime

from alerts.rules.base import AlertRule, AlertSpec, Cause, RuleContext
from compoundeye.events import Event, EventKind
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
"""The door events the door state machines read, by their ``detectors.doors`` kind."""
REPORTED_RULES = {
    EventKind.DOOR_FORCED: "door_forced", EventKind.DOOR_HELD: "door_held",
}
"""Conditions a controller reports itself; every report updates the open alert."""


class DoorStateRules(AlertRule):
    """Forced, held open, denial bursts, after hours, impossible travel, tamper."""

    kinds = frozenset(DOOR_KINDS)
    alerts = (
        AlertSpec("door_forced", "Door forced open", state=True),
        AlertSpec("door_held", "Door held open", state=True, auto_resolve=True),
        AlertSpec("door_tamper", "Door controller tampered", state=True),
        AlertSpec("door_denied_burst", "Repeated access denied"),
        AlertSpec("door_after_hours", "Access outside schedule"),
        AlertSpec("door_impossible_travel", "Impossible travel"),
    )
    door_state = True

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        site = context.site
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
            is_open=self._schedule_open, clock=context.clock)

    def _schedule_open(self, door_id: str, ts: datetime) -> bool:
        site = self.context.site
        door = site.door(door_id)
        if door is None or door.schedule is None:
            return True
        schedule = site.schedules.get(door.schedule)
        return True if schedule is None else schedule.active(ts, site.tz)

    def evaluate(self, event: Event) -> list[Cause]:
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
        causes = [_cause(f, event) for f in findings]
        repeat = REPORTED_RULES.get(event.kind)
        if repeat is not None and not any(f.rule == repeat and not f.clears for f in findings):
            # The controller says it again (held for an hour, forced again): the door rules
            # do not raise twice, but the open alert is updated (count, last event).
            causes.append(Cause.open(repeat, "door", event,
                                     attrs={"by": "controller", "repeated": True}))
        return causes

    def tick(self, now: datetime) -> list[Cause]:
        """Doors held open past their limit."""
        return [_cause(f, None) for f in self.doors.tick(now)]


def _cause(finding: DoorFinding, event: Event | None) -> Cause:
    detail = ""
    if finding.rule in ("door_denied_burst",):
        detail = str(finding.details.get("scope", ""))
        if finding.credential:
            detail += f":{finding.credential}"
    elif finding.rule == "door_impossible_travel" and finding.credential:
        detail = finding.credential
    if finding.clears:
        return Cause(finding.rule, "door", finding.door_id, finding.ts, event, clears=True,
                     detail=detail, attrs=dict(finding.details))
    attrs = dict(finding.details)
    if finding.credential:
        attrs["credential"] = finding.credential
    return Cause(finding.rule, "door", finding.door_id, finding.ts, event, detail=detail,
                 attrs=attrs)


DOOR_OFFLINE = AlertSpec("door_offline", "Door controller offline", state=True,
                         auto_resolve=True)


class DoorOffline(AlertRule):
    """A door controller that went silent, until it is heard again."""

    kinds = frozenset({EventKind.DOOR_OFFLINE, EventKind.DOOR_ONLINE})
    alerts = (DOOR_OFFLINE,)

    def evaluate(self, event: Event) -> list[Cause]:
        if event.kind is EventKind.DOOR_ONLINE:
            return [Cause.clear(DOOR_OFFLINE.name, "door", event)]
        reason = event.attrs.get("reason", "no heartbeat")
        return [Cause.open(DOOR_OFFLINE.name, "door", event, attrs={"reason": reason})]
