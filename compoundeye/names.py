"""Every Redis stream and key name and every MQTT topic shape, in one place."""

from __future__ import annotations

EVENTS_STREAM = "ce:events"
"""Events from edge workers and door listeners (field ``e``: one JSON event)."""

ALERTS_STREAM = "ce:alerts"
"""Every alert change, for live screens (field ``a``: one JSON alert change)."""

DEADLETTER_STREAM = "ce:deadletter"
"""Input that could not become an event, with its raw bytes, reason and source."""

EVENT_FIELD = "e"
ALERT_FIELD = "a"

ALERTS_GROUP = "ce-alerts"
"""Consumer group of the alerting service on ``ce:events``."""

DOOR_RULES_GROUP = "ce-alerts-doors"
"""Second consumer group on ``ce:events``, read only by the alerting process that holds the
door-rules lease: the stateful door rules see every door event, in order, in one process."""

DOOR_RULES_LEASE = "ce:alerts:door-rules:leader"
"""Key holding the name of the alerting process that runs the door rules (with a TTL)."""

STREAM_MAXLEN = 1_000_000
"""Approximate cap on each stream (XADD MAXLEN ~), so Redis memory stays bounded."""

REPLICA_PROBE_KEY = "ce:replica-probe"
"""Written (with a short expiry) by a writer that has nothing else to write when it asks a
replica to confirm what it wrote before (``WAIT`` covers a connection's own writes)."""

DEADLETTER_MAXLEN = 100_000
DEADLETTER_RAW_LIMIT = 4096
"""Raw bytes kept per dead letter; the rest is cut (and the cut is recorded)."""


SESSION_KEY_PREFIX = "ce:session:"
"""Hash per dashboard session (``ce:session:<sha256 of the cookie>``), expiring with it."""
SESSIONS_INDEX = "ce:sessions"
"""Sorted set of every session's key hash, scored by its expiry time."""
LOGIN_LIMIT_PREFIX = "ce:limits:login"
"""Key prefix of the sign-in throttle's counters (the ``limits`` library's storage)."""


def session_key(session_hash: str) -> str:
    """Hash holding one dashboard session (name, role, CSRF secret, times, address)."""
    return f"{SESSION_KEY_PREFIX}{session_hash}"


def sessions_of_key(name: str) -> str:
    """Set of the session hashes of one token name (so a revoke ends them all at once)."""
    return f"ce:sessions:of:{name}"


def seen_key(event_id: str) -> str:
    """Marker that an event id was already put on a stream (producer-side idempotency)."""
    return f"ce:seen:{event_id}"


def change_seen_key(digest: str) -> str:
    """Marker that an alert change (by the digest of its JSON) is already on ``ce:alerts``."""
    return f"ce:seen-change:{digest}"


def camera_status_key(camera_id: str) -> str:
    """Hash with a camera's current status, refreshed by its edge worker with a TTL."""
    return f"ce:camera:{camera_id}:status"


CAMERA_STATUS_PATTERN = "ce:camera:*:status"


def door_status_key(door_id: str) -> str:
    """Hash with a door controller's liveness, refreshed on every heartbeat."""
    return f"ce:door:{door_id}:status"


def worker_key(worker_id: str) -> str:
    """Hash with an edge worker's own heartbeat and counters."""
    return f"ce:worker:{worker_id}"


def activity_key(camera_id: str) -> str:
    """Hash with a camera's persisted activity baseline (one field per zone)."""
    return f"ce:activity:{camera_id}"


DEFAULT_DOOR_PREFIX = "doors"
"""The default MQTT topic prefix of door controllers (the site's ``mqtt.topic_prefix``)."""


def door_topic(prefix: str, door_id: str) -> str:
    """MQTT topic a door controller publishes its events on."""
    return f"{prefix}/{door_id}/events"


def door_topic_filter(prefix: str) -> str:
    """MQTT subscription covering every door's events."""
    return f"{prefix}/+/events"


def door_send_topic_filter(prefix: str) -> str:
    """MQTT subscription covering esp-rfid doors, which publish on ``<their topic>/send``
    (each configured with ``<prefix>/<door>`` as its topic)."""
    return f"{prefix}/+/send"


def listener_status_topic(prefix: str, listener_id: str) -> str:
    """Retained online/offline topic of a door listener (its last will)."""
    return f"{prefix}/_listeners/{listener_id}/status"


PLAYBACK_ACTIVE = "ce:playback:active"
"""Sorted set of open playback sessions scored by their last activity (epoch seconds)."""


def playback_session_key(session_id: str) -> str:
    """Hash of one open playback session (who, cameras, window), with a TTL."""
    return f"ce:playback:{session_id}"


def playback_segments_key(session_id: str) -> str:
    """Sorted set of the segments a playback session fetched (scored by their start)."""
    return f"ce:playback:{session_id}:segments"
