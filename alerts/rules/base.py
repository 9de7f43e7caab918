"""What an alert rule is: the event kinds it reads, the alerts it raises, its causes.

A rule says only *that* something is the matter (a :class:`Cause`: open an alert about
this door or camera, or its cause cleared). The engine (:mod:`alerts.rules.engine`)
turns every cause into an intent in one place: correlation (door, cameras, clip window,
snapshot), the title, priority, dedupe key and cooldown. So a rule never repeats those.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from alerts.activity import ActivityTracker
from compoundeye.events import Event, EventKind
from compoundeye.site.models import Site


@dataclass(frozen=True)
class AlertSpec:
    """One kind of alert a rule raises: its name, title, and how it merges and clears."""

    name: str
    """The alert's rule name (``door_forced``), stored with the alert and in its dedupe key."""
    title: str
    state: bool = False
    """State-like: the open alert takes every new event until resolved (no cooldown).
    Otherwise event-like: new events merge only within the site's cooldown."""
    auto_resolve: bool = False
    """Resolved by the system when its cause clears; otherwise the alert only stops taking
    new events, and an operator resolves it."""
    priority: int = 3
    """Priority when the site file's ``priorities`` does not name this alert."""


@dataclass(slots=True)
class Cause:
    """What a rule found: open an alert about a source, or its cause cleared."""

    rule: str
    source_type: str
    source_id: str
    at: datetime
    event: Event | None = None
    """The event behind it (its id, snapshot and kind are used); None for a timer."""
    clears: bool = False
    detail: str = ""
    """Tells causes of one rule and source apart (a tamper reason, a zone)."""
    attrs: Mapping[str, Any] = field(default_factory=dict)
    """The alert's attributes (opening) or the resolution's details (clearing)."""
    title_extra: str = ""

    @classmethod
    def open(cls, rule: str, source_type: str, event: Event, *, detail: str = "",
             attrs: Mapping[str, Any] | None = None, title_extra: str = "") -> Cause:
        """Open (or update) an alert about the event's source, at the event's time."""
        return cls(rule, source_type, event.source.id, event.ts, event, False, detail,
                   attrs if attrs is not None else {}, title_extra)

    @classmethod
    def clear(cls, rule: str, source_type: str, event: Event, *, detail: str = "") -> Cause:
        """The cause of an alert about the event's source cleared, at the event's time."""
        return cls(rule, source_type, event.source.id, event.ts, event, True, detail)


@dataclass(frozen=True)
class RuleContext:
    """What rules are built with: the site, the clock, the activity baselines."""

    site: Site
    clock: Callable[[], datetime] | None
    activity: ActivityTracker


class AlertRule:
    """One alert rule. Subclasses set ``kinds`` and ``alerts`` and implement ``evaluate``.

    ``door_state`` rules keep state per door and are evaluated only by the alerting
    process leading the door rules (:mod:`alerts.doorlead`); ``tick`` is for rules with
    timers. Rules are fed events in stream order.
    """

    kinds: ClassVar[frozenset[EventKind]] = frozenset()
    """The event kinds ``evaluate`` is called with."""
    alerts: ClassVar[tuple[AlertSpec, ...]] = ()
    """Every alert this rule opens or resolves."""
    door_state: ClassVar[bool] = False

    def __init__(self, context: RuleContext) -> None:
        self.context = context

    def evaluate(self, event: Event) -> list[Cause]:
        """The causes one event of ``kinds`` shows (often none)."""
        raise NotImplementedError

    def tick(self, now: datetime) -> list[Cause]:
        """Causes due by time alone (none unless the rule has timers)."""
        del now
        return []
