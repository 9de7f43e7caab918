"""Small paho-mqtt helpers for the security tests (signing in, TLS, collecting messages)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def connect(port: int, user: str | None = None, password: str | None = None, *,
            ca_file: Path | None = None, timeout: float = 5.0) -> tuple[bool, str]:
    """Try to connect; (accepted, reason) from the broker's CONNACK."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sec-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    if user is not None:
        client.username_pw_set(user, password)
    if ca_file is not None:
        client.tls_set(ca_certs=str(ca_file))
    answered = threading.Event()
    outcome: list[tuple[bool, str]] = []

    def on_connect(_c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        outcome.append((not getattr(reason, "is_failure", True), str(reason)))
        answered.set()

    def on_disconnect(_c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        if not answered.is_set():
            outcome.append((False, f"disconnected: {reason}"))
            answered.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.connect("127.0.0.1", port, keepalive=10)
    except OSError as exc:
        return False, f"connect failed: {exc}"
    client.loop_start()
    try:
        if not answered.wait(timeout):
            return False, "no CONNACK"
        return outcome[0]
    finally:
        client.disconnect()
        client.loop_stop()


class Client:
    """A connected client that records what it receives."""

    def __init__(self, port: int, user: str | None, password: str | None, *,
                 ca_file: Path | None = None, subscribe: tuple[str, ...] = ()) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.changed = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"sec-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
        if user is not None:
            self.client.username_pw_set(user, password)
        if ca_file is not None:
            self.client.tls_set(ca_certs=str(ca_file))
        ready = threading.Event()
        self.client.on_connect = lambda c, *_: (
            c.subscribe([(t, 1) for t in subscribe]) if subscribe else ready.set())
        self.client.on_subscribe = lambda *_: ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        if not ready.wait(5):
            raise RuntimeError("MQTT client not connected/subscribed")

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.changed:
            self.received.append((msg.topic, bytes(msg.payload)))
            self.changed.notify_all()

    def publish(self, topic: str, payload: bytes | str) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(5)

    def wait_for(self, payload: bytes, timeout: float = 10.0) -> bool:
        with self.changed:
            return self.changed.wait_for(
                lambda: any(p == payload for _t, p in self.received), timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def url_client(url: str, *, subscribe: tuple[str, ...] = ()) -> Client:
    """A client signed in as a plain ``mqtt://user:pass@host:port`` URL says."""
    parts = urlsplit(url)
    return Client(parts.port or 1883, unquote(parts.username) if parts.username else None,
                  unquote(parts.password) if parts.password else None, subscribe=subscribe)
