"""The camera-not-recording rule: one P2 alert with the reason, resolved on recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.dedupe import Open, Resolve
from alerts.rules import RuleEngine
from compoundeye.events import EventKind
from compoundeye.site.models import Priorities
from tests.alerts.helpers import ev, make_site

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
REASON = "not found (404): no segment finished since the recorder started (19 s)"


def test_recording_failed_opens_a_p2_alert_with_the_reason_and_ok_resolves_it() -> None:
    rules = RuleEngine(make_site())
    (opened,) = rules.evaluate(ev(EventKind.CAMERA_RECORDING_FAILED, "cam-1", T0,
                                  reason=REASON, worker="edge-0"))
    assert isinstance(opened, Open)
    alert = opened.alert
    assert alert.rule == "camera_recording" and alert.priority == 2
    assert alert.title == "Camera not recording: Camera 1 (not found (404))"
    assert alert.attrs["reason"] == REASON and alert.cameras == ["cam-1"]
    assert alert.cooldown is None  # state-like: every failure event joins the open alert
    (resolved,) = rules.evaluate(ev(EventKind.CAMERA_RECORDING_OK, "cam-1",
                                    T0 + timedelta(seconds=60)))
    assert isinstance(resolved, Resolve) and resolved.key == alert.dedupe_key
    assert not resolved.detach_only and resolved.cause == "camera.recording_ok"


def test_the_priority_comes_from_the_site_file() -> None:
    site = make_site().model_copy(update={"priorities": Priorities(camera_recording=1)})
    (opened,) = RuleEngine(site).evaluate(ev(EventKind.CAMERA_RECORDING_FAILED, "cam-2", T0,
                                            reason="disk full"))
    assert isinstance(opened, Open) and opened.alert.priority == 1
