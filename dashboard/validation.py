"""Checks on hostile input shared by the routes: ids, windows, stream ids, paths."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import HTTPException, Query

from compoundeye.site.models import ID_PATTERN
from compoundeye.timeutil import EARLIEST, LATEST, TimestampError, check_range, parse_rfc3339

ID_RE_TEXT = ID_PATTERN
STREAM_ID_RE = re.compile(r"^\d{1,20}-\d{1,20}$")
REDIS_ID_MAX = 2**64 - 1
"""Each half of a Redis stream id is an unsigned 64-bit number."""
TIME_HELP = "RFC 3339 with a UTC offset, between 2000 and 2100"

__all__ = ["EARLIEST", "LATEST"]

TimeQuery = Annotated[str | None, Query(max_length=64, description=TIME_HELP)]
"""An optional time query parameter, read by :func:`query_time`."""
RequiredTimeQuery = Annotated[str, Query(max_length=64, description=TIME_HELP)]


def query_time(value: str | None, label: str) -> datetime | None:
    """A time parameter read by the kernel's one parser; 400 with the reason if it is bad."""
    if value is None:
        return None
    try:
        return parse_rfc3339(value)
    except TimestampError as exc:
        raise HTTPException(400, detail=f"{label}: {exc}") from None


def required_time(value: str, label: str) -> datetime:
    """Like :func:`query_time` for a parameter that must be there."""
    moment = query_time(value, label)
    assert moment is not None
    return moment


def check_stream_id(value: str) -> str:
    """``value`` if it is a stream id Redis can take (``ms-seq``, each part < 2**64), else
    400: an id beyond Redis's range made the alert stream retry for ever."""
    if not STREAM_ID_RE.fullmatch(value) or any(int(part) > REDIS_ID_MAX
                                                 for part in value.split("-")):
        raise HTTPException(400, detail="Last-Event-ID/after must be a stream id like 1700-0 "
                                        "(each part below 2**64)")
    return value


def check_window(start: datetime, end: datetime, *, max_days: float) -> None:
    """Raise 400 unless ``start < end``, both in 2000..2100, and the span is bounded."""
    for label, value in (("start", start), ("end", end)):
        try:
            check_range(value)
        except TimestampError as exc:
            raise HTTPException(400, detail=f"{label}: {exc}") from None
    if end <= start:
        raise HTTPException(400, detail="end must be after start")
    if (end - start).total_seconds() > max_days * 86400:
        raise HTTPException(400, detail=f"window longer than {max_days:g} days")


def safe_child(root: Path, relative: str) -> Path | None:
    """``root/relative`` if it stays inside ``root`` (no absolute paths, no ``..``)."""
    if not relative or "\x00" in relative or len(relative) > 1024:
        return None
    base = root.resolve()
    candidate = Path(relative)
    # Stored snapshot paths may be absolute; they are accepted only inside root.
    resolved = (candidate if candidate.is_absolute() else base / candidate).resolve()
    if not resolved.is_relative_to(base) or resolved == base:
        return None
    return resolved
