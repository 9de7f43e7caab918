"""Wall-clock start times for the segments of one ffmpeg run.

ffmpeg's own file-name clock (``-strftime``) is the wall time at which it *opens* a
segment file, and the first file of a run opens only after the input has been probed, with
seconds of already-buffered stream in front: named that way, a run's first segment starts
late and overlaps the next. The camera's timestamps are no better on their own: they
restart from zero when it reboots and jump with an NTP step.

So the recorder names segments from both. ffmpeg reports each finished segment on its
segment list (``name,start,end`` in stream seconds) the moment the next one begins, which
happens as the stream arrives: at that moment ``wall_now - end`` is the wall time of stream
time zero (the *anchor*), plus the delivery delay. The anchor is the smallest such value
over the last few segments (delivery delay only ever adds; a window lets it follow a camera
clock that drifts). A segment starts at ``anchor + start``.

A forward jump of the camera's clock shows as ``wall_now - end`` falling by more than
``jump_seconds`` (10 s) below the anchor; that segment then starts where the previous one
ended, and the anchor starts again from the new value. Smaller drops are taken as what they
usually are, an earlier report that came late (ffmpeg behind on a loaded machine, which
looks exactly like a small forward step): the smaller anchor simply wins, the segment
starts at ``anchor + start``, and the previous one is taken to end there. (A backward
jump makes ffmpeg clamp timestamps, so the recorder restarts ffmpeg instead; see
:mod:`ingest.recorder`.)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class SegmentClock:
    """Places one ffmpeg run's segments on the UTC wall clock (see the module doc)."""

    window: int = 6
    jump_seconds: float = 10.0
    jumps: int = 0
    last_jump_seconds: float = 0.0
    _anchors: deque[float] = field(default_factory=deque)
    _last_start: float | None = None
    _last_end: float | None = None

    @property
    def anchor(self) -> float | None:
        """Wall time (Unix seconds) of stream time zero, once a segment has finished."""
        return min(self._anchors) if self._anchors else None

    def place(self, stream_start: float, stream_end: float, wall_now: float) -> datetime:
        """The UTC start of a segment spanning ``[stream_start, stream_end)`` stream
        seconds that ffmpeg reported finished at ``wall_now``."""
        observed = wall_now - stream_end
        current = self.anchor
        jumped = current is not None and observed < current - self.jump_seconds
        if jumped:
            assert current is not None
            self.jumps += 1
            self.last_jump_seconds = current - observed
            self._anchors.clear()
        self._anchors.append(observed)
        while len(self._anchors) > self.window:
            self._anchors.popleft()
        anchor = min(self._anchors)
        # After a jump the segment starts where the previous one ended.
        start = self._last_end if jumped and self._last_end is not None else anchor + stream_start
        if self._last_start is not None:
            # Names have one-second resolution: keep them strictly increasing.
            start = max(start, self._last_start + 1.0)
        self._last_start = start
        self._last_end = max(start, anchor + stream_end)
        return datetime.fromtimestamp(start, UTC)

    @property
    def next_start(self) -> datetime | None:
        """Where the segment being written now starts (the last one's end), if known."""
        if self._last_end is None:
            return None
        return datetime.fromtimestamp(self._last_end, UTC)
