from __future__ import annotations

from typing import Any

import pytest

from compoundeye import names
from compoundeye.bus import EventSink
from compoundeye.events import EventKind
from compoundeye.settings import Settings
from compoundeye.store import Store
from tests.alerts.helpers import ev, later, make_site, now_ms, running_service
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(120)


def door_pending(client: Any) -> int:
    return int(client.xpending(names.EVENTS_STREAM, names.DOOR_RULES_GROUP)["pending"])


def test_two_processes_one_door_rules_leader_no_false_door_alerts(redis_client, redis_url,
                                                                  tmp_path):
    site = make_site(held=60)
    cfg = Settings(redis_url=redis_url, data_dir=tmp_path)
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    sink = EventSink(redis_client)
    t0 = now_ms()
    with running_service(site, cfg, store, consumer="one") as one, \
            running_service(site, cfg, store, consumer="two") as two:
        wait_until(lambda: one.doors.leading or two.doors.leading)
        assert not (one.doors.leading and two.doors.leading)
        n = 0
        for i in range(40):  # normal traffic: grant, open, close, at both doors
            for door in ("d1", "d2"):
                base = later(t0, i * 10)
                for kind, dt in ((EventKind.DOOR_GRANTED, 0), (EventKind.DOOR_OPENED, 1),
                                 (EventKind.DOOR_CLOSED, 4)):
                    n += 1
                    sink.add(ev(kind, door, later(base, dt), n=n, credential="c1"))
        wait_until(lambda: one.stats.events + two.stats.events == n, timeout=30)
        assert one.stats.events > 0 and two.stats.events > 0  # the load is shared
        wait_until(lambda: one.stats.door_events + two.stats.door_events == n, timeout=30)
        wait_until(lambda: door_pending(redis_client) == 0)
        assert store.alerts.list() == []  # no forced or held from a split view of a door
        leader, other = (one, two) if one.doors.leading else (two, one)
        leader.doors.release()  # as at a clean stop
        leader.doors.leading = False
        leader.chores["lease"].next_at = float("inf")  # and it does not come back
        wait_until(lambda: other.doors.leading, timeout=10)
        sink.add(ev(EventKind.DOOR_OPENED, "d2", later(t0, 1000)))  # no grant: forced
        wait_until(lambda: store.alerts.list(), timeout=10)
    (alert,) = store.alerts.list()
    assert alert.rule == "door_forced" and alert.source_id == "d2"
    assert door_pending(redis_client) == 0
    store.close()
