"""Door controller payloads: the native JSON and the esp-rfid firmware's, as door events.

A payload is turned into a :class:`Decoded` (one event kind with its attributes, or a
heartbeat) or refused with :class:`PayloadError`, whose message is the dead-letter reason.
Nothing here does I/O.

esp-rfid (github.com/esprfid/esp-rfid) publishes JSON on ``<its topic>/send``:
``{"type": "access", "time": <epoch s>, "isKnown": "true"|"false", "access": "Admin"|
"Always"|"Disabled"|"Expired"|..., "username", "uid", "door": <hostname>}`` for a card,
``{"type": "heartbeat"|"boot", "time", "uptime", "ip", "hostname"}`` for liveness, and
event-log records ``{"type": "INFO"|"WARN"|"ERRO", "src", "desc", "data", "time"}`` of
which the door ones matter: ``door``/``Door Open``, ``door``/``Door Closed``,
``tamper``/``Door was tampered!`` (opened while the lock was shut: forced) and
``tamper``/``Door wasn't closed within max open time!`` (held open).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from compoundeye import door_signing
from compoundeye.events import EventKind
from compoundeye.timeutil import TimestampError, check_range, from_epoch, parse_rfc3339

NATIVE_KINDS: dict[str, EventKind | None] = {
    "granted": EventKind.DOOR_GRANTED,
    "denied": EventKind.DOOR_DENIED,
    "opened": EventKind.DOOR_OPENED,
    "closed": EventKind.DOOR_CLOSED,
    "forced": EventKind.DOOR_FORCED,
    "held": EventKind.DOOR_HELD,
    "tamper": EventKind.DOOR_TAMPER,
    "heartbeat": None,
}
ESP_GRANTED_ACCESS = frozenset({"admin", "always"})
ESP_DOOR_EVENTS: dict[tuple[str, str], EventKind] = {
    ("door", "door open"): EventKind.DOOR_OPENED,
    ("door", "door closed"): EventKind.DOOR_CLOSED,
    ("tamper", "door was tampered!"): EventKind.DOOR_FORCED,
    ("tamper", "door wasn't closed within max open time!"): EventKind.DOOR_HELD,
}
MAX_FUTURE = timedelta(hours=1)
MAX_PAST = timedelta(days=8)
MIN_VALID_EPOCH = 1_000_000_000
"""esp-rfid sends small epoch values before NTP sync; those get the receive time."""


class PayloadError(ValueError):
    """A payload that cannot become a door event; the message is the dead-letter reason."""


@dataclass(frozen=True)
class Decoded:
    """What a payload says: an event kind (None for a heartbeat) and its attributes."""

    kind: EventKind | None
    ts: datetime
    ts_given: bool
    attrs: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None
    fmt: Literal["native", "esp-rfid"] = "native"

    @property
    def heartbeat(self) -> bool:
        return self.kind is None

    @property
    def content_digest(self) -> str:
        """A digest of what the message says (kind, given time, attributes), so a
        redelivery folds into the same event id while a different message that reuses a
        controller's ``seq`` does not (whatever its key order or time spelling)."""
        said = {"kind": self.kind.value if self.kind else None,
                "ts": self.ts.isoformat() if self.ts_given else None, "attrs": self.attrs}
        canonical = json.dumps(said, sort_keys=True, separators=(",", ":"), default=str)
        return payload_digest(canonical.encode("utf-8"))


class NativePayload(BaseModel):
    """The native door controller message of DESIGN.md (strict types, no unknown keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: Literal["granted", "denied", "opened", "closed", "forced", "held", "tamper",
                   "heartbeat"]
    ts: StrictStr | None = Field(default=None, max_length=64)
    credential: StrictStr | None = Field(default=None, max_length=128)
    reason: StrictStr | None = Field(default=None, max_length=256)
    seq: StrictInt | None = Field(default=None, ge=0, le=2**63 - 1)


class EspRfidPayload(BaseModel):
    """An esp-rfid message; only the fields we use are typed, the rest are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: StrictStr = Field(max_length=32)
    time: StrictInt | None = None
    isKnown: StrictStr | None = Field(default=None, max_length=8)  # noqa: N815 (firmware name)
    access: StrictStr | None = Field(default=None, max_length=64)
    username: StrictStr | None = Field(default=None, max_length=128)
    uid: StrictStr | None = Field(default=None, max_length=128)
    door: StrictStr | None = Field(default=None, max_length=128)
    hostname: StrictStr | None = Field(default=None, max_length=128)
    src: StrictStr | None = Field(default=None, max_length=64)
    desc: StrictStr | None = Field(default=None, max_length=256)


def payload_digest(payload: bytes) -> str:
    """A short digest of the raw payload, part of the event id when there is no seq."""
    return hashlib.blake2b(payload, digest_size=10).hexdigest()


def _validation_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "payload"
        parts.append(f"{where}: {err['msg']}")
    return "invalid payload: " + "; ".join(parts)


def _check_time(ts: datetime, now: datetime) -> datetime:
    if ts > now + MAX_FUTURE:
        raise PayloadError(f"timestamp {ts.isoformat()} is more than {MAX_FUTURE} in the future")
    if ts < now - MAX_PAST:
        raise PayloadError(f"timestamp {ts.isoformat()} is older than {MAX_PAST.days} days")
    return ts


