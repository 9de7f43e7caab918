"""Activity rules: a zone's hour far from its learnt baseline, and reported anomalies."""

from __future__ import annotations

from alerts.rules.base import AlertRule, AlertSpec, Cause
from compoundeye.events import Event, EventKind

ACTIVITY_ANOMALY = AlertSpec("activity_anomaly", "Unusual activity")


class ActivityBaselineRule(AlertRule):
    """Motion time per zone and hour against the baseline of that hour of week."""

    kinds = frozenset({EventKind.MOTION_START, EventKind.MOTION_END})
    alerts = (ACTIVITY_ANOMALY,)

    def evaluate(self, event: Event) -> list[Cause]:
        zone = str(event.attrs.get("zone", "*"))
        started = event.kind is EventKind.MOTION_START
        camera = event.source.id
        causes: list[Cause] = []
        for anomaly in self.context.activity.motion(camera, zone, event.ts, started):
            attrs = {"zone": anomaly.zone, "hour_of_week": anomaly.hour_of_week,
                     "observed": round(anomaly.observed, 4),
                     "expected": round(anomaly.expected, 4),
                     "low": round(anomaly.low, 4), "high": round(anomaly.high, 4),
                     "samples": anomaly.samples, "direction": anomaly.direction}
            # About the finished hour, not this event: no event id, no snapshot.
            causes.append(Cause(ACTIVITY_ANOMALY.name, "camera", camera, event.ts, None,
                                detail=anomaly.zone, attrs=attrs,
                                title_extra=f"{anomaly.zone}, {anomaly.direction}"))
        return causes


class ActivityAnomalyEvents(AlertRule):
    """``activity.anomaly`` events reported by another analysis."""

    kinds = frozenset({EventKind.ACTIVITY_ANOMALY})
    alerts = (ACTIVITY_ANOMALY,)

    def evaluate(self, event: Event) -> list[Cause]:
        zone = str(event.attrs.get("zone", "*"))
        return [Cause.open(ACTIVITY_ANOMALY.name, "camera", event, detail=zone,
                           attrs=dict(event.attrs), title_extra=zone)]
