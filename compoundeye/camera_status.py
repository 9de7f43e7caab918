"""A camera's status: the state values and the status hash's fields, in one place.

Each edge worker keeps ``names.camera_status_key(camera)`` (a Redis hash with a TTL) up to
date for its cameras; the alerting service's watchdog and the dashboard read it. The hash
is the record below written field by field as text: every field declares its codec, and
:meth:`CameraStatus.to_hash` and :meth:`CameraStatus.from_hash` walk the declared fields,
so a new field (recording health, say) is one line in one class.

:class:`CameraStatus` holds the fields every reader shows (the ops list, the map);
:class:`CameraStatusReport` adds the worker-side detail the edge worker writes beside them.
An empty value in the hash reads as None (and None is written as empty), so an absent
field, an empty one and a stale writer that never knew the field all read the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from functools import cache
from typing import Any, Generic, NamedTuple, Self, TypeVar, cast

import redis

from compoundeye import names
from compoundeye.redact import redact_text
from compoundeye.redis_read import hmget_many
from compoundeye.redis_text import text, text_or_none

T = TypeVar("T")


class CameraState(StrEnum):
    """A camera's status as ops see it."""

    ONLINE = "online"
    DEGRADED = "degraded"
    TAMPERED = "tampered"
    OFFLINE = "offline"


WORST_FIRST: tuple[CameraState, ...] = (
    CameraState.OFFLINE, CameraState.TAMPERED, CameraState.DEGRADED, CameraState.ONLINE)
"""The order the ops page lists cameras in."""

STATE_FIELD = "status"
"""The hash field holding the :class:`CameraState` (the record's ``status``)."""
RECORDING_FIELD = "recording"
"""The hash field holding the :class:`RecordingState`."""


def parse_state(raw: object) -> CameraState | None:
    """The state in a hash's status field: None when the field is absent; an empty value is
    offline and a value this version does not know is degraded (see ``from_hash``)."""
    return None if raw is None else STATE.decode(raw)


class _Codec(Generic[T]):
    """How one field is written into the hash (text) and read back."""

    def encode(self, value: T) -> str:
        raise NotImplementedError

    def decode(self, raw: object) -> T:
        raise NotImplementedError


class _Text(_Codec[str | None]):
    def encode(self, value: str | None) -> str:
        return value or ""

    def decode(self, raw: object) -> str | None:
        if raw is None:
            return None
        return text(raw) or None


class _FreeText(_Text):
    """Text that may quote a tool or a URL (reasons, errors): secrets masked on write."""

    def encode(self, value: str | None) -> str:
        return redact_text(value) if value else ""


class _Rate(_Codec[float | None]):
    """A non-negative rate with two decimals; unreadable, NaN or negative reads as None."""

    def encode(self, value: float | None) -> str:
        return "" if value is None else f"{value:.2f}"

    def decode(self, raw: object) -> float | None:
        if raw is None:
            return None
        try:
            rate = float(text(raw))
        except ValueError:
            return None
        return rate if not math.isnan(rate) and rate >= 0 else None


class _Count(_Codec[int]):
    """A counter; absent or unreadable reads as 0."""

    def encode(self, value: int) -> str:
        return str(value)

    def decode(self, raw: object) -> int:
        try:
            return int(text(raw)) if raw is not None else 0
        except ValueError:
            return 0


class _Flag(_Codec[bool | None]):
    """``1`` / ``0``, or empty for "does not apply"."""

    def encode(self, value: bool | None) -> str:
        return "" if value is None else ("1" if value else "0")

    def decode(self, raw: object) -> bool | None:
        value = text_or_none(raw)
        return None if not value else value == "1"


E = TypeVar("E", bound=StrEnum)


