"""The event model carried on ``ce:events``: one JSON document per stream entry."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from compoundeye.timeutil import parse_rfc3339, to_rfc3339


class EventKind(StrEnum):
    """Every kind of event the pipeline carries."""

    MOTION_START = "motion.start"
    MOTION_END = "motion.end"
    CAMERA_TAMPER = "camera.tamper"
    CAMERA_TAMPER_CLEARED = "camera.tamper_cleared"
    CAMERA_OFFLINE = "camera.offline"
    CAMERA_ONLINE = "camera.online"
    CAMERA_RECORDING_FAILED = "camera.recording_failed"
    """A camera that should record finished no segment for two segment lengths plus a
    grace (attrs ``reason``, ``since``, ``last_segment``)."""
    CAMERA_RECORDING_OK = "camera.recording_ok"
    """A failing camera finished a segment again."""
    DOOR_GRANTED = "door.granted"
    DOOR_DENIED = "door.denied"
    DOOR_OPENED = "door.opened"
    DOOR_CLOSED = "door.closed"
    DOOR_FORCED = "door.forced"
    DOOR_HELD = "door.held"
    DOOR_TAMPER = "door.tamper"
    DOOR_OFFLINE = "door.offline"
    DOOR_ONLINE = "door.online"
    ACTIVITY_ANOMALY = "activity.anomaly"
    RETENTION_BLOCKED = "retention.blocked"
    """An edge worker's retention is below the free-disk floor and may delete nothing
    more: only held recordings are left, or the legal holds cannot be read."""
    RETENTION_OK = "retention.ok"


class TamperReason(StrEnum):
    """Why a camera's picture can no longer be trusted."""

    BLACKOUT = "blackout"
    COVERED = "covered"
    DEFOCUS = "defocus"
    MOVED = "moved"
    FROZEN = "frozen"


SourceType = Literal["camera", "door", "worker"]
"""A camera or a door by its configured id, or an edge worker by its worker id."""


class Source(BaseModel):
    """What produced an event: a camera or a door by its configured id, or an edge
    worker (for what concerns the worker as a whole, such as its disk)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: SourceType
    id: str = Field(min_length=1, max_length=128)


class Event(BaseModel):
    """One event: ``{"id", "ts", "kind", "source": {"type", "id"}, "attrs": {}}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=128)
    ts: datetime
    kind: EventKind
    source: Source
    attrs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("ts", mode="before")
    @classmethod
    def _aware_utc(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_rfc3339(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("event time must be timezone-aware")
        return value

    @field_serializer("ts")
    def _ts_rfc3339(self, value: datetime) -> str:
        return to_rfc3339(value)

    def to_json(self) -> str:
        """The compact JSON document stored in the stream's ``e`` field."""
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        """Parse and validate one stream entry's ``e`` field."""
        return cls.model_validate_json(raw)


def stable_event_id(*parts: object) -> str:
    """A deterministic event id from what identifies the occurrence.

    The same occurrence (a redelivered MQTT message, a replayed buffer) gives the same
    id, so the alerting service can refuse it the second time.
    """
    digest = hashlib.blake2b(
        "\x1f".join(str(part) for part in parts).encode(), digest_size=12
    ).hexdigest()
    return digest


def make_event(
    kind: EventKind,
    source_type: SourceType,
    source_id: str,
    ts: datetime,
    attrs: dict[str, Any] | None = None,
    *,
    id_parts: tuple[object, ...] | None = None,
) -> Event:
    """Build an event whose id derives from its source, kind, time and ``id_parts``."""
    parts: tuple[object, ...] = (source_type, source_id, kind.value, to_rfc3339(ts))
    if id_parts is not None:
        parts = (*parts, *id_parts)
    return Event(
        id=stable_event_id(*parts),
        ts=ts,
        kind=kind,
        source=Source(type=source_type, id=source_id),
        attrs=attrs or {},
    )
