from __future__ import annotations

import json
from typing import Any

import pytest

from compoundeye import names
from compoundeye.bus import EventSink
from compoundeye.events import EventKind
from compoundeye.settings import Settings
from compoundeye.store import Store
from compoundeye.timeutil import utcnow
from tests.alerts.helpers import ev, later, make_site, now_ms, running_service
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def cfg(redis_url: str, tmp_path) -> Settings:
    return Settings(redis_url=redis_url, data_dir=tmp_path)


@pytest.fixture
def sqlite_store(tmp_path) -> Any:
    store = Store(f"sqlite:///{tmp_path / 'alerts.db'}")
    yield store
    store.close()


def changes(client: Any) -> list[dict[str, Any]]:
    return [json.loads(f[names.ALERT_FIELD.encode()])
            for _i, f in client.xrange(names.ALERTS_STREAM)]


def test_forced_door_becomes_one_alert_with_cameras(redis_client, cfg, sqlite_store):
    site = make_site()
    sink = EventSink(redis_client)
    t0 = now_ms()
    shot = ev(EventKind.MOTION_START, "cam-2", later(t0, -2), zone="street",
              snapshot="snapshots/cam-2/x.jpg")
    forced = ev(EventKind.DOOR_FORCED, "d1", t0)
    with running_service(site, cfg, sqlite_store) as service:
        sink.add(shot)
        sink.add(forced)
        sink.add(forced)  # a duplicate is refused by the sink already
        wait_until(lambda: service.stats.changes >= 1)
        wait_until(lambda: service.consumer.pending_count() == 0)
    (alert,) = sqlite_store.alerts.list()
    assert alert.rule == "door_forced" and alert.priority == site.priorities.door_forced
    assert alert.cameras == ["cam-1", "cam-2"] and alert.building == "B07"
    assert alert.event_ids == [forced.id]
    assert alert.snapshot == "snapshots/cam-2/x.jpg"
    assert alert.clip_start == later(forced.ts, -10) and alert.clip_end == later(forced.ts, 30)
    (change,) = changes(redis_client)
    assert change["action"] == "created" and change["alert"]["id"] == alert.id
    assert change["details"]["event_ids"] == [forced.id]


def test_held_door_is_one_alert_resolved_when_closed(redis_client, cfg, sqlite_store):
    site = make_site(held=1.0)
    sink = EventSink(redis_client)
    t0 = now_ms()
    with running_service(site, cfg, sqlite_store) as service:
        sink.add(ev(EventKind.DOOR_GRANTED, "d1", t0, credential="c1"))
        sink.add(ev(EventKind.DOOR_OPENED, "d1", later(t0, 0.5)))
        wait_until(lambda: sqlite_store.alerts.list(kind="door_held"), timeout=10)
        for i in range(5):  # controller keeps saying held: same alert
            sink.add(ev(EventKind.DOOR_HELD, "d1", later(t0, 2 + i), n=i))
        sink.add(ev(EventKind.DOOR_CLOSED, "d1", later(t0, 10)))
        wait_until(lambda: sqlite_store.alerts.list(status="resolved"), timeout=10)
        assert service.stats.failed == 0
    (alert,) = sqlite_store.alerts.list()
    assert alert.rule == "door_held" and alert.status == "resolved"
    assert alert.count == 6 and alert.last_event_at == later(t0, 6)  # 1 + 5 reports
    detail = sqlite_store.alerts.get(alert.id)
    assert detail.history[-1].actor == "system" and detail.history[-1].action == "resolved"
    assert detail.history[-1].details["auto"] is True
    assert detail.history[-1].details["cause"] == "door.closed"


def test_flapping_camera_is_one_alert_per_outage(redis_client, cfg, sqlite_store):
    site = make_site()
    sink = EventSink(redis_client)
    t0 = now_ms()
    with running_service(site, cfg, sqlite_store) as service:
        for i in range(20):
            sink.add(ev(EventKind.CAMERA_OFFLINE, "cam-3", later(t0, i), n=i))
        sink.add(ev(EventKind.CAMERA_ONLINE, "cam-3", later(t0, 30)))
        sink.add(ev(EventKind.CAMERA_OFFLINE, "cam-3", later(t0, 40), n=99))
        wait_until(lambda: service.stats.events == 22)
        wait_until(lambda: service.consumer.pending_count() == 0)
    alerts = sqlite_store.alerts.list(kind="camera_offline")
    assert [(a.status, a.count) for a in alerts] == [("new", 1), ("resolved", 20)]


