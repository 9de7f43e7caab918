"""Motion rules: motion starting in a zone while its armed schedule is in force."""

from __future__ import annotations

from datetime import datetime

from alerts.rules.base import AlertRule, AlertSpec, Cause, RuleContext
from compoundeye.events import Event, EventKind

MOTION_ARMED = AlertSpec("motion_armed", "Motion in armed zone")


class ArmedZoneMotion(AlertRule):
    """Motion in an armed zone; a busy zone gives one alert per quiet spell (cooldown)."""

    kinds = frozenset({EventKind.MOTION_START})
    alerts = (MOTION_ARMED,)

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._armed_zones = {(c.id, z.name): z.armed_schedule for c in context.site.cameras
                             for z in c.zones if z.armed_schedule}

    def _armed(self, camera_id: str, zone: str, ts: datetime) -> bool:
        name = self._armed_zones.get((camera_id, zone))
        if name is None:
            return False
        site = self.context.site
        schedule = site.schedules.get(name)
        if schedule is None:
            return False
        return schedule.active(ts, site.tz)

    def evaluate(self, event: Event) -> list[Cause]:
        zone = str(event.attrs.get("zone", "*"))
        if not self._armed(event.source.id, zone, event.ts):
            return []
        return [Cause.open(MOTION_ARMED.name, "camera", event, detail=zone,
                           attrs={"zone": zone}, title_extra=zone)]
