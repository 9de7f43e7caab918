from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.dedupe import Open, Resolve
from alerts.rules import RuleEngine
from alerts.watchdog import CameraWatchdog
from compoundeye import names
from tests.alerts.helpers import make_site

T0 = datetime(2026, 11, 28, tzinfo=UTC)


def test_stale_heartbeats_open_and_returning_heartbeats_resolve(redis_client):
    site = make_site(cameras=3, stale=30)
    dog = CameraWatchdog(RuleEngine(site), redis_client, started=T0)
    for cam in ("cam-1", "cam-2"):
        redis_client.hset(names.camera_status_key(cam), "status", "online")
    assert dog.scan(T0 + timedelta(seconds=10)) == []  # start-up grace
    (stale,) = dog.scan(T0 + timedelta(seconds=31))
    assert isinstance(stale, Open) and stale.alert.source_id == "cam-3"
    assert stale.alert.rule == "camera_offline" and "stale" in stale.alert.attrs["reason"]
    assert dog.scan(T0 + timedelta(seconds=40)) == []  # once per outage
    redis_client.hset(names.camera_status_key("cam-3"), "status", "degraded")
    (back,) = dog.scan(T0 + timedelta(seconds=50))
    assert isinstance(back, Resolve) and back.key == stale.key
