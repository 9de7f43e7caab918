"""Storage rules: an edge worker whose disk is full of recordings under legal hold."""

from __future__ import annotations

from alerts.rules.base import AlertRule, AlertSpec, Cause
from compoundeye.events import Event, EventKind

RETENTION_BLOCKED = AlertSpec("retention_blocked", "Disk full and only held recordings left",
                              state=True, auto_resolve=True, priority=2)


class RetentionBlocked(AlertRule):
    """Retention under the free-disk floor with nothing it may delete (everything left is
    under a legal hold, or the holds cannot be read), until there is room again."""

    kinds = frozenset({EventKind.RETENTION_BLOCKED, EventKind.RETENTION_OK})
    alerts = (RETENTION_BLOCKED,)

    def evaluate(self, event: Event) -> list[Cause]:
        if event.kind is EventKind.RETENTION_OK:
            return [Cause.clear(RETENTION_BLOCKED.name, "worker", event)]
        attrs: dict[str, object] = {key: event.attrs[key] for key in
                 ("reason", "free_bytes", "min_free_bytes", "held_segments", "held_bytes")
                 if key in event.attrs}
        return [Cause.open(RETENTION_BLOCKED.name, "worker", event, attrs=attrs,
                           title_extra=str(event.attrs.get("reason", "")))]
