"""The MQTT door listener: at-least-once from the broker to ``ce:events``.

Delivery guarantee. The client subscribes at QoS 1 with a stable client id and a
persistent session (MQTT 5, ``clean_start=False``, a session expiry), so the broker keeps
messages published while the listener is away. Messages are acknowledged by hand
(``manual_ack=True``): one worker thread takes them in arrival order and sends the PUBACK
only after Redis has accepted what the message became (an event, a dead letter, a
liveness update). If Redis is down the worker retries the same message with back-off and
acknowledges nothing, so nothing is lost; the broker's in-flight window (unacknowledged
messages) bounds what the listener holds in memory, and the rest waits in the broker.
If the connection drops, messages of the old connection that were not yet processed are
not acknowledged (their packet ids belong to the old connection): the broker sends them
again on reconnect, and idempotent publishing (stable event ids, ``EventSink``) makes sure a
message processed twice still gives one event.

An event's id is made of the door, the kind, the controller's ``seq`` and time when given,
and a digest of what the message says: an identical redelivery folds into one event, while a
different message that reuses a ``seq`` (a forged one, or a controller that restarted its
counter) becomes an event of its own instead of being dropped as a duplicate.

The broker connection takes user, password and TLS from ``CE_MQTT_URL`` and
``CE_MQTT_CA_FILE``/``CERT_FILE``/``KEY_FILE``; doors listed in ``CE_DOOR_KEYS_FILE`` must
sign their payloads (:mod:`compoundeye.door_signing`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from compoundeye import names
from compoundeye.bus import EventSink, dead_letter
from compoundeye.door_signing import DoorKeys
from compoundeye.events import Event, EventKind, Source, stable_event_id
from compoundeye.mqtt_url import broker_from_settings
from compoundeye.redis_client import redis_from_settings
from compoundeye.redis_text import text
from compoundeye.replication import ReplicaWait
from compoundeye.settings import Settings
from compoundeye.site.models import Site
from compoundeye.timeutil import parse_rfc3339, to_rfc3339, utcnow
from ingest.doors.formats import Decoded, PayloadError, decode
from ingest.doors.liveness import Liveness

log = logging.getLogger(__name__)

SESSION_EXPIRY_SECONDS = 7 * 24 * 3600
"""How long the broker keeps our session (and queued messages) while we are away."""
RECEIVE_MAXIMUM = 100
"""Unacknowledged messages the broker may have in flight to us: what we hold in memory."""
LIVENESS_CHECK_SECONDS = 0.5
RETRY_MIN_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0


@dataclass
class ListenerStats:
    """Counters of a door listener."""

    received: int = 0
    """Messages handled and acknowledged."""
    events: int = 0
    duplicates: int = 0
    heartbeats: int = 0
    dead_letters: int = 0
    redis_errors: int = 0
    stale_skipped: int = 0
    offline: int = 0
    online: int = 0
    resent: int = 0
    """Events written again after a failover took them before a replica had them."""

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class _Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int


class DoorListener:
    """Subscribes to every door's topic and turns messages into ``door.*`` events.

    ``run()`` blocks until ``stop()``; it connects (and reconnects with back-off), feeds
    one worker loop and watches controller heartbeats for ``door.offline``/``door.online``.
    """

    def __init__(self, site: Site, settings: Settings, *,
                 redis_client: redis.Redis | None = None,
                 listener_id: str | None = None) -> None:
        self.site = site
        self.settings = settings
        self.prefix = site.mqtt.topic_prefix
        self.client_id = site.mqtt.client_id
        self.listener_id = listener_id or self.client_id
        self.broker = broker_from_settings(settings)
        self._keys = DoorKeys(settings.door_keys_file)
        self.stats = ListenerStats()
        self._redis = redis_client or redis_from_settings(settings)
        self._sink = EventSink(self._redis, wait=ReplicaWait.from_settings(settings))
        self._queue: queue.Queue[_Incoming] = queue.Queue()
        self._stop = threading.Event()
        self.connected = threading.Event()
        self._generation = 0
        self._gen_lock = threading.Lock()
        self._timeout = timedelta(seconds=site.door_rules.heartbeat_timeout_seconds)
        self._liveness = Liveness(list(site.doors_by_id), self._timeout, utcnow())
        self._client = self._make_client()

    # -- MQTT ----------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=mqtt.MQTTv5, manual_ack=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.broker.configure(client)
        client.will_set(self.status_topic, self._status_payload("offline"), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    @property
    def status_topic(self) -> str:
        return names.listener_status_topic(self.prefix, self.listener_id)

    def _status_payload(self, state: str) -> str:
        return f'{{"state":"{state}","at":"{to_rfc3339(utcnow())}"}}'

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any,
                    _props: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT connection refused: %s", reason)
            return
        with self._gen_lock:
            self._generation += 1
        log.info("MQTT connected (session present: %s)", getattr(flags, "session_present", "?"))
        client.subscribe([(names.door_topic_filter(self.prefix), 1),
                          (names.door_send_topic_filter(self.prefix), 1)])
        client.publish(self.status_topic, self._status_payload("online"), qos=1, retain=True)

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int,
                      reason_codes: list[Any], _props: Any) -> None:
        # Ready only once the broker has the subscriptions: a message published before
        # the SUBACK of a new session is not routed to it.
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            log.error("MQTT subscription refused (%s): check the listener's ACL",
                      ", ".join(refused))
            return
        self.connected.set()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any,
                       _props: Any) -> None:
        self.connected.clear()
        with self._gen_lock:
            self._generation += 1  # messages of the dead connection are not acked
        if not self._stop.is_set():
            log.warning("MQTT disconnected (%s); reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._gen_lock:
            generation = self._generation
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # brokers refuse these; never let one stop the loop
            topic = msg._topic.decode("utf-8", "replace")
        self._queue.put(_Incoming(topic, bytes(msg.payload), msg.mid, msg.qos, generation))

    # -- lifecycle -----------------------------------------------------------------------

    def run(self) -> None:
        """Connect, process messages until ``stop()``, then disconnect cleanly."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        self._seed_liveness()
        log.info("connecting to MQTT broker %s", self.broker.redacted)
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=30,
                                   clean_start=False, properties=props)
        self._client.loop_start()
        try:
            self._work()
        finally:
            try:
                if self.connected.is_set():
                    info = self._client.publish(self.status_topic,
                                                self._status_payload("offline"), qos=1,
                                                retain=True)
                    info.wait_for_publish(timeout=2)
                self._client.disconnect()
            except (RuntimeError, ValueError, OSError) as exc:
                log.debug("disconnect: %s", exc)
            self._client.loop_stop()
            log.info("door listener stopped: %s", self.stats.as_dict())

    def stop(self) -> None:
        """Ask ``run()`` to return."""
        self._stop.set()

    # -- work ----------------------------------------------------------------------------

    def _work(self) -> None:
        retry = RETRY_MIN_SECONDS
        next_check = 0.0
        held: _Incoming | None = None
        while not self._stop.is_set():
            try:
                if held is None:
                    try:
                        held = self._queue.get(timeout=1.0)
                    except queue.Empty:
                        held = None
                if held is not None:
                    self._process(held)
                    held = None
                if time.monotonic() >= next_check:
                    self._sink.confirm()
                    self.stats.resent += self._sink.add_again()
                    self._check_liveness()
                    next_check = time.monotonic() + LIVENESS_CHECK_SECONDS
                retry = RETRY_MIN_SECONDS
            except redis.RedisError as exc:
                self.stats.redis_errors += 1
                if self.stats.redis_errors == 1 or self.stats.redis_errors % 100 == 0:
                    log.warning("Redis unavailable (%s); holding the message, retrying", exc)
                self._stop.wait(retry)
                retry = min(retry * 2, RETRY_MAX_SECONDS)

    def _process(self, item: _Incoming) -> None:
        with self._gen_lock:
            current = self._generation
        if item.generation != current:
            self.stats.stale_skipped += 1  # the broker redelivers it on the new connection
            return
        try:
            self._handle(item.topic, item.payload)
        except redis.RedisError:
            raise
        except Exception as exc:  # a bug must not stop the listener: keep the message
            log.exception("handling a message from %s failed", item.topic[:200])
            self._dead(item.payload, f"listener error: {type(exc).__name__}: {exc}"[:500],
                       item.topic, "")
        self._client.ack(item.mid, item.qos)
        self.stats.received += 1

    def _handle(self, topic: str, payload: bytes) -> None:
        """Turn one message into an event, a liveness update or a dead letter."""
        now = utcnow()
        parts = topic.split("/")
        door_id = parts[-2] if len(parts) >= 2 else ""
        try:
            if self.site.door(door_id) is None:
                raise PayloadError(f"unknown door {door_id!r}")
            decoded = decode(payload, now, self.site.mqtt.max_payload_bytes, door_id=door_id,
                             key=self._keys.key(door_id))
        except PayloadError as exc:
            self._dead(payload, str(exc), topic, door_id)
            return
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(names.door_status_key(door_id), mapping={
            "state": "online", "last_seen": to_rfc3339(now), "listener": self.listener_id,
            "format": decoded.fmt})
        pipe.expire(names.door_status_key(door_id), max(1, int(self._timeout.total_seconds())))
        pipe.execute()
        if self._liveness.online(door_id) is False:
            self._emit(self._status_event(door_id, EventKind.DOOR_ONLINE, now, {}))
            self.stats.online += 1
        self._liveness.seen(door_id, now)
        if decoded.heartbeat:
            self.stats.heartbeats += 1
            return
        self._emit(self._event(door_id, decoded, now))

    def _event(self, door_id: str, decoded: Decoded, now: Any) -> Event:
        assert decoded.kind is not None
        said = decoded.content_digest
        if decoded.seq is not None:
            id_parts: tuple[object, ...] = (
                "seq", decoded.seq, to_rfc3339(decoded.ts) if decoded.ts_given else "", said)
        elif decoded.ts_given:
            id_parts = ("ts", to_rfc3339(decoded.ts), said)
        else:
            # No time and no sequence number from the controller: nothing in the message
            # tells a redelivery from a repeat, so the receive time is part of the id.
            id_parts = ("rx", to_rfc3339(now), said)
        event_id = stable_event_id("door", door_id, decoded.kind.value, *id_parts)
        return Event(id=event_id, ts=decoded.ts, kind=decoded.kind,
                     source=Source(type="door", id=door_id), attrs=decoded.attrs)

    def _status_event(self, door_id: str, kind: EventKind, at: Any,
                      attrs: dict[str, Any]) -> Event:
        event_id = stable_event_id("door", door_id, kind.value, to_rfc3339(at))
        return Event(id=event_id, ts=at, kind=kind, source=Source(type="door", id=door_id),
                     attrs={"listener": self.listener_id, **attrs})

    def _emit(self, event: Event) -> None:
        if self._sink.add(event) is None:
            self.stats.duplicates += 1
        else:
            self.stats.events += 1
        # Events a failover took away before a replica had them: written again (their
        # ids make the second write of one that did reach the replica a no-op).
        self.stats.resent += self._sink.add_again()

    def _dead(self, payload: bytes, reason: str, topic: str, door_id: str) -> None:
        dead_letter(self._redis, payload, reason, source=f"mqtt:{self.listener_id}",
                    topic=topic, door=door_id)
        self._redis.hincrby(names.worker_key(self.listener_id), "dead_letters", 1)
        self.stats.dead_letters += 1
        log.info("dead letter from %s: %s", topic[:200], reason)

    def _seed_liveness(self) -> None:
        try:
            for door_id in self.site.doors_by_id:
                raw = self._redis.hget(names.door_status_key(door_id), "last_seen")
                if raw:
                    self._liveness.seed(door_id, parse_rfc3339(text(raw)))
        except (redis.RedisError, ValueError) as exc:
            log.warning("could not read door liveness from Redis: %s", exc)

    def _check_liveness(self) -> None:
        now = utcnow()
        for door_id, last_seen, heard in self._liveness.expired(now):
            attrs = {"last_seen": to_rfc3339(last_seen) if heard else None,
                     "timeout_seconds": self._timeout.total_seconds()}
            if not heard:
                attrs["reason"] = "never_seen"
            event = Event(
                id=stable_event_id("door", door_id, "door.offline", to_rfc3339(last_seen),
                                   uuid.uuid5(uuid.NAMESPACE_OID, self.listener_id).hex),
                ts=now, kind=EventKind.DOOR_OFFLINE, source=Source(type="door", id=door_id),
                attrs={"listener": self.listener_id, **attrs})
            self._emit(event)
            self._liveness.mark_offline(door_id)
            self.stats.offline += 1
