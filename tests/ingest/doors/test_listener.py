from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compoundeye import names
from compoundeye.events import Event
from compoundeye.settings import Settings
from compoundeye.timeutil import to_rfc3339, utcnow
from tests.ingest.doors.helpers import make_site, publish, publisher, running
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(120)


def events(client: Any) -> list[Event]:
    return [Event.from_json(f[names.EVENT_FIELD.encode()])
            for _id, f in client.xrange(names.EVENTS_STREAM)]


def dead(client: Any) -> list[dict[bytes, bytes]]:
    return [f for _id, f in client.xrange(names.DEADLETTER_STREAM)]


@pytest.fixture
def cfg(redis_url: str, mqtt_url: str) -> Settings:
    return Settings(redis_url=redis_url, mqtt_url=mqtt_url)


def test_forced_message_becomes_one_event_even_when_sent_twice(redis_client, cfg):
    site = make_site()
    payload = json.dumps({"event": "forced", "ts": to_rfc3339(utcnow()), "seq": 41})
    with running(site, cfg) as listener, publisher(cfg.mqtt_url) as pub:
        publish(pub, names.door_topic("doors", "d1"), payload)
        publish(pub, names.door_topic("doors", "d1"), payload)  # a redelivery
        wait_until(lambda: listener.stats.received == 2)
    got = events(redis_client)
    assert [(e.kind.value, e.source.id) for e in got] == [("door.forced", "d1")]
    assert got[0].attrs["seq"] == 41
    assert listener.stats.duplicates == 1
    status = redis_client.hgetall(names.door_status_key("d1"))
    assert status[b"state"] == b"online"
    assert redis_client.ttl(names.door_status_key("d1")) > 0


def test_esp_rfid_access_on_send_topic(redis_client, cfg):
    site = make_site()
    msg = {"type": "access", "time": int(time.time()), "isKnown": "false", "access": "Denied",
           "username": "Unknown", "uid": "a1b2", "door": "esp-d2"}
    with running(site, cfg) as listener, publisher(cfg.mqtt_url) as pub:
        publish(pub, "doors/d2/send", json.dumps(msg))
        wait_until(lambda: listener.stats.events == 1)
    (event,) = events(redis_client)
    assert event.kind.value == "door.denied" and event.source.id == "d2"
    assert event.attrs["credential"] == "a1b2" and event.attrs["format"] == "esp-rfid"


def test_unknown_door_and_bad_payloads_go_to_dead_letter(redis_client, cfg):
    site = make_site()
    with running(site, cfg) as listener, publisher(cfg.mqtt_url) as pub:
        publish(pub, "doors/nowhere/events", '{"event":"opened"}')
        publish(pub, "doors/d1/events", b"\x00\xff" * 10)
        publish(pub, "doors/d1/events", b"{" * 20_000)  # over the 16 KiB limit
        publish(pub, "doors/d1/events", '{"event":"opened"}')
        wait_until(lambda: listener.stats.received == 4)
    letters = dead(redis_client)
    reasons = [f[b"reason"].decode() for f in letters]
    assert "unknown door 'nowhere'" in reasons[0]
    assert "UTF-8" in reasons[1]
    assert "exceeds the 16384 byte limit" in reasons[2]
    assert letters[2][b"truncated"] == b"1" and letters[2][b"raw_len"] == b"20000"
    assert len(letters[2][b"raw"]) == names.DEADLETTER_RAW_LIMIT
    assert letters[0][b"topic"] == b"doors/nowhere/events"
    assert [e.kind.value for e in events(redis_client)] == ["door.opened"]
    assert int(redis_client.hget(names.worker_key(site.mqtt.client_id), "dead_letters")) == 3


hostile = st.one_of(
    st.binary(min_size=1, max_size=512),
    st.builds(lambda v: json.dumps(v).encode(), st.one_of(
        st.lists(st.integers(), max_size=5),
        st.dictionaries(st.sampled_from(["event", "ts", "seq", "credential", "type"]),
                        st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(),
                                  st.lists(st.text(max_size=5), max_size=3),
                                  st.text(max_size=10)),
                        min_size=1, max_size=4)
        .filter(lambda d: d.get("event") not in ("granted", "denied", "opened", "closed",
                                                 "forced", "held", "tamper", "heartbeat")
                and "type" not in d))),
    st.integers(min_value=16 * 1024 + 1, max_value=40_000).map(lambda n: b"[" * n),
)


