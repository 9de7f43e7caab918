"""Acceptance: Redis survives losing its primary (Sentinel), under load, losing nothing.

A real primary, replica and three Sentinels (``sentinels`` fixture). The project's own
publisher produces events, the alerting service consumes them, a desk follows the
dashboard's SSE stream; the primary is killed with SIGKILL. Then the case Redis's
asynchronous replication makes hard is forced: writes the primary acknowledged but never
sent to the replica (events, the consumer group's reads and acks, alert announcements)
vanish with it, and still nothing is lost or doubled.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from compoundeye import names
from compoundeye.auth.roles import Role
from compoundeye.auth.tokens import add_token
from compoundeye.bus import BufferedPublisher
from compoundeye.events import Event, EventKind
from compoundeye.redis_client import redis_from_settings
from compoundeye.redis_text import text
from compoundeye.replication import ReplicaWait
from compoundeye.sentinel_set import SentinelSet
from compoundeye.settings import Settings
from compoundeye.store import Store
from dashboard.app import create_app
from tests.alerts.helpers import ev, make_site, now_ms, running_service
from tests.dashboard.live import serve
from tests.polling import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
log = logging.getLogger(__name__)

PACE_SECONDS = 0.01
"""Between two published events: about 100 events/s, a busy evening for the whole site."""


@contextmanager
def publishing(settings: Settings) -> Iterator[BufferedPublisher]:
    """The project's publisher on a Sentinel client, delivering on its own thread."""
    publisher = BufferedPublisher(redis_from_settings(settings),
                                  wait=ReplicaWait.from_settings(settings))
    thread = threading.Thread(target=publisher.run, name="publisher", daemon=True)
    thread.start()
    try:
        yield publisher
    finally:
        publisher.stop()
        thread.join(timeout=20)
        assert not thread.is_alive(), "the publisher did not stop"


