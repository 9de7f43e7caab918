"""Checks on hostile input shared by the routes: ids, windows, stream ids, paths."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from fastapi import HTTPException

from compoundeye.site.models import ID_PATTERN

ID_RE_TEXT = ID_PATTERN
STREAM_ID_RE = re.compile(r"^\d{1,20}-\d{1,20}$")
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def check_window(start: datetime, end: datetime, *, max_days: float) -> None:
    """Raise 400 unless ``start < end``, both in 2000..2100, and the span is bounded."""
    for label, value in (("start", start), ("end", end)):
        if value.tzinfo is None:
            raise HTTPException(400, detail=f"{label} needs a UTC offset")
        if not EARLIEST <= value <= LATEST:
            raise HTTPException(400, detail=f"{label} must be between 2000 and 2100")
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
