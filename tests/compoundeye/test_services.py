"""The private service harness: each service answers, restarts on its port, stops cleanly."""

from __future__ import annotations

import threading

import psutil
import pytest
import redis
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from compoundeye.mqtt_url import parse_mqtt_url
from compoundeye.services import (
    ServiceError,
    ServiceSet,
    mqtt_answers,
    redis_answers,
    tsdb_answers,
)

pytestmark = pytest.mark.timeout(60)


def test_session_services_answer(services: ServiceSet) -> None:
    assert redis_answers(services.redis_url)
    assert mqtt_answers(services.mqtt_host, services.mqtt_port, url=services.mqtt_url)
    assert tsdb_answers(services.tsdb_url)


def test_redis_client_fixture_starts_empty(redis_client: redis.Redis) -> None:
    assert redis_client.dbsize() == 0
    redis_client.set("k", "v")
    assert redis_client.get("k") == b"v"


def test_private_instances_restart_on_same_port_and_leave_nothing() -> None:
    with ServiceSet(env={}) as own:
        assert all(own.is_private(n) for n in ("redis", "mqtt", "tsdb"))
        pids = own.pids()
        root = own._root
        assert root is not None and root.is_dir()
        url = own.redis_url
        client = redis.Redis.from_url(url)
        client.set("before", "1")

        own.restart_redis()

        assert own.redis_url == url
        assert own.pids()["redis"] != pids["redis"]
        assert redis_answers(url)
        assert client.get("before") is None  # no persistence: a restart empties it
        client.close()

        own.stop_service("tsdb")
        assert not tsdb_answers(own.tsdb_url)
        assert not psutil.pid_exists(pids["tsdb"]) or (
            psutil.Process(pids["tsdb"]).status() == psutil.STATUS_ZOMBIE
        )
        own.start_service("tsdb")
        assert tsdb_answers(own.tsdb_url)
        final_pids = own.pids()

    assert not root.exists()
    for pid in final_pids.values():
        assert not psutil.pid_exists(pid)


def test_mqtt_persistent_session_survives_a_broker_restart() -> None:
    """A QoS 1 message published while a persistent subscriber is away is delivered later,
    even when the broker restarted in between."""
    with ServiceSet(env={"CE_REDIS_URL": "redis://unused", "CE_TSDB_URL": "http://unused"}) as own:
        assert not own.is_private("redis")
        with pytest.raises(ServiceError):
            own.restart_redis()

        def connect(client_id: str, clean: bool) -> mqtt.Client:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean
            )
            parse_mqtt_url(own.mqtt_url).configure(client)  # the private broker signs in
            client.connect(own.mqtt_host, own.mqtt_port)
            return client

        received: list[bytes] = []
        got = threading.Event()
        subscribed = threading.Event()
        sub = connect("ce-test-sub", clean=False)
        sub.on_subscribe = lambda *a: subscribed.set()
        sub.loop_start()
        sub.subscribe("doors/x/events", qos=1)
        assert subscribed.wait(5)
        sub.disconnect()
        sub.loop_stop()
        own.restart("mqtt")  # the session is persisted across a broker restart

        pub = connect("ce-test-pub", clean=True)
        pub.loop_start()
        pub.publish("doors/x/events", b"while away", qos=1).wait_for_publish(5)
        pub.disconnect()
        pub.loop_stop()

        def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
            received.append(bytes(msg.payload))
            got.set()

        sub = connect("ce-test-sub", clean=False)
        sub.on_message = on_message
        sub.loop_start()
        assert got.wait(5)
        sub.disconnect()
        sub.loop_stop()
        assert received == [b"while away"]


def test_postgres_url_is_a_fresh_database(postgres_url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            tables = conn.execute(
                sa.text(
                    "select count(*) from information_schema.tables where table_schema = 'public'"
                )
            ).scalar_one()
            assert tables == 0
            conn.execute(sa.text("create table t (x int)"))
            conn.execute(sa.text("insert into t values (42)"))
            assert conn.execute(sa.text("select x from t")).scalar_one() == 42
    finally:
        engine.dispose()
