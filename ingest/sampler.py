"""Frame sampling down to the detect rate, and the bounded queue that drops instead of blocking.

The reader decodes every frame (``grab``) so the decoder never falls behind, and asks the
:class:`FrameSampler` whether to convert this one (``retrieve``) for detection. Frames then
go through a :class:`DropQueue`: when detection is slower than the camera, the oldest
waiting frame is dropped and counted, so the reader never waits on the detector.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class FrameSampler:
    """Decides which frames to keep so that about ``fps`` per second of stream time pass.

    Times are the frames' own timestamps (stream position, or a monotonic clock when the
    stream has none), so sampling works the same for a live camera and for a file read as
    fast as the CPU allows. A timestamp that jumps backwards (a reconnect, a looped file)
    or far ahead restarts the schedule instead of bursting or starving.
    """

    def __init__(self, fps: float) -> None:
        if fps <= 0:
            raise ValueError(f"sample fps must be positive, got {fps}")
        self.period = 1.0 / fps
        self._next: float | None = None

    def reset(self) -> None:
        """Forget the schedule (after a reconnect)."""
        self._next = None

    def due(self, ts: float) -> bool:
        """Whether the frame at ``ts`` (seconds) should be kept."""
        nxt = self._next
        # A quarter period of slack: a 15 fps source sampled at 5 fps keeps exactly every
        # third frame even when timestamps jitter by a few milliseconds.
        if nxt is None or ts < nxt - 2 * self.period or ts > nxt + 4 * self.period:
            self._next = ts + self.period
            return True
        if ts >= nxt - self.period / 4:
            self._next = nxt + self.period
            return True
        return False


@dataclass
class QueueStats:
    """Counters of a drop queue."""

    put: int = 0
    dropped: int = 0


class DropQueue(Generic[T]):
    """A bounded FIFO whose ``put`` never blocks: when full it drops the oldest item."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("queue size must be at least 1")
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._cond = threading.Condition()
        self._closed = False
        self.stats = QueueStats()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, item: T) -> bool:
        """Add an item; return False when an older item had to be dropped for it."""
        with self._cond:
            dropped = False
            if len(self._items) >= self._maxsize:
                self._items.popleft()
                self.stats.dropped += 1
                dropped = True
            self._items.append(item)
            self.stats.put += 1
            self._cond.notify()
            return not dropped

    def get(self, timeout: float | None = None) -> T | None:
        """The oldest item, waiting up to ``timeout``; None on timeout or once closed."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if self._items:
                return self._items.popleft()
            return None

    def close(self) -> None:
        """Wake every waiting ``get``; later gets return what is left, then None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
