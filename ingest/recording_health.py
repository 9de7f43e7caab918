"""Recording health of one camera, read from finished segments.

A camera that should record is ``ok`` while a segment finished (moved into the layout) in
the last ``2 x segment_seconds + grace`` seconds, ``starting`` before its first one is
due, and ``failing`` once none has finished for that long; ``disabled`` when the site
says ``record: false`` or the worker runs with ``--no-record``. Whether ffmpeg is running
does not enter into it: an ffmpeg that runs but writes nothing (a camera sending
B-frames the muxer refuses, a full disk) is failing too.

:class:`RecordingHealth` is pure logic over the recorder's counters (clock passed in). It
says when ``camera.recording_failed`` (once per failure, with the reason) and
``camera.recording_ok`` (when a failing camera finishes a segment again) are due. A
``failing`` state left in Redis by an earlier run counts as announced, so a restart
neither repeats the failure nor forgets to announce the recovery.
"""

from __future__ import annotations

from dataclasses import dataclass

from compoundeye.camera_status import RecordingState
from compoundeye.events import EventKind
from compoundeye.redact import redact_text

NOT_RECORDED_HERE = "recording is off on this edge worker (--no-record)"
RECORD_FALSE = "record: false in the site file"


@dataclass(frozen=True)
class RecorderReading:
    """What the recorder says at time ``t`` (epoch seconds)."""

    t: float
    segments: int
    """Segments finished since the recorder started."""
    last_segment: float | None
    """Epoch seconds of the newest finished segment."""
    last_error: str = ""
    """The failure ffmpeg reported since the last finished segment."""


@dataclass(frozen=True)
class RecordingTransition:
    """A change to announce: ``camera.recording_failed`` or ``camera.recording_ok``."""

    kind: EventKind
    t: float
    reason: str


class RecordingHealth:
    """Recording state machine of one camera, fed with periodic recorder readings."""

    def __init__(self, segment_seconds: float, grace_seconds: float, started: float, *,
                 disabled_reason: str = "",
                 previous: RecordingState | None = None) -> None:
        self.allowed_silence = 2 * segment_seconds + grace_seconds
        self.started = started
        self.disabled_reason = disabled_reason
        self.state = RecordingState.DISABLED if disabled_reason else RecordingState.STARTING
        self.since = started
        self.reason = disabled_reason
        self.last_segment: float | None = None
        self._failing_announced = previous is RecordingState.FAILING

    @property
    def enabled(self) -> bool:
        return not self.disabled_reason

    def observe(self, reading: RecorderReading) -> RecordingTransition | None:
        """Update from a reading; return the transition to announce, if any."""
        if not self.enabled:
            return None
        if reading.last_segment is not None:
            self.last_segment = reading.last_segment
        reference = self.last_segment if self.last_segment is not None else self.started
        silent = reading.t - reference
        if silent <= self.allowed_silence:
            state = RecordingState.OK if self.last_segment is not None else RecordingState.STARTING
            reason = ""
        else:
            state = RecordingState.FAILING
            what = ("no segment finished since the recorder started" if self.last_segment is None
                    else "no segment finished")
            detail = f"{what} ({silent:.0f} s)"
            reason = redact_text(f"{reading.last_error}: {detail}" if reading.last_error
                                 else detail)
        if state is not self.state:
            self.state, self.since = state, reading.t
        self.reason = reason
        if state is RecordingState.FAILING and not self._failing_announced:
            self._failing_announced = True
            return RecordingTransition(EventKind.CAMERA_RECORDING_FAILED, reading.t, reason)
        if state is RecordingState.OK and self._failing_announced:
            self._failing_announced = False
            return RecordingTransition(EventKind.CAMERA_RECORDING_OK, reading.t, "")
        return None