class Producer:
    """Publishes a tamper event for a new camera every ``PACE_SECONDS`` (a forced door every
    tenth), so every event makes exactly one alert."""

    def __init__(self, publisher: BufferedPublisher) -> None:
        self.publisher = publisher
        self.events: list[Event] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="producer", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.publish_one()
            self._stop.wait(PACE_SECONDS)

    def publish_one(self) -> Event:
        i = len(self.events)
        if i % 10 == 9:
            event = ev(EventKind.DOOR_FORCED, f"door-{i}", now_ms())
        else:
            event = ev(EventKind.CAMERA_TAMPER, f"t-{i}", now_ms(), reason="covered")
        self.events.append(event)
        self.publisher.publish(event)
        return event

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class Desk:
    """A desk screen: follows ``/api/alerts/stream`` and, like a browser's EventSource,
    reconnects with ``Last-Event-ID`` whenever the stream breaks."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}
        self.changes: list[tuple[str, str]] = []
        """(alert id, action) in the order received."""
        self.last_id: str | None = None
        self.connections = 0
        self._stop = threading.Event()
        self._drop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="desk", daemon=True)

    def drop(self) -> None:
        """Close the stream and open it again from the last id seen (a page reload)."""
        self._drop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            headers = dict(self.headers)
            if self.last_id:
                headers["Last-Event-ID"] = self.last_id
            try:
                with httpx.stream("GET", f"{self.base}/api/alerts/stream", headers=headers,
                                  timeout=httpx.Timeout(10.0)) as response:
                    response.raise_for_status()
                    self.connections += 1
                    self._read(response)
            except httpx.HTTPError as exc:
                log.info("desk stream broke (%s); reconnecting", exc)
                self._stop.wait(0.5)

    def _read(self, response: httpx.Response) -> None:
        event_id, kind, data = "", "", ""
        for line in response.iter_lines():
            if self._stop.is_set():
                return
            if self._drop.is_set():
                self._drop.clear()
                return
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and kind == "alert":
                change = json.loads(data)
                self.changes.append((change["alert"]["id"], change["action"]))
                self.last_id = event_id
                event_id, kind, data = "", "", ""

    def created(self) -> Counter[str]:
        return Counter(alert for alert, action in self.changes if action == "created")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def _stream_event_ids(client: redis.Redis) -> Counter[str]:
    ids: Counter[str] = Counter()
    entries: Any = client.xrange(names.EVENTS_STREAM)
    for _entry, fields in entries:
        ids[json.loads(text(fields[names.EVENT_FIELD.encode()]))["id"]] += 1
    return ids


def _check_one_alert_per_event(store: Store, events: list[Event]) -> None:
    alerts = store.alerts.list(limit=10_000)
    by_source = Counter(a.source_id for a in alerts)
    assert sorted(by_source) == sorted(e.source.id for e in events)  # none lost
    assert max(by_source.values()) == 1  # none alerted twice
    assert all(a.count == 1 for a in alerts)  # no event merged twice into its alert


def _settings(sentinels: SentinelSet, tmp_path: Path) -> Settings:
    return sentinels.settings(data_dir=tmp_path / "data", database_url="",
                              tokens_file=tmp_path / "tokens.json")


def test_kill_9_the_primary_under_load_loses_and_doubles_nothing(
        sentinels: SentinelSet, tmp_path: Path, record_property: Any) -> None:
    settings = _settings(sentinels, tmp_path)
    site = make_site()
    assert settings.tokens_file is not None
    token = add_token(settings.tokens_file, "desk-1", Role.OPERATOR)
    store = Store.from_settings(settings)
    try:
        with (running_service(site, settings, store, consumer="alerts-1") as service,
              serve(create_app(settings, site)) as base, publishing(settings) as publisher):
            desk = Desk(base, token)
            desk.start()
            wait_until(lambda: desk.connections, 10, what="the desk connected")
            producer = Producer(publisher)
            producer.start()
            wait_until(lambda: len(store.alerts.list(limit=10_000)) >= 100, 30,
                       what="alerts flowing before the kill")
            old = sentinels.kill_primary()
            killed_at, killed_ms = time.monotonic(), int(time.time() * 1000)
            desk.drop()  # the desk reloads while Redis has no master
            new = sentinels.wait_for_failover(old.port, timeout=60)
            failover_s = time.monotonic() - killed_at
            at_failover = len(producer.events)
            wait_until(lambda: len(producer.events) >= at_failover + 300, 30,
                       what="300 more events after the failover")
            producer.stop()
            events = producer.events
            wait_until(lambda: publisher.pending == 0, 30, what="the publisher drained")
            wait_until(lambda: len(store.alerts.list(limit=10_000)) >= len(events), 60,
                       what=f"{len(events)} alerts",
                       detail=lambda: f"{len(store.alerts.list(limit=10_000))} alerts")
            alert_ids = {a.id for a in store.alerts.list(limit=10_000)}
            wait_until(lambda: alert_ids <= set(desk.created()), 30,
                       what="the desk caught up with every alert",
                       detail=lambda: f"{len(alert_ids - set(desk.created()))} missing")
            desk.stop()
            primary = sentinels.node_client(new[1])
            on_stream = _stream_event_ids(primary)
            after: Any = primary.xrange(names.EVENTS_STREAM, min=f"{killed_ms}-0")
            first_after = min(int(text(i).split("-")[0]) for i, _f in after)
            service_stats = service.stats.as_dict()
            announced = service.announced.stats.as_dict()
        _check_one_alert_per_event(store, events)
    finally:
        store.close()
    assert on_stream == Counter(e.id for e in events)  # on the stream once each
    desk_created = desk.created()
    figures = {
        "events": len(events), "failover_s": round(failover_s, 2),
        "publish_gap_s": round((first_after - killed_ms) / 1000, 2),
        "publisher": publisher.stats.as_dict, "publisher_replication": publisher.replication,
        "alerts_announced": announced, "alerting": service_stats,
        "desk_connections": desk.connections,
        "desk_changes_twice": sum(1 for n in desk_created.values() if n > 1),
    }
    log.warning("failover under load: %s", json.dumps(figures))
    record_property("failover", figures)
    assert publisher.stats.dropped == 0
    assert desk.connections >= 2  # it did reconnect, with Last-Event-ID


def test_writes_the_dead_primary_never_replicated_are_written_again_and_not_doubled(
        sentinels: SentinelSet, tmp_path: Path, record_property: Any) -> None:
    """Forced: the replica misses the last events, the consumer group's reads and acks of
    earlier ones, and their announcements; after the failover the publisher writes the
    events again, the group steps back and redelivers, and each event still makes one
    alert and one announcement."""
    settings = _settings(sentinels, tmp_path)
    site = make_site()
    store = Store.from_settings(settings)

    def alerts() -> int:
        return len(store.alerts.list(limit=10_000))

    try:
        with publishing(settings) as publisher:
            producer = Producer(publisher)
            a = [producer.publish_one() for _ in range(20)]
            with running_service(site, settings, store, consumer="alerts-1"):
                wait_until(lambda: alerts() == len(a), 30, what="batch A alerted")
            b = [producer.publish_one() for _ in range(20)]  # no consumer running
            wait_until(lambda: publisher.pending == 0 and publisher.unconfirmed == 0, 10,
                       what="batch B on the replica")
            primary = sentinels.primary()
            sentinels.cut_replica()
            with running_service(site, settings, store, consumer="alerts-1") as service:
                wait_until(lambda: alerts() == len(a) + len(b), 30, what="batch B alerted")
                c = [producer.publish_one() for _ in range(20)]
                wait_until(lambda: alerts() == len(a) + len(b) + len(c), 30,
                           what="batch C alerted")
                wait_until(lambda: publisher.pending == 0 and publisher.unconfirmed == len(c),
                           10, what="batch C acknowledged by the primary alone",
                           detail=lambda: json.dumps(publisher.replication))
                acked_before = service.stats.acked
                sentinels.kill_primary()
                sentinels.thaw_replica()
                new = sentinels.wait_for_failover(primary.port, timeout=60)
                client = sentinels.node_client(new[1])
                wait_until(lambda: _stream_event_ids(client) == Counter(
                    e.id for e in a + b + c), 30, what="every event once on the new primary",
                    detail=lambda: str(len(_stream_event_ids(client))))
                # B again (the group's position stepped back) and C again (written again).
                wait_until(lambda: service.stats.acked - acked_before >= len(b) + len(c), 30,
                           what="the redeliveries processed",
                           detail=lambda: str(service.stats.as_dict()))
                wait_until(lambda: service.announced.stats.server_changes != 0, 10,
                           what="the alerting service noticing the new primary")
                wait_until(lambda: _created_announcements(client) >= alerts(), 20,
                           what="every alert announced on the new primary")
                announced = _created_announcements(client)
                redelivered = service.stats.acked - acked_before
                stats = service.announced.stats.as_dict()
        _check_one_alert_per_event(store, a + b + c)
    finally:
        store.close()
    assert publisher.stats.resent == len(c)
    assert announced == len(a) + len(b) + len(c)  # each alert's creation once
    figures = {"events_resent": publisher.stats.resent, "redelivered_to_alerting": redelivered,
               "publisher_replication": publisher.replication, "alerts_announced": stats}
    log.warning("forced loss of unreplicated writes: %s", json.dumps(figures))
    record_property("forced_step_back", figures)


def _created_announcements(client: redis.Redis) -> int:
    created: Counter[str] = Counter()
    entries: Any = client.xrange(names.ALERTS_STREAM)
    for _entry, fields in entries:
        change = json.loads(text(fields[names.ALERT_FIELD.encode()]))
        if change["action"] == "created":
            created[change["alert"]["id"]] += 1
    return sum(created.values())
