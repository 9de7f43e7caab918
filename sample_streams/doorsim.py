"""Door controller simulator: realistic access-control traffic over MQTT (paho-mqtt 2, QoS 1).

Each simulated door publishes with QoS 1 in one of two formats, chosen per door:

``native`` (DESIGN.md), on ``<prefix>/<door_id>/events``: ``{"event": "granted"|"denied"|
"opened"|"closed"|"forced"|"held"|"heartbeat", "ts": RFC 3339 UTC, "credential"?,
"reason"?, "seq"}``.

``esp-rfid`` (the payloads of github.com/esprfid/esp-rfid, firmware ``mqtt.esp``/``log.esp``),
on ``<prefix>/<door_id>/send`` like the firmware with its MQTT topic set to
``<prefix>/<door_id>`` (the firmware itself publishes with QoS 0):

- a card: ``{"type": "access", "time": <epoch s>, "isKnown": "true"|"false", "access":
  "Always"|"Admin" (granted) or "Denied"|"Expired"|"Disabled"|"Wrong pin code", "username",
  "uid", "door": <hostname>}``; an unknown card is ``isKnown "false"``, ``access "Denied"``,
  ``username "Unknown"``;
- door status, from its event log: ``{"type": "INFO"|"WARN", "src": "door"|"tamper", "desc":
  "Door Open"|"Door Closed"|"Door was tampered!"|"Door wasn't closed within max open time!",
  "data": "", "time", "cmd": "event", "door": <hostname>}``. Like the firmware, a forced door
  is "Door Open" followed by "Door was tampered!";
- liveness: ``{"type": "heartbeat", "time", "uptime", "ip", "hostname"}``.

The traffic itself (:class:`DoorTraffic`) is a pure generator: the same seed gives the same
sequence of messages at the same offsets, whatever the wall clock does.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import logging
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from compoundeye import door_signing
from compoundeye.mqtt_url import MqttUrl, parse_mqtt_url

log = logging.getLogger(__name__)

Format = Literal["native", "esp-rfid"]
DoorEventName = Literal["granted", "denied", "opened", "closed", "forced", "held", "heartbeat"]

DENY_REASONS = ("unknown card", "expired", "outside schedule", "wrong pin")
_ESP_DENIED_ACCESS = {
    "expired": "Expired",
    "outside schedule": "Disabled",
    "wrong pin": "Wrong pin code",
}
_ESP_LOG = {
    "opened": ("INFO", "door", "Door Open"),
    "closed": ("INFO", "door", "Door Closed"),
    "forced": ("WARN", "tamper", "Door was tampered!"),
    "held": ("WARN", "tamper", "Door wasn't closed within max open time!"),
}
_RC_OK = 0
_RC_NO_CONN = 4
"""paho-mqtt's MQTT_ERR_SUCCESS and MQTT_ERR_NO_CONN."""
_FIRST_NAMES = ("amina", "bo", "carlos", "dara", "elif", "farah", "goran", "hana", "ivan", "jun")


@dataclass(frozen=True)
class SimDoor:
    """A simulated door controller."""

    id: str
    fmt: Format = "native"
    held_open_seconds: float = 30.0


@dataclass(frozen=True)
class DoorMessage:
    """One thing a door says: the event, and the fields that go with it."""

    door_id: str
    event: DoorEventName
    credential: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class TrafficConfig:
    """Shape of the traffic: rates per door and how often things go wrong."""

    rate: float = 0.05
    """Access attempts (or forced entries) per door per second."""
    denied_probability: float = 0.15
    forced_probability: float = 0.03
    held_probability: float = 0.05
    heartbeat_seconds: float = 30.0
    users_per_door: int = 20


