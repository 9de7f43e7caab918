"""What rules ask for (open an alert, resolve one), dedupe keys, and folding a batch.

One cause, one open alert: every intent names a dedupe key (rule plus what it is about).
State-like causes (a door held open, a camera offline or tampered) merge every new event
into the open alert until the cause clears; event-like causes (motion in an armed zone,
a burst of denials) merge only within the cooldown after the alert's last event, so a
zone that is busy all night gives one alert per quiet spell, not one per motion. Which
rule is which is said by its :class:`alerts.rules.AlertSpec`; the rule engine sets each
intent's key and cooldown from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from compoundeye.store import NewAlert


def dedupe_key(rule: str, source_type: str, source_id: str, detail: str = "") -> str:
    """The key of one cause, e.g. ``door_held:door:d1`` or ``motion_armed:camera:c1:lobby``."""
    key = f"{rule}:{source_type}:{source_id}"
    return f"{key}:{detail}" if detail else key


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
