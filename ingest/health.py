"""Health mode: which keyframes are worth decoding, and what a decoded one is checked for.

A camera in health mode (``detect_mode``: ``health``, or ``armed`` outside its armed
schedules) is read packet by packet (:class:`ingest.packet_reader.PacketReader`) and only
some keyframes are decoded: demuxing a stream costs about a hundredth of decoding it, and
decoding every keyframe of a 2 s GOP still costs a seventh (keyframes carry a large share
of the bits). :class:`KeyframeGate` chooses: one keyframe per
``keyframe_interval_seconds`` of stream time, and the next one at once when a check
waits for confirmation (a tamper condition starting or clearing, or the view still being
learned) or when the predicted frames of the GOP just received carried far more or far
fewer bytes than usual (a frozen picture leaves the encoder nothing new to say, a moved
view or a scene change costs it a burst). Keyframes are left out of that sum: rate
control spends on them whatever the scene (a frozen picture's keyframes even grow), so
the GOP total moves by a factor of about 2 where its predicted frames move by 5 (the tamper
clip at 700 kbit/s). Liveness comes from the packets themselves, so offline is told
without decoding anything.

:class:`HealthChecks` is the detection side: every decoded keyframe goes to the camera's
tamper checks and to a coarse motion measure (how much of the picture changed since the
previous decoded keyframe), which feeds the camera's motion metric; no motion events come
from health mode (no zone is armed then, by definition).
"""

from __future__ import annotations

from dataclasses import dataclass

from detectors.base import Frame, TamperDetector, TamperFinding
from detectors.coarse import CoarseMotion
from detectors.tamper import for_keyframes

GOP_ALPHA = 0.1
"""Weight of the newest GOP in the running GOP size."""
GOP_WARMUP = 4
"""GOPs seen before the size check is trusted."""
SLACK = 0.25
"""A keyframe a quarter of a GOP early still counts as due: keyframe times jitter, and a
1.33 s GOP against a 4 s interval would otherwise decode every fourth keyframe, not every
third."""


@dataclass
class GateStats:
    """Why keyframes were decoded (for metrics and the benchmark)."""

    keyframes: int = 0
    decoded: int = 0
    by_interval: int = 0
    by_confirmation: int = 0
    by_bitrate: int = 0


class KeyframeGate:
    """Decides, keyframe by keyframe, whether a health-mode reader decodes it.

    Feed it every packet's size (:meth:`packet`) and ask at every keyframe (:meth:`due`)
    with the keyframe's stream time. Pure logic, no clock of its own.
    """

    def __init__(self, interval: float, bitrate_change: float = 2.0) -> None:
        if interval <= 0:
            raise ValueError("the keyframe interval must be positive")
        if bitrate_change <= 1:
            raise ValueError("the bit-rate change factor must be above 1")
        self.interval = interval
        self.bitrate_change = bitrate_change
        self.stats = GateStats()
        self._last_decoded: float | None = None
        self._last_key: float | None = None
        self._gop_bytes = 0
        self._gop_level: float | None = None
        self._gops = 0

    def reset(self) -> None:
        """Forget the schedule and the bit-rate level (a reconnect, a mode switch)."""
        self._last_decoded = self._last_key = None
        self._gop_bytes = 0
        self._gop_level = None
        self._gops = 0

    def packet(self, size: int, key: bool = False) -> None:
        """Count a predicted frame's bytes into the GOP being received (keyframes apart)."""
        if not key:
            self._gop_bytes += size

    def due(self, ts: float, urgent: bool = False) -> bool:
        """At a keyframe: decode it? (The predicted frames before it close a GOP.)

        ``urgent``: a check waits for confirmation; decode this one whatever the interval.
        """
        self.stats.keyframes += 1
        changed = self._gop_changed()
        last, gap = self._last_decoded, None
        if last is not None and ts >= last:
            gap = ts - last
        step = self._gop_seconds(ts)
        self._last_key = ts
        reason = ""
        if gap is None or gap + SLACK * step >= self.interval:
            reason = "interval"
        elif urgent:
            reason = "confirmation"
        elif changed:
            reason = "bitrate"
        if not reason:
            return False
        self._last_decoded = ts
        self.stats.decoded += 1
        if reason == "interval":
            self.stats.by_interval += 1
        elif reason == "confirmation":
            self.stats.by_confirmation += 1
        else:
            self.stats.by_bitrate += 1
        return True

    def _gop_seconds(self, ts: float) -> float:
        if self._last_key is None or ts <= self._last_key:
            return 0.0
        return ts - self._last_key

    def _gop_changed(self) -> bool:
        """Whether the GOP that just ended was far off the running level (then fold it in)."""
        size = self._gop_bytes
        self._gop_bytes = 0
        if self._last_key is None or size <= 0:
            return False  # the first keyframe: nothing before it to judge
        level = self._gop_level
        self._gops += 1
        changed = False
        if level is not None and self._gops > GOP_WARMUP:
            factor = self.bitrate_change
            changed = size > factor * level or size * factor < level
        self._gop_level = size if level is None else level + GOP_ALPHA * (size - level)
        return changed


@dataclass(frozen=True)
class HealthResult:
    """What one decoded keyframe showed."""

    findings: list[TamperFinding]
    motion_fraction: float | None
    """Share of the picture changed since the previous decoded keyframe (None: first)."""
    unsettled: bool
    """A check waits for confirmation: the next keyframe should be decoded too."""


class HealthChecks:
    """Tamper checks and coarse motion on the keyframes a health-mode reader decodes."""

    def __init__(self, tamper: TamperDetector, motion: CoarseMotion | None = None) -> None:
        self.tamper = tamper
        self.motion = motion or CoarseMotion()
        # The tamper detector is the camera's one instance in both modes (its learned view
        # carries over); only its thresholds for keyframe pictures differ.
        config = getattr(tamper, "config", None)
        self._full_config = config
        self._keyframe_config = for_keyframes(config) if config is not None else None

    def enter(self) -> None:
        """Health mode starts: keyframe thresholds, no previous keyframe."""
        self.motion.reset()
        if self._keyframe_config is not None:
            self.tamper.config = self._keyframe_config  # type: ignore[attr-defined]

    def leave(self) -> None:
        """Back to full rate: the full-rate thresholds."""
        if self._full_config is not None:
            self.tamper.config = self._full_config  # type: ignore[attr-defined]

    def process(self, tamper_frame: Frame, motion_frame: Frame, ts: float) -> HealthResult:
        """Check one keyframe: ``tamper_frame`` full-range luma, ``motion_frame`` any luma."""
        findings = self.tamper.update(tamper_frame, ts)
        fraction = self.motion.update(motion_frame)
        unsettled = bool(getattr(self.tamper, "unsettled", False))
        return HealthResult(findings, fraction, unsettled)
