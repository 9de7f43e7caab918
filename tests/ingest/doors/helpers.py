"""Shared helpers of the door listener tests: a small site, a running listener, a publisher."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from compoundeye.mqtt_url import parse_mqtt_url
from compoundeye.settings import Settings
from compoundeye.site.models import Door, DoorRules, Location, Mqtt, Site
from ingest.doors.listener import DoorListener
from tests.threads import running_in_thread


def make_site(heartbeat_timeout: float = 600.0, client_id: str | None = None) -> Site:
    loc = Location(building="B01", lat=31.11, lon=121.38)
    return Site(
        doors=[Door(id="d1", location=loc, cameras=["cam-1", "cam-2"]),
               Door(id="d2", location=loc)],
        mqtt=Mqtt(client_id=client_id or f"t-{uuid.uuid4().hex[:10]}"),
        door_rules=DoorRules(heartbeat_timeout_seconds=heartbeat_timeout),
    )


@contextmanager
def running(site: Site, settings: Settings, **kwargs: Any) -> Iterator[DoorListener]:
    listener = DoorListener(site, settings, **kwargs)
    with running_in_thread(listener, listener.connected, "door-listener",
                           stop_timeout=15) as started:
        yield started


@contextmanager
def publisher(mqtt_url: str) -> Iterator[mqtt.Client]:
    broker = parse_mqtt_url(mqtt_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    broker.configure(client)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def publish(client: mqtt.Client, topic: str, payload: bytes | str) -> None:
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(timeout=10)
    assert info.is_published()