class _Choice(_Codec[E]):
    """One value of a :class:`StrEnum`; absent or empty reads as ``empty``, a value this
    version does not know as ``unknown``."""

    def __init__(self, kind: type[E], *, empty: E, unknown: E) -> None:
        self._by_value = {member.value: member for member in kind}
        self._empty, self._unknown = empty, unknown

    def known(self, value: str) -> bool:
        return value in self._by_value

    def encode(self, value: E) -> str:
        return value.value

    def decode(self, raw: object) -> E:
        value = text(raw) if raw is not None else ""
        return self._by_value.get(value, self._unknown) if value else self._empty


class _OptionalChoice(_Codec[E | None]):
    """One value of a :class:`StrEnum`, or None when absent, empty or unknown here."""

    def __init__(self, kind: type[E]) -> None:
        self._by_value = {member.value: member for member in kind}

    def encode(self, value: E | None) -> str:
        return "" if value is None else value.value

    def decode(self, raw: object) -> E | None:
        return None if raw is None else self._by_value.get(text(raw))


class RecordingState(StrEnum):
    """A camera's recording health, read from finished segments (never from "ffmpeg is
    running")."""

    OK = "ok"
    """A segment finished within the last two segment lengths plus the grace."""
    STARTING = "starting"
    """No segment yet since the recorder started, and none is overdue."""
    FAILING = "failing"
    """None finished for two segment lengths plus the grace (``recording_reason`` says
    why: unauthorized, not found, invalid data, disk full, ...)."""
    DISABLED = "disabled"
    """Not recorded: ``record: false`` in the site, or a worker run with ``--no-record``."""


class WatchMode(StrEnum):
    """How the edge watches a camera's sub stream now (the site's ``detect_mode`` resolved:
    ``armed`` is one or the other by schedule)."""

    FULL = "full"
    """Every frame decoded, motion at the detect rate."""
    HEALTH = "health"
    """Keyframes only: tamper, offline and coarse motion checks."""


TEXT, FREE_TEXT, RATE, COUNT, FLAG = _Text(), _FreeText(), _Rate(), _Count(), _Flag()
RECORDING = _OptionalChoice(RecordingState)
STATE = _Choice(CameraState, empty=CameraState.OFFLINE, unknown=CameraState.DEGRADED)
WATCH_MODE = _Choice(WatchMode, empty=WatchMode.FULL, unknown=WatchMode.FULL)


def _hash_field(codec: _Codec[Any], default: Any = None) -> Any:
    """A field stored in the hash, written and read with ``codec``."""
    return field(default=default, metadata={"codec": codec})


class _Table(NamedTuple):
    """The hash fields of a record class, in declaration order, and their codecs."""

    names: tuple[str, ...]
    codecs: tuple[_Codec[Any], ...]
    decoders: tuple[Callable[[object], Any], ...]


@cache
def _table(cls: type) -> _Table:
    hashed = [f for f in fields(cls) if "codec" in f.metadata]
    codecs = tuple(f.metadata["codec"] for f in hashed)
    return _Table(tuple(f.name for f in hashed), codecs, tuple(c.decode for c in codecs))


