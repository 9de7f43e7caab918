"""What retention needs to know of legal holds, without the SQL store's weight: the held
windows per camera, and a reader that opens the store only when first asked (an edge
worker that never has to delete anything never loads SQLAlchemy)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol


class _Hold(Protocol):
    @property
    def camera_ids(self) -> tuple[str, ...]: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def active(self) -> bool: ...


@dataclass(frozen=True)
class HeldWindows:
    """The active holds' windows per camera, for retention's per-segment question."""

    windows: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    margin: timedelta = timedelta(seconds=20)
    """A segment is known by its start only; one starting this long before a window may
    still run into it (two nominal segment lengths)."""

    @classmethod
    def of(cls, holds: Iterable[_Hold], *, margin: timedelta = timedelta(seconds=20)
           ) -> HeldWindows:
        windows: dict[str, list[tuple[datetime, datetime]]] = {}
        for hold in holds:
            if hold.active:
                for camera_id in hold.camera_ids:
                    windows.setdefault(camera_id, []).append((hold.start, hold.end))
        return cls(windows, margin)

    def held(self, camera_id: str, segment_start: datetime) -> bool:
        """Whether the segment of ``camera_id`` starting at ``segment_start`` overlaps a hold."""
        for start, end in self.windows.get(camera_id, ()):
            if start - self.margin < segment_start < end:
                return True
        return False

    def __bool__(self) -> bool:
        return bool(self.windows)


class HoldReader:
    """The active holds of some cameras, read from the store of ``url`` (opened at first
    use, reopened after a failure): what an edge worker's retention asks each pass."""

    def __init__(self, url: str, *, margin: timedelta = timedelta(seconds=20),
                 **engine_kwargs: Any) -> None:
        self.url = url
        self.margin = margin
        self._engine_kwargs = engine_kwargs
        self._store: Any = None

    def __call__(self, camera_ids: list[str]) -> HeldWindows:
        from compoundeye.store.store import Store

        if self._store is None:
            self._store = Store(self.url, **self._engine_kwargs)
        try:
            windows: HeldWindows = self._store.holds.held_windows(camera_ids, margin=self.margin)
        except Exception:
            self.close()
            raise
        return windows

    def close(self) -> None:
        if self._store is not None:
            store, self._store = self._store, None
            store.close()
