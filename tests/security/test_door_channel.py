"""Findings "the door channel is open" and "forgery": a locked broker, a listener that can
use it, per-door signatures, extreme times and reused sequence numbers over MQTT.

The broker is the repository's ``deploy/mosquitto`` configuration run for real, with a
password file, the ACL and a TLS listener whose CA and certificate the fixture made with
``openssl``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from compoundeye import names
from compoundeye.events import Event
from compoundeye.services import ServiceSet
from compoundeye.settings import Settings
from compoundeye.site.models import Site
from ingest.doors.listener import DoorListener
from tests.ingest.doors.helpers import running
from tests.polling import wait_until
from tests.security.conftest import LISTENER_USER, SITE, LockedBroker
from tests.security.mqtt_clients import Client, connect, url_client

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _site() -> Site:
    return Site.model_validate({**SITE, "mqtt": {"client_id": f"sec-{uuid.uuid4().hex[:8]}"}})


@contextmanager
def listening(site: Site, settings: Settings, watch: Client) -> Iterator[DoorListener]:
    """A running listener whose subscriptions are in force: its retained "online" status,
    published after it subscribed on the same connection, has reached ``watch``."""
    with running(site, settings) as listener:
        wait_until(lambda: any(t == listener.status_topic and b'"online"' in p
                               for t, p in watch.received), timeout=15,
                   what="the listener's online status")
        yield listener


def _events(client: redis.Redis) -> list[Event]:
    entries: Any = client.xrange(names.EVENTS_STREAM)
    return [Event.from_json(fields[names.EVENT_FIELD.encode()]) for _id, fields in entries]


def _dead_letters(client: redis.Redis) -> list[dict[str, str]]:
    entries: Any = client.xrange(names.DEADLETTER_STREAM)
    return [{k.decode(): v.decode("utf-8", "replace") for k, v in fields.items()}
            for _id, fields in entries]


def test_anonymous_and_wrong_password_clients_are_refused(locked_broker: LockedBroker) -> None:
    for port, ca in ((locked_broker.plain_port, None),
                     (locked_broker.tls_port, locked_broker.ca_file)):
        accepted, reason = connect(port, ca_file=ca)
        assert not accepted, f"anonymous client accepted on {port}"
        accepted, reason = connect(port, "door-A", "not-the-password", ca_file=ca)
        assert not accepted, f"wrong password accepted on {port}"
        assert "uthori" in reason or "disconnected" in reason, reason
    accepted, reason = connect(locked_broker.tls_port, "door-A",
                               locked_broker.passwords["door-A"], ca_file=locked_broker.ca_file)
    assert accepted, reason


def test_a_controller_cannot_publish_for_another_door_or_read_any(
        locked_broker: LockedBroker) -> None:
    tls, ca = locked_broker.tls_port, locked_broker.ca_file
    reader = Client(tls, LISTENER_USER, locked_broker.passwords[LISTENER_USER], ca_file=ca,
                    subscribe=("doors/+/events",))
    snoop = Client(tls, "door-A", locked_broker.passwords["door-A"], ca_file=ca,
                   subscribe=("#",))
    door_a = Client(tls, "door-A", locked_broker.passwords["door-A"], ca_file=ca)
    door_b = Client(tls, "door-B", locked_broker.passwords["door-B"], ca_file=ca)
    try:
        forged = b'{"event":"granted","credential":"forged-by-A"}'
        door_a.publish("doors/door-B/events", forged)
        own = b'{"event":"opened","seq":1}'
        door_a.publish("doors/door-A/events", own)
        theirs = b'{"event":"granted","credential":"card-of-B","seq":7}'
        door_b.publish("doors/door-B/events", theirs)
        assert reader.wait_for(own) and reader.wait_for(theirs)
        assert all(p != forged for _t, p in reader.received), "door-A published for door-B"
        assert snoop.received == [], "a controller read other doors' events (card data)"
    finally:
        for client in (reader, snoop, door_a, door_b):
            client.close()


def test_the_listener_receives_over_tls_with_its_account(
        locked_broker: LockedBroker, redis_client: redis.Redis, redis_url: str,
        caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(redis_url=redis_url, mqtt_url=locked_broker.listener_url(),
                        mqtt_ca_file=locked_broker.ca_file)
    caplog.set_level(logging.INFO)
    door = Client(locked_broker.tls_port, "door-A", locked_broker.passwords["door-A"],
                  ca_file=locked_broker.ca_file)
    try:
        with running(_site(), settings) as listener:
            assert listener.connected.is_set()
            sent = iter(range(1, 1000))

            def forced_arrived() -> bool:
                # Sent again until it arrives: the first may beat the listener's SUBACK.
                door.publish("doors/door-A/events",
                             json.dumps({"event": "forced", "seq": next(sent)}).encode())
                return any(e.kind == "door.forced" for e in _events(redis_client))

            wait_until(forced_arrived, timeout=15, interval=0.5, what="door.forced over TLS")
    finally:
        door.close()
    assert locked_broker.passwords[LISTENER_USER] not in caplog.text


def test_add_controller_script_makes_credentials_the_broker_accepts(
        locked_broker: LockedBroker, tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "add-controller.sh"
    keys = tmp_path / "door-keys.json"
    out = subprocess.run(["sh", str(script), "door-C", str(locked_broker.password_file),
                          str(keys)], capture_output=True, text=True, timeout=60,
                         env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    fields = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert fields["user"] == "door-C" and len(fields["password"]) >= 24
    assert json.loads(keys.read_text())["doors"]["door-C"] == fields["hmac_key"]
    assert keys.stat().st_mode & 0o077 == 0
    assert locked_broker.password_file.stat().st_mode & 0o077 == 0
    locked_broker.reload()
    accepted, reason = connect(locked_broker.tls_port, "door-C", fields["password"],
                               ca_file=locked_broker.ca_file)
    assert accepted, reason


def _sign(key: bytes, door: str, payload: bytes) -> bytes:
    """The documented envelope, computed here independently of the code under test."""
    mac = hmac.new(key, b"compoundeye-door-v1\x1f" + door.encode() + b"\x1f" + payload,
                   hashlib.sha256).hexdigest()
    return json.dumps({"payload": payload.decode(), "hmac": mac}).encode()


def test_a_signing_door_s_unsigned_or_forged_messages_are_dead_lettered(
        services: ServiceSet, redis_client: redis.Redis, tmp_path: Path) -> None:
    key = bytes(range(32))
    keys_file = tmp_path / "door-keys.json"
    keys_file.write_text(json.dumps({"doors": {"door-A": key.hex()}}))
    settings = Settings(redis_url=services.redis_url, mqtt_url=services.mqtt_url,
                        door_keys_file=keys_file)
    tools = url_client(services.mqtt_url, subscribe=("doors/_listeners/+/status",))
    try:
        with listening(_site(), settings, tools):
            tools.publish("doors/door-A/events", b'{"event":"granted","seq":1}')
            tools.publish("doors/door-A/events",
                          _sign(bytes(32), "door-A", b'{"event":"granted","seq":2}'))
            tools.publish("doors/door-A/events",
                          _sign(key, "door-B", b'{"event":"granted","seq":3}'))
            tools.publish("doors/door-A/events",
                          _sign(key, "door-A", b'{"event":"opened","seq":4}'))
            tools.publish("doors/door-B/events", b'{"event":"closed","seq":5}')  # no key
            wait_until(lambda: len(_events(redis_client)) >= 2, timeout=15,
                       what="the signed and the unsigned-door events")
    finally:
        tools.close()
    kinds = sorted((e.source.id, e.kind.value) for e in _events(redis_client))
    assert kinds == [("door-A", "door.opened"), ("door-B", "door.closed")]
    reasons = [d["reason"] for d in _dead_letters(redis_client)]
    assert len(reasons) == 3, reasons
    assert "missing signature" in reasons[0]
    assert "bad signature" in reasons[1] and "bad signature" in reasons[2]


def test_an_extreme_time_over_mqtt_is_a_dead_letter_with_its_reason(
        services: ServiceSet, redis_client: redis.Redis) -> None:
    settings = Settings(redis_url=services.redis_url, mqtt_url=services.mqtt_url)
    tools = url_client(services.mqtt_url, subscribe=("doors/_listeners/+/status",))
    try:
        with listening(_site(), settings, tools):
            for ts in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
                tools.publish("doors/door-A/events",
                              json.dumps({"event": "forced", "ts": ts}).encode())
            wait_until(lambda: len(_dead_letters(redis_client)) >= 2, timeout=15,
                       what="two dead letters")
    finally:
        tools.close()
    for letter in _dead_letters(redis_client):
        assert "out of range" in letter["reason"], letter["reason"]
        assert "OverflowError" not in letter["reason"] and "listener error" not in letter["reason"]


def test_a_different_message_reusing_a_seq_is_not_dropped(
        services: ServiceSet, redis_client: redis.Redis) -> None:
    settings = Settings(redis_url=services.redis_url, mqtt_url=services.mqtt_url)
    tools = url_client(services.mqtt_url, subscribe=("doors/_listeners/+/status",))
    now = datetime.now(UTC).isoformat()
    first: dict[str, Any] = {"event": "granted", "seq": 77, "ts": now, "credential": "c1"}
    # Same kind, seq and ts, another card: a different message (forged, or a controller
    # that restarted its counter), which must not vanish as a "duplicate".
    other: dict[str, Any] = {"event": "granted", "seq": 77, "ts": now, "credential": "c2"}
    try:
        with listening(_site(), settings, tools) as listener:
            tools.publish("doors/door-A/events", json.dumps(first))
            tools.publish("doors/door-A/events", json.dumps(first))  # a redelivery
            # the same message, keys in another order: still the same message
            tools.publish("doors/door-A/events", json.dumps(dict(reversed(first.items()))))
            tools.publish("doors/door-A/events", json.dumps(other))
            wait_until(lambda: listener.stats.received >= 4, timeout=15, what="4 messages")
    finally:
        tools.close()
    cards = sorted(str(e.attrs.get("credential")) for e in _events(redis_client))
    assert cards == ["c1", "c2"], cards