def test_motion_in_armed_zone_joins_within_cooldown(redis_client, cfg, sqlite_store):
    site = make_site()
    sink = EventSink(redis_client)
    t0 = now_ms()
    with running_service(site, cfg, sqlite_store) as service:
        for i in range(10):
            sink.add(ev(EventKind.MOTION_START, "cam-1", later(t0, i * 5), n=i, zone="lobby"))
            sink.add(ev(EventKind.MOTION_START, "cam-1", later(t0, i * 5), n=100 + i,
                        zone="street"))
        sink.add(ev(EventKind.MOTION_START, "cam-1", later(t0, 1000), zone="lobby"))
        wait_until(lambda: service.stats.events == 21)
        wait_until(lambda: service.consumer.pending_count() == 0)
    alerts = sqlite_store.alerts.list(kind="motion_armed")
    assert [a.count for a in alerts] == [1, 10]  # newest first; street is not armed
    assert all(a.cameras == ["cam-1"] for a in alerts)


def test_bad_entries_dead_letter_and_poison_is_taken_out(redis_client, cfg, sqlite_store):
    site = make_site(claim_idle=0.2, max_deliveries=2)
    redis_client.xadd(names.EVENTS_STREAM, {"e": b"{not json"})
    redis_client.xadd(names.EVENTS_STREAM, {"x": b"1"})
    good = ev(EventKind.CAMERA_TAMPER, "cam-1", utcnow(), reason="covered")
    EventSink(redis_client).add(good)
    with running_service(site, cfg, sqlite_store) as service:
        wait_until(lambda: service.consumer.pending_count() == 0)
    letters = [f for _i, f in redis_client.xrange(names.DEADLETTER_STREAM)]
    reasons = [f[b"reason"].decode() for f in letters]
    assert reasons[0].startswith("not a valid event:")
    assert reasons[1] == "entry has no 'e' field"
    assert letters[0][b"raw"] == b"{not json"
    (alert,) = sqlite_store.alerts.list()
    assert alert.rule == "camera_tamper" and alert.title.endswith("(covered)")


def test_poison_entry_goes_to_dead_letter_after_max_deliveries(redis_client, cfg, sqlite_store):
    site = make_site(claim_idle=0.2, max_deliveries=2)
    victim = ev(EventKind.CAMERA_OFFLINE, "cam-4", utcnow())
    EventSink(redis_client).add(victim)
    with running_service(site, cfg, sqlite_store) as service:
        original = service.rules.evaluate

        def explode(event: Any, **kwargs: Any) -> Any:
            if event.id == victim.id:
                raise RuntimeError("rule bug")
            return original(event, **kwargs)

        service.rules.evaluate = explode  # type: ignore[method-assign]
        wait_until(lambda: service.stats.poison == 1, timeout=20)
        wait_until(lambda: service.consumer.pending_count() == 0)
        assert service.stats.failed >= 2
    (letter,) = [f for _i, f in redis_client.xrange(names.DEADLETTER_STREAM)]
    assert b"poison: delivered 3 times" in letter[b"reason"]
    assert sqlite_store.alerts.list() == []


def test_redis_failure_after_commit_retries_without_a_second_alert(redis_client, cfg,
                                                                  sqlite_store):
    import redis as redis_mod

    site = make_site()
    forced = ev(EventKind.DOOR_FORCED, "d1", now_ms())
    with running_service(site, cfg, sqlite_store) as service:
        real_ack = service.consumer.ack
        failures: list[Any] = []

        def flaky_ack(ids: Any) -> int:
            if not failures:
                failures.append(ids)
                raise redis_mod.ConnectionError("injected: connection lost before XACK")
            return real_ack(ids)

        service.consumer.ack = flaky_ack  # type: ignore[method-assign]
        EventSink(redis_client).add(forced)
        wait_until(lambda: failures and service.consumer.pending_count() == 0, timeout=15)
        assert service.stats.redis_errors == 1
    (alert,) = sqlite_store.alerts.list()
    assert alert.count == 1 and alert.event_ids == [forced.id]
