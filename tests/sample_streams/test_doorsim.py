"""The door simulator: deterministic traffic, and real publishing through Mosquitto."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from compoundeye.mqtt_url import parse_mqtt_url
from compoundeye.services import ServiceSet
from sample_streams.doorsim import (
    DoorMessage,
    DoorSimulator,
    DoorTraffic,
    SimDoor,
    TrafficConfig,
    encode,
)

pytestmark = pytest.mark.timeout(60)

PREFIX = f"simdoors-{uuid.uuid4().hex[:8]}"
"""A topic prefix of our own: the session broker carries other tests' door traffic too."""
DOORS = [SimDoor("d1"), SimDoor("d2", "esp-rfid", held_open_seconds=10)]


def _take(seed: int, n: int) -> list[tuple[float, DoorMessage]]:
    traffic = DoorTraffic(DOORS, TrafficConfig(rate=0.5), seed)
    return list(itertools.islice(traffic.events(), n))


def test_traffic_is_deterministic_per_seed() -> None:
    assert _take(7, 300) == _take(7, 300)
    assert _take(7, 300) != _take(8, 300)
    offsets = [at for at, _ in _take(7, 300)]
    assert offsets == sorted(offsets)


def test_traffic_is_realistic() -> None:
    """Opens follow grants, every open is closed, forced and held doors and denials occur."""
    config = TrafficConfig(rate=0.5, forced_probability=0.05, held_probability=0.1,
                           heartbeat_seconds=5)
    events = list(itertools.islice(DoorTraffic(DOORS, config, 1).events(), 4000))
    kinds = {m.event for _, m in events}
    assert kinds == {"granted", "denied", "opened", "closed", "forced", "held", "heartbeat"}
    for door in DOORS:
        mine = [m for _, m in events if m.door_id == door.id and m.event != "heartbeat"]
        granted_waiting = 0
        open_doors = 0
        for m in mine:
            if m.event == "granted":
                assert m.credential
                granted_waiting += 1
            elif m.event == "opened":
                assert granted_waiting > 0, "a door opened without a grant is 'forced'"
                granted_waiting -= 1
                open_doors += 1
            elif m.event == "forced":
                open_doors += 1
            elif m.event == "closed":
                assert open_doors > 0
                open_doors -= 1
            elif m.event == "denied":
                assert m.reason and m.credential
        beats = [at for at, m in events if m.door_id == door.id and m.event == "heartbeat"]
        assert all(b - a == pytest.approx(5) for a, b in itertools.pairwise(beats))
    held = [(at, m) for at, m in events if m.event == "held" and m.door_id == "d2"]
    assert held


def test_esp_rfid_encoding_matches_the_firmware() -> None:
    now = datetime(2026, 11, 28, 1, 2, 3, tzinfo=UTC)
    door = SimDoor("gate-a", "esp-rfid")
    names = {"aabbccdd": "amina-001"}
    [granted] = encode(DoorMessage("gate-a", "granted", "aabbccdd"), door, now, 1, names)
    assert granted == {"type": "access", "time": int(now.timestamp()), "isKnown": "true",
                       "access": "Always", "username": "amina-001", "uid": "aabbccdd",
                       "door": "gate-a"}
    [unknown] = encode(DoorMessage("gate-a", "denied", "01020304", "unknown card"), door, now, 2)
    assert (unknown["isKnown"], unknown["access"], unknown["username"]) == (
        "false", "Denied", "Unknown"
    )
    opened, tampered = encode(DoorMessage("gate-a", "forced"), door, now, 3)
    assert (opened["src"], opened["desc"]) == ("door", "Door Open")
    assert (tampered["type"], tampered["src"], tampered["desc"]) == (
        "WARN", "tamper", "Door was tampered!"
    )
    [native] = encode(DoorMessage("d1", "denied", "x", "expired"), SimDoor("d1"), now, 9)
    assert native == {"event": "denied", "ts": "2026-11-28T01:02:03.000Z", "seq": 9,
                      "credential": "x", "reason": "expired"}


class Subscriber:
    """A QoS 1 subscriber on every door topic, collecting (topic, payload)."""

    def __init__(self, services: ServiceSet, prefix: str) -> None:
        self.messages: list[tuple[str, dict[str, object]]] = []
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ce-test-doorsub")
        self.client.on_connect = lambda c, *a: c.subscribe(
            [(f"{prefix}/+/events", 1), (f"{prefix}/+/send", 1)]
        )
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        parse_mqtt_url(services.mqtt_url).configure(self.client)
        self.client.connect(services.mqtt_host, services.mqtt_port)
        self.client.loop_start()
        assert ready.wait(5)

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.changed:
            self.messages.append((msg.topic, json.loads(msg.payload)))
            self.changed.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        with self.changed:
            return bool(self.changed.wait_for(lambda: predicate(self.messages), timeout))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscriber(services: ServiceSet) -> Iterator[Subscriber]:
    sub = Subscriber(services, PREFIX)
    yield sub
    sub.close()


