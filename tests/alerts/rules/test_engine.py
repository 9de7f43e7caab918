from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.dedupe import Open, Resolve
from alerts.rules import RuleEngine
from compoundeye.events import EventKind
from compoundeye.site.models import Priorities
from tests.alerts.helpers import ev, make_site

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_door_opened_without_grant_is_forced_with_door_cameras_and_clip():
    rules = RuleEngine(make_site())
    (intent,) = rules.evaluate(ev(EventKind.DOOR_OPENED, "d1", T0))
    assert isinstance(intent, Open)
    alert = intent.alert
    assert alert.rule == "door_forced" and alert.priority == 1
    assert alert.cameras == ["cam-1", "cam-2"] and alert.building == "B07"
    assert alert.clip_start == s(-10) and alert.clip_end == s(30)
    assert alert.dedupe_key == "door_forced:door:d1" and alert.cooldown is None
    assert alert.title == "Door forced open: Block 7 main door"


def test_granted_then_opened_is_fine_and_held_fires_on_tick_then_resolves():
    rules = RuleEngine(make_site(held=30))
    assert rules.evaluate(ev(EventKind.DOOR_GRANTED, "d1", T0, credential="c1")) == []
    assert rules.evaluate(ev(EventKind.DOOR_OPENED, "d1", s(1))) == []
    assert rules.tick(s(20)) == []
    (held,) = rules.tick(s(32))
    assert isinstance(held, Open) and held.alert.rule == "door_held" and held.event_id is None
    assert rules.tick(s(40)) == []
    (resolve,) = rules.evaluate(ev(EventKind.DOOR_CLOSED, "d1", s(60)))
    assert isinstance(resolve, Resolve) and resolve.key == "door_held:door:d1"
    assert not resolve.detach_only and resolve.cause == "door.closed"


def test_forced_door_closing_only_detaches_its_alert():
    rules = RuleEngine(make_site())
    rules.evaluate(ev(EventKind.DOOR_FORCED, "d1", T0))
    (clear,) = rules.evaluate(ev(EventKind.DOOR_CLOSED, "d1", s(5)))
    assert isinstance(clear, Resolve) and clear.key == "door_forced:door:d1"
    assert clear.detach_only


def test_camera_health_rules_and_priorities_from_the_site():
    site = make_site().model_copy(update={"priorities": Priorities(camera_offline=5)})
    rules = RuleEngine(site)
    (off,) = rules.evaluate(ev(EventKind.CAMERA_OFFLINE, "cam-3", T0))
    assert isinstance(off, Open) and off.alert.priority == 5 and off.alert.cameras == ["cam-3"]
    (on,) = rules.evaluate(ev(EventKind.CAMERA_ONLINE, "cam-3", s(9)))
    assert isinstance(on, Resolve) and on.key == off.key
    (tamper,) = rules.evaluate(ev(EventKind.CAMERA_TAMPER, "cam-3", T0, reason="covered",
                                  snapshot="snap/1.jpg"))
    assert isinstance(tamper, Open) and tamper.alert.snapshot == "snap/1.jpg"
    assert tamper.key == "camera_tamper:camera:cam-3:covered"
    (cleared,) = rules.evaluate(ev(EventKind.CAMERA_TAMPER_CLEARED, "cam-3", s(5),
                                   reason="covered"))
    assert isinstance(cleared, Resolve) and cleared.key == tamper.key


def test_motion_only_alerts_in_armed_zones_with_cooldown_and_snapshot():
    rules = RuleEngine(make_site())
    assert rules.evaluate(ev(EventKind.MOTION_START, "cam-1", T0, zone="street")) == []
    (armed,) = rules.evaluate(ev(EventKind.MOTION_START, "cam-1", T0, n=1, zone="lobby",
                                 snapshot="snap/2.jpg"))
    assert isinstance(armed, Open) and armed.alert.rule == "motion_armed"
    assert armed.alert.cooldown == timedelta(seconds=120)
    assert armed.alert.snapshot == "snap/2.jpg"


def test_door_alert_takes_nearest_snapshot_of_its_cameras():
    rules = RuleEngine(make_site())
    rules.evaluate(ev(EventKind.MOTION_START, "cam-2", s(-50), zone="street", snapshot="far"))
    rules.evaluate(ev(EventKind.MOTION_END, "cam-2", s(-2), n=1, zone="street", snapshot="near"))
    rules.evaluate(ev(EventKind.MOTION_START, "cam-4", s(0), n=2, zone="street", snapshot="x"))
    (intent,) = rules.evaluate(ev(EventKind.DOOR_FORCED, "d1", T0))
    assert isinstance(intent, Open) and intent.alert.snapshot == "near"


def test_door_controller_offline_and_back():
    rules = RuleEngine(make_site())
    (off,) = rules.evaluate(ev(EventKind.DOOR_OFFLINE, "d2", T0, reason="never_seen"))
    assert isinstance(off, Open) and off.alert.rule == "door_offline"
    assert off.alert.attrs["reason"] == "never_seen"
    (on,) = rules.evaluate(ev(EventKind.DOOR_ONLINE, "d2", s(1)))
    assert isinstance(on, Resolve) and not on.detach_only


def test_denied_burst_and_activity_anomaly_events():
    rules = RuleEngine(make_site())
    out = []
    for i in range(5):
        out += rules.evaluate(ev(EventKind.DOOR_DENIED, "d2", s(i), n=i, credential="bad"))
    rules_fired = sorted(i.alert.rule for i in out if isinstance(i, Open))
    assert rules_fired == ["door_denied_burst", "door_denied_burst"]  # door and credential
    (anomaly,) = rules.evaluate(ev(EventKind.ACTIVITY_ANOMALY, "cam-1", T0, zone="lobby"))
    assert isinstance(anomaly, Open) and anomaly.alert.priority == 4