@dataclass(frozen=True, kw_only=True)
class CameraStatus:
    """The shared part of a camera's status hash: what the ops list and the map show."""

    status: CameraState = field(metadata={"codec": STATE})
    since: str | None = _hash_field(TEXT)
    """RFC 3339 UTC: when the camera entered ``status``."""
    last_frame: str | None = _hash_field(TEXT)
    """RFC 3339 UTC of the newest decoded frame; None before the first."""
    fps: float | None = _hash_field(RATE)
    """Frames per second arriving from the camera."""
    worker: str | None = _hash_field(TEXT)
    """The edge worker that reads the camera."""
    reason: str | None = _hash_field(FREE_TEXT)
    """Why the camera is not online (offline, tamper or degradation detail)."""
    recording: RecordingState | None = field(default=None, metadata={"codec": RECORDING})
    """Recording health; None when the worker did not say (an older writer, no status)."""
    recording_reason: str | None = _hash_field(FREE_TEXT)
    """Why recording is failing or disabled."""
    recording_since: str | None = _hash_field(TEXT)
    """RFC 3339 UTC: when ``recording`` took its value."""
    last_segment: str | None = _hash_field(TEXT)
    """RFC 3339 UTC: when the newest segment was finished (moved into the layout)."""

    @classmethod
    def _hash_table(cls) -> _Table:
        return _table(cast(type, cls))  # cast: mypy does not see a class as Hashable

    @classmethod
    def hash_fields(cls) -> list[str]:
        """The hash fields this record is read from (for ``HMGET``)."""
        return list(cls._hash_table().names)

    def to_hash(self) -> dict[str, str]:
        """The record as the Redis hash stores it (every field as text)."""
        table = self._hash_table()
        return {name: codec.encode(getattr(self, name))
                for name, codec in zip(table.names, table.codecs, strict=True)}

    @classmethod
    def decode_values(cls, values: Sequence[Any]) -> dict[str, Any]:
        """The record's field values from raw hash values in :meth:`hash_fields` order (an
        ``HMGET`` reply); a missing field (None) takes its empty value."""
        table = cls._hash_table()
        # The dashboard decodes every camera per listing: a plain comprehension over
        # prepared decoders keeps that near the cost of hand-written code.
        out = {name: decode(raw)
               for name, decode, raw in zip(table.names, table.decoders, values, strict=True)}
        if out[STATE_FIELD] is CameraState.DEGRADED:
            reported = text(values[0])  # the state is every record's first field
            if not STATE.known(reported):
                out["reason"] = f"unknown status {reported!r} reported"
        return out

    @classmethod
    def decode_hash(cls, raw: Mapping[Any, Any]) -> dict[str, Any]:
        """The record's field values from a whole hash (an ``HGETALL`` reply, bytes or str
        keys); missing fields take their empty value."""
        values = {text(key): value for key, value in raw.items()}
        return cls.decode_values([values.get(name) for name in cls._hash_table().names])

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> Self:
        """The record from a hash (see :meth:`decode_hash`)."""
        return cls(**cls.decode_hash(raw))


@dataclass(frozen=True, kw_only=True)
class CameraStatusReport(CameraStatus):
    """The whole hash as the camera's edge worker writes it."""

    fps_processed: float | None = _hash_field(RATE)
    """Sampled frames per second handed to detection."""
    reconnects: int = _hash_field(COUNT, 0)
    dropped: int = _hash_field(COUNT, 0)
    """Sampled frames dropped because detection fell behind."""
    updated: str | None = _hash_field(TEXT)
    """RFC 3339 UTC of this write."""
    recorder_running: bool | None = _hash_field(FLAG)
    """Whether the recorder's ffmpeg runs now (a detail: health is ``recording``); None when
    the camera is not recorded here."""
    recorder_error: str | None = _hash_field(FREE_TEXT)
    """The failure ffmpeg reported since the last finished segment (masked)."""
    mode: WatchMode = field(default=WatchMode.FULL, metadata={"codec": WATCH_MODE})
    """Full rate or health mode now (a writer from before health mode reads as full)."""


def read_states(client: redis.Redis, camera_ids: Sequence[str]) -> list[CameraState | None]:
    """Each camera's state in one scripted read (None: no hash, its worker is silent).

    Raises ``redis.RedisError``.
    """
    keys = [names.camera_status_key(camera_id) for camera_id in camera_ids]
    return [parse_state(values[0]) for values in hmget_many(client, keys, [STATE_FIELD])]


def read_recording_states(client: redis.Redis,
                          camera_ids: Sequence[str]) -> list[RecordingState | None]:
    """Each camera's recording state in one pipelined round (None: none written).

    Raises ``redis.RedisError``.
    """
    pipe = client.pipeline(transaction=False)
    for camera_id in camera_ids:
        pipe.hget(names.camera_status_key(camera_id), RECORDING_FIELD)
    return [RECORDING.decode(raw) for raw in pipe.execute()] if camera_ids else []