class DoorTraffic:
    """Deterministic door traffic: ``events()`` yields ``(offset_s, DoorMessage)`` in order."""

    def __init__(self, doors: Sequence[SimDoor], config: TrafficConfig, seed: int | None) -> None:
        if not doors:
            raise ValueError("at least one door is needed")
        if config.rate <= 0:
            raise ValueError("rate must be positive")
        self.doors = {d.id: d for d in doors}
        self.config = config
        self._rng = random.Random(seed)
        self._users = {
            d.id: [
                (f"{self._rng.choice(_FIRST_NAMES)}-{n:03d}", f"{self._rng.getrandbits(32):08x}")
                for n in range(config.users_per_door)
            ]
            for d in doors
        }

    @property
    def names(self) -> dict[str, str]:
        """Card uid to user name, over every door."""
        return {uid: name for users in self._users.values() for name, uid in users}

    @property
    def admins(self) -> frozenset[str]:
        """Card uids of each door's first user, who shows as ``Admin`` on esp-rfid doors."""
        return frozenset(users[0][1] for users in self._users.values() if users)

    def user(self, door_id: str) -> tuple[str, str]:
        """A (username, card uid) registered at this door."""
        return self._rng.choice(self._users[door_id])

    def events(self) -> Iterator[tuple[float, DoorMessage]]:
        cfg, rng = self.config, self._rng
        queue: list[tuple[float, int, DoorMessage | str]] = []
        order = itertools.count()
        for door in self.doors.values():
            heapq.heappush(queue, (rng.expovariate(cfg.rate), next(order), door.id))
            beat = DoorMessage(door.id, "heartbeat")
            heapq.heappush(queue, (rng.uniform(0, cfg.heartbeat_seconds), next(order), beat))
        while queue:
            at, _, item = heapq.heappop(queue)
            if isinstance(item, DoorMessage):
                yield at, item
                if item.event == "heartbeat":
                    heapq.heappush(queue, (at + cfg.heartbeat_seconds, next(order), item))
                continue
            door = self.doors[item]
            for offset, message in self._attempt(door):
                heapq.heappush(queue, (at + offset, next(order), message))
            heapq.heappush(queue, (at + rng.expovariate(cfg.rate), next(order), item))

    def _attempt(self, door: SimDoor) -> list[tuple[float, DoorMessage]]:
        """One person at the door, as messages at offsets from now."""
        cfg, rng = self.config, self._rng
        roll = rng.random()
        if roll < cfg.forced_probability:
            close_after = rng.uniform(3.0, 10.0)
            return [(0.0, DoorMessage(door.id, "forced")),
                    (close_after, DoorMessage(door.id, "closed"))]
        _name, uid = self.user(door.id)
        if roll < cfg.forced_probability + cfg.denied_probability:
            reason = rng.choice(DENY_REASONS)
            credential = f"{rng.getrandbits(32):08x}" if reason == "unknown card" else uid
            return [(0.0, DoorMessage(door.id, "denied", credential, reason))]
        opened_after = rng.uniform(0.5, 2.5)
        messages = [
            (0.0, DoorMessage(door.id, "granted", uid)),
            (opened_after, DoorMessage(door.id, "opened", uid)),
        ]
        if rng.random() < cfg.held_probability:
            held_at = opened_after + door.held_open_seconds
            messages.append((held_at, DoorMessage(door.id, "held", uid)))
            messages.append((held_at + rng.uniform(5.0, 20.0), DoorMessage(door.id, "closed")))
        else:
            closed_at = opened_after + rng.uniform(2.0, min(8.0, door.held_open_seconds * 0.8))
            messages.append((closed_at, DoorMessage(door.id, "closed")))
        return messages


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def encode(
    message: DoorMessage, door: SimDoor, now: datetime, seq: int,
    names: dict[str, str] | None = None, admins: frozenset[str] = frozenset(), boot: float = 0.0,
) -> list[dict[str, Any]]:
    """The payloads one door message becomes in its door's format (esp-rfid: maybe two)."""
    if door.fmt == "native":
        payload: dict[str, Any] = {"event": message.event, "ts": _rfc3339(now), "seq": seq}
        if message.credential is not None:
            payload["credential"] = message.credential
        if message.reason is not None:
            payload["reason"] = message.reason
        return [payload]
    epoch = int(now.timestamp())
    if message.event == "heartbeat":
        return [{"type": "heartbeat", "time": epoch, "uptime": int(max(0.0, time.time() - boot)),
                 "ip": "10.0.0.2", "hostname": door.id}]
    if message.event in ("granted", "denied"):
        granted = message.event == "granted"
        known = granted or message.reason != "unknown card"
        if granted:
            access = "Admin" if message.credential in admins else "Always"
        else:
            access = _ESP_DENIED_ACCESS.get(message.reason or "", "Denied")
        user = (names or {}).get(message.credential or "", "Unknown") if known else "Unknown"
        return [{"type": "access", "time": epoch, "isKnown": "true" if known else "false",
                 "access": access, "username": user, "uid": message.credential or "",
                 "door": door.id}]
    records = [_ESP_LOG[message.event]]
    if message.event == "forced":
        records.insert(0, _ESP_LOG["opened"])
    return [{"type": kind, "src": src, "desc": desc, "data": "", "time": epoch, "cmd": "event",
             "door": door.id} for kind, src, desc in records]