@pytest.mark.slow
def test_hostile_payloads_all_end_in_dead_letter_and_listener_survives(redis_client, cfg):
    site = make_site()
    sent: list[bytes] = []
    with running(site, cfg) as listener, publisher(cfg.mqtt_url) as pub:

        @settings(max_examples=60, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture,
                                         HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(hostile)
        def send(raw: bytes) -> None:
            sent.append(raw)
            publish(pub, "doors/d1/events", raw)

        send()
        publish(pub, "doors/d1/events", '{"event":"closed","seq":1}')
        wait_until(lambda: listener.stats.received == len(sent) + 1, timeout=30)
        assert listener.stats.dead_letters == len(sent)
    letters = dead(redis_client)
    assert len(letters) == len(sent)
    assert all(f[b"reason"] and f[b"topic"] == b"doors/d1/events" for f in letters)
    assert [e.kind.value for e in events(redis_client)] == ["door.closed"]


def test_messages_published_while_listener_is_down_arrive(redis_client, cfg):
    site = make_site()
    with running(site, cfg):
        pass  # first run creates the persistent session and its subscription
    with publisher(cfg.mqtt_url) as pub:
        for seq in range(100):
            publish(pub, "doors/d1/events", json.dumps({"event": "granted", "seq": seq,
                                                        "credential": f"c{seq}"}))
    with running(site, cfg) as listener:
        wait_until(lambda: listener.stats.events >= 100, timeout=30)
    got = events(redis_client)
    assert sorted(e.attrs["seq"] for e in got) == list(range(100))


@pytest.mark.slow
def test_redis_outage_loses_nothing(services, redis_client, cfg):
    if not services.is_private("redis"):
        pytest.skip("needs a private Redis it may stop")
    site = make_site()
    with running(site, cfg) as listener, publisher(cfg.mqtt_url) as pub:
        publish(pub, "doors/d1/events", '{"event":"opened","seq":1}')
        wait_until(lambda: listener.stats.events == 1)
        services.stop_service("redis")
        try:
            # more than the in-flight window (RECEIVE_MAXIMUM): the rest waits in the broker
            for seq in range(2, 152):
                publish(pub, "doors/d1/events", json.dumps({"event": "opened", "seq": seq}))
            wait_until(lambda: listener.stats.redis_errors > 0)
        finally:
            services.start_service("redis")
        client: Any = redis.Redis.from_url(cfg.redis_url)
        wait_until(lambda: listener.stats.events == 151, timeout=60)
    # Redis restarted empty: every message after the outage is there, none lost
    seqs = sorted(Event.from_json(f[b"e"]).attrs["seq"]
                  for _i, f in client.xrange(names.EVENTS_STREAM))
    assert seqs == list(range(2, 152))


def test_heartbeats_keep_a_door_online_and_silence_raises_offline(redis_client, cfg):
    site = make_site(heartbeat_timeout=1.0)
    with running(site, cfg) as listener, publisher(cfg.mqtt_url) as pub:
        publish(pub, "doors/d1/events", '{"event":"heartbeat"}')
        wait_until(lambda: listener.stats.heartbeats == 1)
        wait_until(lambda: listener.stats.offline == 2, timeout=10)  # d1 went quiet, d2 never
        publish(pub, "doors/d1/events", '{"event":"heartbeat"}')
        wait_until(lambda: listener.stats.online == 1)
    kinds = [(e.kind.value, e.source.id) for e in events(redis_client)]
    assert sorted(kinds[:2]) == [("door.offline", "d1"), ("door.offline", "d2")]
    assert kinds[2] == ("door.online", "d1")
    assert set(kinds[3:]) <= {("door.offline", "d1")}  # a 1 s timeout may pass again
    d2 = next(e for e in events(redis_client) if e.source.id == "d2")
    assert d2.attrs["reason"] == "never_seen"


def test_last_will_status_topic_is_retained(redis_client, cfg):
    site = make_site()
    seen: list[Any] = []
    with running(site, cfg) as listener:
        topic = listener.status_topic
    with publisher(cfg.mqtt_url) as sub:
        sub.on_message = lambda _c, _u, m: seen.append(m.payload)
        sub.subscribe(topic, qos=1)
        wait_until(lambda: seen)
    assert json.loads(seen[0])["state"] == "offline"


@pytest.mark.slow
def test_listener_reconnects_after_a_broker_restart(services, redis_client, cfg):
    if not services.is_private("mqtt"):
        pytest.skip("needs a private broker it may restart")
    site = make_site()
    with running(site, cfg) as listener:
        generation = listener._generation
        services.restart("mqtt")
        # a disconnect and a new connection each move the generation on
        wait_until(lambda: listener._generation >= generation + 2
                   and listener.connected.is_set(), timeout=30)
        with publisher(cfg.mqtt_url) as pub:
            publish(pub, "doors/d1/events", '{"event":"tamper","seq":5}')
        wait_until(lambda: listener.stats.events == 1, timeout=15)
    assert [e.kind.value for e in events(redis_client)] == ["door.tamper"]
