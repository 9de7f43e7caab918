"""Timezone-aware UTC time helpers; naive datetimes are refused at the edges.

:func:`parse_rfc3339` is the one parser of times that come from outside (API parameters,
MQTT payloads, stream entries): it refuses a missing offset and any instant outside
:data:`EARLIEST` .. :data:`LATEST` with :class:`TimestampError` (a ``ValueError``), so an
extreme value such as ``0001-01-01T00:00:00+14:00`` is a clear refusal, never an
``OverflowError`` deeper down.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
"""The instants compoundeye accepts from outside: 2000-01-01 (inclusive) to 2100-01-01."""
MAX_TIMESTAMP_CHARS = 64


class TimestampError(ValueError):
    """A time that is malformed, has no UTC offset, or is out of range; says which."""


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def to_rfc3339(moment: datetime) -> str:
    """Format as RFC 3339 UTC with milliseconds, e.g. ``2026-11-28T01:02:03.456Z``."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: compoundeye keeps every time zone-aware")
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def check_range(moment: datetime) -> datetime:
    """``moment`` in UTC if it is aware and within range, else :class:`TimestampError`."""
    if moment.tzinfo is None:
        raise TimestampError("timestamp has no UTC offset")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise TimestampError("timestamp out of range (2000..2100 UTC)") from None
    if not EARLIEST <= utc < LATEST:
        raise TimestampError("timestamp out of range (2000..2100 UTC)")
    return utc


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp that carries an offset (``Z`` or ``+hh:mm``) into UTC.

    Raises :class:`TimestampError` naming what is wrong (the text is quoted only when short).
    """
    if len(text) > MAX_TIMESTAMP_CHARS:
        raise TimestampError(f"timestamp longer than {MAX_TIMESTAMP_CHARS} characters")
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise TimestampError(f"not an RFC 3339 time: {text!r}") from None
    if moment.tzinfo is None:
        raise TimestampError(f"timestamp {text!r} is not RFC 3339: it has no UTC offset")
    return check_range(moment)


def from_epoch(seconds: float) -> datetime:
    """An aware UTC datetime from seconds since the epoch (our own clocks: frame and sample
    times; an outside epoch value goes through :func:`check_range` as well)."""
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise TimestampError(f"epoch time out of range: {seconds}") from None


def _validate(value: Any) -> datetime:
    if isinstance(value, str):
        return parse_rfc3339(value)
    if isinstance(value, datetime):
        return check_range(value)
    raise TimestampError("expected an RFC 3339 time with a UTC offset")


UtcTimestamp = Annotated[datetime, BeforeValidator(_validate)]
"""A pydantic field type: a time read by :func:`parse_rfc3339` (or checked by
:func:`check_range`), so models refuse extreme values with a reason instead of failing
later."""