class DoorSimulator:
    """Publishes simulated door traffic to an MQTT broker until stopped.

    ``run()`` blocks; ``stop()`` (any thread, or SIGINT/SIGTERM through the CLI) ends it.
    ``publish(door_id, event, ...)`` sends one chosen message now (e.g. "force door X").
    """

    def __init__(
        self,
        mqtt_url: str,
        doors: Sequence[SimDoor | str],
        *,
        prefix: str = "doors",
        config: TrafficConfig | None = None,
        seed: int | None = None,
        client_id: str | None = None,
        seq_start: int | None = None,
        broker: MqttUrl | None = None,
        door_keys: dict[str, bytes] | None = None,
    ) -> None:
        self.doors = {d.id: d for d in (SimDoor(d) if isinstance(d, str) else d for d in doors)}
        self.prefix = prefix
        self.traffic = DoorTraffic(list(self.doors.values()), config or TrafficConfig(), seed)
        self.published: Counter[str] = Counter()
        self.failed = 0
        self._names = self.traffic.names
        self._admins = self.traffic.admins
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # A fresh sequence base per start keeps event ids unique across simulator restarts.
        base = seq_start if seq_start is not None else int(time.time() * 1000)
        self._seq = {door_id: base for door_id in self.doors}
        self._boot = time.time()
        self.broker = broker or parse_mqtt_url(mqtt_url)
        self._host, self._port = self.broker.host, self.broker.port
        self._keys = door_keys or {}
        """Native doors with a key here sign their payloads (:mod:`compoundeye.door_signing`)."""
        self._client_id = client_id or f"ce-doorsim-{random.getrandbits(32):08x}"
        self._client: Any = None

    def connect(self, timeout: float = 10.0) -> None:
        """Connect to the broker (idempotent); raise ConnectionError if it does not answer."""
        from paho.mqtt import client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        if self._client is not None:
            return
        connected = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self._client_id)
        client.max_queued_messages_set(10_000)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.broker.configure(client)

        def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if not reason.is_failure:
                connected.set()
            else:
                log.warning("broker refused the door simulator: %s", reason)

        client.on_connect = on_connect
        client.connect_async(self._host, self._port, keepalive=30)
        client.loop_start()
        if not connected.wait(timeout):
            client.loop_stop()
            raise ConnectionError(f"MQTT broker {self.broker.redacted} did not accept us")
        self._client = client

    def close(self) -> None:
        """Disconnect (after in-flight QoS 1 messages had a moment to be acknowledged)."""
        client, self._client = self._client, None
        if client is None:
            return
        client.disconnect()
        client.loop_stop()

    def __enter__(self) -> DoorSimulator:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def topic(self, door_id: str) -> str:
        """``<prefix>/<door>/events``; esp-rfid doors use the firmware's ``<topic>/send``."""
        suffix = "send" if self.doors[door_id].fmt == "esp-rfid" else "events"
        return f"{self.prefix}/{door_id}/{suffix}"

    def publish(
        self,
        door_id: str,
        event: DoorEventName,
        *,
        credential: str | None = None,
        reason: str | None = None,
        wait: bool = True,
    ) -> list[dict[str, Any]]:
        """Publish one door message now (QoS 1); return the payloads sent."""
        return self._send(DoorMessage(door_id, event, credential, reason), wait=wait)

    def force(self, door_id: str) -> list[dict[str, Any]]:
        """A door forced open right now."""
        return self.publish(door_id, "forced")

    def _send(self, message: DoorMessage, *, wait: bool) -> list[dict[str, Any]]:
        door = self.doors.get(message.door_id)
        if door is None:
            raise KeyError(f"unknown simulated door {message.door_id!r}")
        self.connect()
        with self._lock:
            self._seq[door.id] += 1
            seq = self._seq[door.id]
        payloads = encode(
            message, door, datetime.now(UTC), seq, self._names, self._admins, self._boot
        )
        infos = []
        key = self._keys.get(door.id) if door.fmt == "native" else None
        for payload in payloads:
            data = json.dumps(payload, separators=(",", ":")).encode()
            if key is not None:
                data = door_signing.sign(key, door.id, data)
            infos.append(self._client.publish(self.topic(door.id), data, qos=1))
        # paho keeps QoS 1 messages while disconnected (rc NO_CONN) and sends them on
        # reconnect; only a full queue (rc QUEUE_SIZE) refuses one.
        refused = [info.rc for info in infos if info.rc not in (_RC_OK, _RC_NO_CONN)]
        with self._lock:
            if refused:
                self.failed += 1
                if self.failed == 1 or self.failed % 1000 == 0:
                    log.warning("%d door messages refused by the MQTT client (rc %s)",
                                self.failed, refused[0])
            else:
                self.published[message.event] += 1
        if wait:
            for info in infos:
                if info.rc == _RC_OK:
                    info.wait_for_publish(timeout=10)
        return payloads

    def run(self, duration: float | None = None) -> None:
        """Publish the simulated traffic in real time until ``stop()`` (or ``duration`` s)."""
        self.connect()
        start = time.monotonic()
        log.info("door simulator: %d doors on %s prefix %s", len(self.doors),
                 self.broker.redacted, self.prefix)
        try:
            for offset, message in self.traffic.events():
                if duration is not None and offset > duration:
                    self._stop.wait(max(0.0, start + duration - time.monotonic()))
                    break
                if self._stop.wait(max(0.0, start + offset - time.monotonic())):
                    break
                self._send(message, wait=False)
        finally:
            self.close()

    def stop(self) -> None:
        self._stop.set()


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sample_streams.doorsim", description=__doc__)
    p.add_argument("--mqtt-url", default=os.environ.get("CE_MQTT_URL", "mqtt://127.0.0.1:1883"),
                   help="mqtt:// or mqtts://, with user and password (default CE_MQTT_URL)")
    for name in ("ca", "cert", "key"):
        p.add_argument(f"--{name}-file", default=os.environ.get(f"CE_MQTT_{name.upper()}_FILE"),
                       help=f"TLS {name} file (default CE_MQTT_{name.upper()}_FILE)")
    p.add_argument("--door-keys", type=Path, default=os.environ.get("CE_DOOR_KEYS_FILE"),
                   help="per-door HMAC keys: listed native doors sign (CE_DOOR_KEYS_FILE)")
    p.add_argument("--doors", default="door-01,door-02", help="comma-separated door ids")
    p.add_argument("--esp-rfid", default="", help="door ids that speak the esp-rfid format")
    p.add_argument("--prefix", default="doors")
    p.add_argument("--rate", type=float, default=0.05, help="attempts per door per second")
    p.add_argument("--heartbeat", type=float, default=30.0, help="seconds between heartbeats")
    p.add_argument("--held-open", type=float, default=30.0, help="held-open limit, seconds")
    p.add_argument("--forced", type=float, default=0.03, help="probability of a forced door")
    p.add_argument("--held", type=float, default=0.05, help="probability a grant is held open")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry: ``python -m sample_streams.doorsim --mqtt-url URL --doors d1,d2``."""
    args = _parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s: %(message)s")
    esp = {d.strip() for d in args.esp_rfid.split(",") if d.strip()}
    ids = [d.strip() for d in args.doors.split(",") if d.strip()]
    doors = [SimDoor(d, "esp-rfid" if d in esp else "native", args.held_open) for d in ids]
    config = TrafficConfig(rate=args.rate, heartbeat_seconds=args.heartbeat,
                           forced_probability=args.forced, held_probability=args.held)
    try:
        broker = parse_mqtt_url(args.mqtt_url, ca_file=args.ca_file, cert_file=args.cert_file,
                                key_file=args.key_file)
        keys = door_signing.read_door_keys(args.door_keys) if args.door_keys else {}
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    sim = DoorSimulator(args.mqtt_url, doors, prefix=args.prefix, config=config, seed=args.seed,
                        broker=broker, door_keys=keys)

    def on_signal(_signum: int, _frame: object) -> None:
        sim.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        sim.run(args.duration)
    except ConnectionError as exc:
        log.error("%s", exc)
        return 1
    sys.stdout.write(f"published {dict(sim.published)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
