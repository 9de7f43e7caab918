"""The rule table: a rule is one class, and the engine adds correlation and dedupe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.dedupe import Open, Resolve
from alerts.rules import DOOR_KINDS, RULES, AlertRule, AlertSpec, Cause, RuleEngine
from compoundeye.events import Event, EventKind
from compoundeye.site.models import Priorities
from tests.alerts.helpers import ev, make_site

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
FLAPPING = AlertSpec("camera_flapping", "Camera flapping", state=True, auto_resolve=True,
                     priority=2)


class Flapping(AlertRule):
    """A test rule: open on a camera going offline, resolve when it is back."""

    kinds = frozenset({EventKind.CAMERA_OFFLINE, EventKind.CAMERA_ONLINE})
    alerts = (FLAPPING,)

    def evaluate(self, event: Event) -> list[Cause]:
        if event.kind is EventKind.CAMERA_ONLINE:
            return [Cause.clear(FLAPPING.name, "camera", event)]
        return [Cause.open(FLAPPING.name, "camera", event, attrs={"n": 1})]


def test_a_rule_added_to_the_table_gets_correlation_title_priority_and_dedupe():
    rules = RuleEngine(make_site(), rules=(*RULES, Flapping))
    opened = rules.evaluate(ev(EventKind.CAMERA_OFFLINE, "cam-1", T0, snapshot="s/1.jpg"))
    assert [i.alert.rule for i in opened if isinstance(i, Open)] == ["camera_offline",
                                                                     "camera_flapping"]
    new = opened[1]
    assert isinstance(new, Open) and new.event_id is not None
    alert = new.alert
    assert alert.priority == 2 and alert.cooldown is None  # state-like: no cooldown
    assert alert.title == "Camera flapping: Camera 1" and alert.attrs == {"n": 1}
    assert alert.dedupe_key == "camera_flapping:camera:cam-1" and alert.building == "B07"
    assert alert.cameras == ["cam-1"] and alert.snapshot == "s/1.jpg"
    assert alert.clip_start == T0 - timedelta(seconds=10)
    assert alert.clip_end == T0 + timedelta(seconds=30)
    closed = rules.evaluate(ev(EventKind.CAMERA_ONLINE, "cam-1", T0 + timedelta(seconds=5)))
    resolve = closed[1]
    assert isinstance(resolve, Resolve) and resolve.key == alert.dedupe_key
    assert not resolve.detach_only and resolve.cause == "camera.online"


def test_an_alert_raised_by_two_rules_needs_one_spec():
    class Other(Flapping):
        alerts = (AlertSpec("camera_flapping", "Another title"),)

    with pytest.raises(ValueError, match="camera_flapping"):
        RuleEngine(make_site(), rules=(Flapping, Other))


def test_every_alert_of_the_table_has_a_site_priority():
    specs = RuleEngine(make_site()).specs
    assert set(specs) == set(Priorities.model_fields)


def test_door_state_rules_read_the_door_kinds_and_only_the_leader_ticks_them():
    rules = RuleEngine(make_site(held=30))
    assert rules.door_kinds == frozenset(DOOR_KINDS)
    assert rules.evaluate(ev(EventKind.DOOR_OPENED, "d1", T0), door_rules=False) == []
    assert rules.evaluate(ev(EventKind.DOOR_GRANTED, "d1", T0, credential="c1")) == []
    assert rules.evaluate(ev(EventKind.DOOR_OPENED, "d1", T0, n=1)) == []
    assert rules.tick(T0 + timedelta(seconds=40), door_rules=False) == []
    (held,) = rules.tick(T0 + timedelta(seconds=40))
    assert isinstance(held, Open) and held.alert.rule == "door_held"
