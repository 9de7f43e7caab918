"""The rule engine: events through the rule table, causes into intents in one place.

:class:`RuleEngine` builds every rule of :data:`alerts.rules.table.RULES`, hands each
event to the rules that read its kind (in table order) and each timer tick to every rule,
and turns the causes they find into intents (:mod:`alerts.dedupe`): open an alert, with
the correlated cameras, clip window and snapshot, title, priority, dedupe key and
cooldown; or resolve the one whose cause cleared. The rules keep state in memory (doors
open, last grants, motion time this hour), so the engine is fed events in stream order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from alerts.activity import ActivityTracker
from alerts.correlation import Correlator
from alerts.dedupe import Intent, Open, Resolve, dedupe_key
from alerts.rules.base import AlertRule, AlertSpec, Cause, RuleContext
from alerts.rules.table import RULES
from compoundeye.events import Event, EventKind
from compoundeye.site.models import Site
from compoundeye.store import NewAlert


class RuleEngine:
    """Maps events to alert intents; ``tick(now)`` fires the rules' timers."""

    def __init__(self, site: Site, *, clock: Callable[[], datetime] | None = None,
                 activity_load: Callable[[str], dict[str, str]] | None = None,
                 rules: Sequence[type[AlertRule]] = RULES) -> None:
        self.site = site
        self.correlator = Correlator(site)
        self.activity = ActivityTracker(site.tz, activity_load)
        context = RuleContext(site, clock, self.activity)
        self.rules = [rule(context) for rule in rules]
        self.specs = _specs(self.rules)
        self.door_kinds = frozenset(k for r in self.rules if r.door_state for k in r.kinds)
        """Event kinds read by door-state rules (evaluated by the door-rules leader only)."""
        self._cooldown = timedelta(seconds=site.alerting.cooldown_seconds)
        self._all = {kind: [r for r in self.rules if kind in r.kinds] for kind in EventKind}
        self._shared = {kind: [r for r in listed if not r.door_state]
                        for kind, listed in self._all.items()}
        """The rules of each event kind, all of them and those every process runs."""

    # -- events and ticks ----------------------------------------------------------------

    def evaluate(self, event: Event, *, door_rules: bool = True) -> list[Intent]:
        """The intents one event causes (often none).

        ``door_rules=False`` leaves the door-state rules out (grants, openings, ...): with
        several alerting processes only the door-rules leader evaluates them.
        """
        self.correlator.note(event)
        rules = (self._all if door_rules else self._shared)[event.kind]
        return [self.intent(cause) for rule in rules for cause in rule.evaluate(event)]

    def tick(self, now: datetime, *, door_rules: bool = True) -> list[Intent]:
        """Time-driven findings (doors held open past their limit)."""
        self.correlator.prune(now)
        return [self.intent(cause) for rule in self.rules
                if door_rules or not rule.door_state for cause in rule.tick(now)]

    # -- causes into intents -------------------------------------------------------------

    def spec(self, rule: str) -> AlertSpec:
        """The spec of an alert rule name; an event-like one titled by its name if unknown."""
        return self.specs.get(rule) or AlertSpec(rule, rule)

    def intent(self, cause: Cause) -> Intent:
        """The intent of one cause: correlation, title, priority, dedupe and cooldown."""
        spec = self.spec(cause.rule)
        key = dedupe_key(cause.rule, cause.source_type, cause.source_id, cause.detail)
        event = cause.event
        event_id = event.id if event is not None else None
        if cause.clears:
            auto = self.site.alerting.auto_resolve and spec.auto_resolve
            return Resolve(key, event_id, cause.at,
                           cause=event.kind.value if event is not None else "cleared",
                           detach_only=not auto, details=dict(cause.attrs))
        snapshot = None
        if event is not None:
            raw = event.attrs.get("snapshot")
            snapshot = raw if isinstance(raw, str) and raw else None
        ctx = self.correlator.context(cause.source_type, cause.source_id, cause.at, snapshot)
        title = f"{spec.title}: {self._name(cause.source_type, cause.source_id)}"
        if cause.title_extra:
            title += f" ({cause.title_extra})"
        new = NewAlert(
            rule=cause.rule, priority=int(getattr(self.site.priorities, cause.rule,
                                                  spec.priority)),
            source_type=cause.source_type, source_id=cause.source_id, title=title,
            dedupe_key=key, event_at=cause.at, building=ctx.building, location=ctx.location,
            event_ids=[event_id] if event_id is not None else [], cameras=ctx.cameras,
            clip_start=ctx.clip_start, clip_end=ctx.clip_end, snapshot=ctx.snapshot,
            attrs=dict(cause.attrs), cooldown=None if spec.state else self._cooldown)
        return Open(new, event_id)

    def open_intent(self, rule: str, source_type: str, source_id: str, at: datetime,
                    event: Event | None, detail: str = "",
                    attrs: dict[str, Any] | None = None, title_extra: str = "") -> Open:
        """Open (or update) an alert for a cause found outside the rules (the watchdog)."""
        intent = self.intent(Cause(rule, source_type, source_id, at, event, False, detail,
                                   attrs or {}, title_extra))
        assert isinstance(intent, Open)
        return intent

    def resolve_intent(self, rule: str, source_type: str, source_id: str, at: datetime,
                       event: Event | None, detail: str = "",
                       details: dict[str, Any] | None = None) -> Resolve:
        """Resolve the alert of a cause that cleared, found outside the rules."""
        intent = self.intent(Cause(rule, source_type, source_id, at, event, True, detail,
                                   details or {}))
        assert isinstance(intent, Resolve)
        return intent

    def _name(self, source_type: str, source_id: str) -> str:
        thing = (self.site.door(source_id) if source_type == "door"
                 else self.site.camera(source_id))
        return (thing.name if thing is not None and thing.name else source_id)


def _specs(rules: Iterable[AlertRule]) -> dict[str, AlertSpec]:
    """Every rule's alerts by name; two rules may raise one alert only with the same spec."""
    specs: dict[str, AlertSpec] = {}
    for rule in rules:
        for spec in rule.alerts:
            known = specs.setdefault(spec.name, spec)
            if known != spec:
                raise ValueError(f"alert {spec.name!r} specified twice, differently: "
                                 f"{known} and {spec}")
    return specs