def parse_json(payload: bytes) -> dict[str, Any]:
    """The payload as a JSON object, or :class:`PayloadError` saying what is wrong."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"not UTF-8 text (byte {exc.start})") from None
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise PayloadError(f"malformed JSON: {exc}"[:300]) from None
    if not isinstance(value, dict):
        raise PayloadError(f"payload must be a JSON object, not {type(value).__name__}")
    return value


def decode_native(data: dict[str, Any], now: datetime) -> Decoded:
    """A native payload as a door event."""
    try:
        msg = NativePayload.model_validate(data)
    except ValidationError as exc:
        raise PayloadError(_validation_reason(exc)) from None
    ts, given = now, False
    if msg.ts is not None:
        try:
            ts = parse_rfc3339(msg.ts)
        except TimestampError as exc:
            raise PayloadError(f"ts: {exc}") from None
        ts, given = _check_time(ts, now), True
    attrs: dict[str, Any] = {"format": "native"}
    if msg.credential is not None:
        attrs["credential"] = msg.credential
    if msg.reason is not None:
        attrs["reason"] = msg.reason
    if msg.seq is not None:
        attrs["seq"] = msg.seq
    return Decoded(NATIVE_KINDS[msg.event], ts, given, attrs, msg.seq, "native")


def decode_esp_rfid(data: dict[str, Any], now: datetime) -> Decoded:
    """An esp-rfid payload as a door event (or :class:`PayloadError` for other messages)."""
    try:
        msg = EspRfidPayload.model_validate(data)
    except ValidationError as exc:
        raise PayloadError("esp-rfid " + _validation_reason(exc)) from None
    ts, given = now, False
    if msg.time is not None and msg.time >= MIN_VALID_EPOCH:
        try:
            ts = check_range(from_epoch(msg.time))
        except TimestampError:
            raise PayloadError(f"esp-rfid time out of range: {msg.time}") from None
        ts, given = _check_time(ts, now), True
    kind_name = msg.type.lower()
    attrs: dict[str, Any] = {"format": "esp-rfid"}
    controller = msg.door or msg.hostname
    if controller:
        attrs["controller"] = controller
    if kind_name in ("heartbeat", "boot"):
        return Decoded(None, ts, given, attrs, None, "esp-rfid")
    if kind_name == "access":
        if msg.isKnown is None or msg.access is None:
            raise PayloadError("esp-rfid access message without isKnown or access")
        known = msg.isKnown.lower() == "true"
        granted = known and msg.access.lower() in ESP_GRANTED_ACCESS
        if msg.uid:
            attrs["credential"] = msg.uid.strip()
        if msg.username:
            attrs["username"] = msg.username
        attrs["access"] = msg.access
        if not granted:
            attrs["reason"] = "unknown card" if not known else msg.access.lower()
        kind = EventKind.DOOR_GRANTED if granted else EventKind.DOOR_DENIED
        return Decoded(kind, ts, given, attrs, None, "esp-rfid")
    if kind_name in ("info", "warn", "erro", "error") and msg.src and msg.desc:
        door_kind = ESP_DOOR_EVENTS.get((msg.src.lower(), msg.desc.strip().lower()))
        if door_kind is not None:
            attrs["desc"] = msg.desc
            return Decoded(door_kind, ts, given, attrs, None, "esp-rfid")
        raise PayloadError(f"esp-rfid log record not about the door: {msg.src}/{msg.desc}"[:300])
    raise PayloadError(f"esp-rfid message type {msg.type!r} is not a door event")


def _check_signature(data: dict[str, Any], door_id: str, key: bytes | None) -> dict[str, Any]:
    """The native payload inside a signed envelope (or ``data`` itself when the door does
    not sign); :class:`PayloadError` for a missing or bad signature where one is required."""
    signed = door_signing.is_envelope(data)
    if key is None:
        if signed:
            raise PayloadError(f"signed message, but no key for door {door_id!r} to check it")
        return data
    if not signed:
        raise PayloadError(f"missing signature: door {door_id!r} must sign its messages")
    inner = door_signing.verify(key, door_id, data)
    if inner is None:
        raise PayloadError(f"bad signature for door {door_id!r}")
    native = parse_json(inner)
    if "event" not in native:
        raise PayloadError("signed payload is not a native door message (no 'event')")
    return native


def decode(payload: bytes, now: datetime, max_bytes: int, *, door_id: str = "",
           key: bytes | None = None) -> Decoded:
    """Validate and decode one MQTT payload (either format; signed when ``key`` is given)."""
    if len(payload) > max_bytes:
        raise PayloadError(f"payload of {len(payload)} bytes exceeds the {max_bytes} byte limit")
    if not payload:
        raise PayloadError("empty payload")
    data = _check_signature(parse_json(payload), door_id, key)
    if "event" in data:
        return decode_native(data, now)
    if "type" in data:
        return decode_esp_rfid(data, now)
    raise PayloadError("neither a native door message (no 'event') nor esp-rfid (no 'type')")