def test_publishes_and_receives_door_events(services: ServiceSet, subscriber: Subscriber) -> None:
    """Issue acceptance: door events through the private Mosquitto with paho-mqtt."""
    config = TrafficConfig(rate=5.0, heartbeat_seconds=0.5)
    sim = DoorSimulator(services.mqtt_url, DOORS, prefix=PREFIX, config=config, seed=3,
                        seq_start=0)
    runner = threading.Thread(target=sim.run, kwargs={"duration": 30})
    runner.start()
    try:
        assert subscriber.wait_for(lambda ms: len(ms) >= 20)
        sim.force("d1")
        assert subscriber.wait_for(
            lambda ms: any(t == f"{PREFIX}/d1/events" and p.get("event") == "forced" for t, p in ms)
        )
    finally:
        sim.stop()
        runner.join(10)
    assert not runner.is_alive()
    with subscriber.lock:
        received = list(subscriber.messages)
    native = [p for t, p in received if t == f"{PREFIX}/d1/events"]
    esp = [p for t, p in received if t == f"{PREFIX}/d2/send"]
    assert native and esp
    seqs = [int(str(p["seq"])) for p in native]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(p["event"] in {"granted", "denied", "opened", "closed", "forced", "held",
                              "heartbeat"} for p in native)
    assert all(p["type"] in {"access", "INFO", "WARN", "heartbeat"} for p in esp)
    assert sum(sim.published.values()) >= 20


def test_payloads_are_accepted_by_the_door_listener_decoder(
    services: ServiceSet, subscriber: Subscriber
) -> None:
    formats = pytest.importorskip("ingest.doors.formats")
    config = TrafficConfig(rate=10.0, heartbeat_seconds=0.2, forced_probability=0.2,
                           held_probability=0.0)
    doors = [SimDoor("n1"), SimDoor("e1", "esp-rfid")]
    with DoorSimulator(services.mqtt_url, doors, prefix=PREFIX, config=config, seed=5) as sim:
        for door_id in ("n1", "e1"):
            sim.publish(door_id, "granted", credential="cafe0001")
            sim.publish(door_id, "denied", credential="bad", reason="unknown card")
            sim.force(door_id)
            sim.publish(door_id, "held")
            sim.publish(door_id, "closed")
            sim.publish(door_id, "heartbeat")
    assert subscriber.wait_for(lambda ms: len(ms) >= 13)
    now = datetime.now(UTC)
    kinds = []
    with subscriber.lock:
        for _topic, payload in subscriber.messages:
            decoded = formats.decode(json.dumps(payload).encode(), now, 16384)
            kinds.append(None if decoded.kind is None else str(decoded.kind))
    for kind in ("door.granted", "door.denied", "door.forced", "door.held", "door.closed",
                 "door.opened"):
        assert kind in kinds
    assert None in kinds  # heartbeats


def test_cli_publishes_until_duration(services: ServiceSet, subscriber: Subscriber) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sample_streams.doorsim", "--mqtt-url", services.mqtt_url,
         "--doors", "c1,c2", "--esp-rfid", "c2", "--rate", "5", "--heartbeat", "0.5",
         "--seed", "1", "--duration", "1.5", "--prefix", PREFIX],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert "published" in proc.stdout
    assert subscriber.wait_for(lambda ms: {t for t, _ in ms} >= {f"{PREFIX}/c1/events",
                                                                 f"{PREFIX}/c2/send"})


def test_messages_published_during_a_broker_restart_arrive() -> None:
    """QoS 1 with a persistent subscriber: a broker restart loses no door event."""
    env = {"CE_REDIS_URL": "redis://unused", "CE_TSDB_URL": "http://unused"}
    with ServiceSet(env=env) as own:
        got: list[dict[str, object]] = []
        lock = threading.Condition()
        subscribed = threading.Event()

        def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
            with lock:
                got.append(json.loads(msg.payload))
                lock.notify_all()

        sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ce-test-persistent",
                          clean_session=False)
        sub.on_connect = lambda c, *a: c.subscribe("doors/+/events", qos=1)
        sub.on_subscribe = lambda *a: subscribed.set()
        sub.on_message = on_message
        sub.reconnect_delay_set(min_delay=1, max_delay=1)
        parse_mqtt_url(own.mqtt_url).configure(sub)
        sub.connect(own.mqtt_host, own.mqtt_port)
        sub.loop_start()
        try:
            assert subscribed.wait(5)
            with DoorSimulator(own.mqtt_url, ["r1"], seq_start=0) as sim:
                sim.publish("r1", "granted", credential="c1")
                own.restart("mqtt")
                for _ in range(3):
                    sim.publish("r1", "heartbeat", wait=False)
                sim.publish("r1", "forced", wait=True)
                with lock:
                    assert lock.wait_for(lambda: len(got) >= 5, timeout=20), [p["seq"] for p in got]
            assert sim.failed == 0
            assert [p["seq"] for p in got] == [1, 2, 3, 4, 5]
        finally:
            sub.disconnect()
            sub.loop_stop()
