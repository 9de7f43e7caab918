"""What rules ask for (open an alert, resolve one), dedupe keys and cooldowns.

One cause, one open alert: every intent names a dedupe key (rule plus what it is about).
State-like causes (a door held open, a camera offline or tampered) merge every new event
into the open alert until the cause clears; event-like causes (motion in an armed zone,
a burst of denials) merge only within the cooldown after the alert's last event, so a
zone that is busy all night gives one alert per quiet spell, not one per motion.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from compoundeye.site.models import Site
from compoundeye.store import NewAlert

STATE_RULES = frozenset({"door_forced", "door_held", "door_offline", "door_tamper",
                         "camera_offline", "camera_tamper"})
"""Rules whose alert stays the merge target until resolved (no cooldown)."""

AUTO_RESOLVE_RULES = frozenset({"door_held", "door_offline", "camera_offline",
                                "camera_tamper"})
"""Rules resolved by the system when their cause clears. A forced door is not: an operator
must look at it, so when that door closes its alert only stops taking new events."""


def dedupe_key(rule: str, source_type: str, source_id: str, detail: str = "") -> str:
    """The key of one cause, e.g. ``door_held:door:d1`` or ``motion_armed:camera:c1:lobby``."""
    key = f"{rule}:{source_type}:{source_id}"
    return f"{key}:{detail}" if detail else key


def cooldown_for(rule: str, site: Site) -> timedelta | None:
    """None for state-like rules; the site's cooldown for event-like ones."""
    if rule in STATE_RULES:
        return None
    return timedelta(seconds=site.alerting.cooldown_seconds)


def priority_for(rule: str, site: Site) -> int:
    """Priority from the site file (1 highest); 3 for a rule it does not list."""
    value = getattr(site.priorities, rule, 3)
    return int(value)


@dataclass
class Open:
    """Open an alert for this cause, or fold the event into its open alert."""

    alert: NewAlert
    event_id: str | None

    @property
    def key(self) -> str:
        return self.alert.dedupe_key


@dataclass
class Resolve:
    """The cause cleared: resolve its open alert (or, ``detach_only``, stop merging into it)."""

    key: str
    event_id: str | None
    at: datetime
    cause: str
    detach_only: bool = False
    details: dict[str, Any] = field(default_factory=dict)


Intent = Open | Resolve


def coalesce(intents: Iterable[Intent]) -> list[Intent]:
    """Fold successive opens of one key into one (all their events), keeping order.

    An open after a resolve of the same key stays separate (it opens a new alert). Within
    a batch this turns thousands of motion events of one zone into one merge.
    """
    out: list[Intent] = []
    pending: dict[str, int] = {}
    for intent in intents:
        if isinstance(intent, Resolve):
            pending.pop(intent.key, None)
            out.append(intent)
            continue
        index = pending.get(intent.key)
        cooldown = intent.alert.cooldown
        if index is not None and cooldown is not None:
            previous = out[index]
            assert isinstance(previous, Open)
            if intent.alert.event_at - previous.alert.event_at > cooldown:
                index = None  # past the cooldown: this one opens a new alert
        if index is None:
            pending[intent.key] = len(out)
            out.append(Open(replace(intent.alert, event_ids=list(intent.alert.event_ids),
                                    attrs=dict(intent.alert.attrs)), intent.event_id))
            continue
        merged = out[index]
        assert isinstance(merged, Open)
        merged.alert = _fold(merged.alert, intent.alert)
    return out


def coalesced_event_ids(intent: Intent) -> list[str]:
    """Every source event id an intent stands for."""
    if isinstance(intent, Resolve):
        return [intent.event_id] if intent.event_id else []
    return list(dict.fromkeys(intent.alert.event_ids))


def _fold(first: NewAlert, later: NewAlert) -> NewAlert:
    events = [*first.event_ids, *[e for e in later.event_ids if e not in first.event_ids]]
    clip_end = first.clip_end
    if later.clip_end is not None and (clip_end is None or later.clip_end > clip_end):
        clip_end = later.clip_end
    return replace(
        first, event_ids=events, event_at=max(first.event_at, later.event_at),
        first_event_at=min(first.first_event_at or first.event_at, later.event_at),
        cameras=list(dict.fromkeys([*first.cameras, *later.cameras])), clip_end=clip_end,
        snapshot=later.snapshot or first.snapshot, attrs={**first.attrs, **later.attrs},
    )
