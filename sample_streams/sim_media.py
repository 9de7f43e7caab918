"""Media side of the RTSP camera simulator: clips as access units and the real-time feeder.

Runs under the SYSTEM python with GStreamer bindings (stdlib + gi only, no venv packages).

A clip file is parsed once at start-up into H.264 access units (byte-stream, SPS/PPS inline
before every IDR), kept in memory as GLib.Bytes and shared by every camera that shows the
clip. Serving a camera is then `appsrc ! rtph264pay`: no decoding, no re-encoding.

Time model: every camera is a live source on one simulator clock. Global frame g advances
at the clip rate from the simulator's epoch; camera c shows clip frame
(g + offset_frames[c]) mod frames, whoever is watching. A new viewer starts at the next
keyframe (so the first picture arrives within one GOP, 1.33 s). The first buffer is stamped
with the pipeline's running time and every later one exactly 1/fps after it, so timestamps
run on evenly across loops of the clip; a feed that stalls for over 2 s resynchronises on
the next keyframe instead of bursting.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import (  # noqa: E402
    GLib,
    Gst,
    GstApp,  # noqa: F401  (gives appsrc elements push_buffer)
)

log = logging.getLogger("rtsp_sim.media")

MAX_CATCH_UP = 30  # frames pushed in one tick after a stall before skipping to the next keyframe


@dataclass
class Clip:
    """One stream of one clip (e.g. people/sub) as in-memory access units."""

    name: str
    caps: str
    fps: int
    units: list[Any]  # GLib.Bytes, one access unit each
    keyframes: list[bool]
    codec: str = "h264"
    pts_offsets: list[int] | None = None  # ns after the decode time (B-frames), per unit

    @property
    def frames(self) -> int:
        return len(self.units)

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps


def load_clip(name: str, path: Path, fps: int, codec: str = "h264") -> Clip:
    """Parse an MP4 (or TS) H.264 or H.265 file into byte-stream access units.

    Decode order is kept; for a stream with B-frames each unit's presentation offset from
    its decode time is kept too (``pts_offsets``), so the feeder stamps both.
    """
    if '"' in str(path):
        raise ValueError(f"unsupported character in clip path {path}")
    if codec not in ("h264", "h265"):
        raise ValueError(f"unsupported codec {codec!r}")
    demux = "tsdemux" if path.suffix == ".ts" else "qtdemux"
    pipeline = Gst.parse_launch(
        f'filesrc location="{path}" ! {demux} ! {codec}parse config-interval=-1 ! '
        f"video/x-{codec},stream-format=byte-stream,alignment=au ! appsink name=sink sync=false"
    )
    sink = pipeline.get_by_name("sink")
    units: list[Any] = []
    keys: list[bool] = []
    offsets: list[int] = []
    caps = ""
    pipeline.set_state(Gst.State.PLAYING)
    try:
        while True:
            sample = sink.emit("try-pull-sample", 10 * Gst.SECOND)
            if sample is None:
                break
            buf = sample.get_buffer()
            ok, info = buf.map(Gst.MapFlags.READ)
            if not ok:
                raise RuntimeError(f"cannot map buffer of {path}")
            try:
                units.append(GLib.Bytes.new(bytes(info.data)))
            finally:
                buf.unmap(info)
            keys.append(not buf.has_flags(Gst.BufferFlags.DELTA_UNIT))
            valid = Gst.CLOCK_TIME_NONE not in (buf.pts, buf.dts)
            offsets.append(buf.pts - buf.dts if valid else 0)
            if not caps:
                caps = sample.get_caps().to_string()
        bus = pipeline.get_bus()
        err = bus.pop_filtered(Gst.MessageType.ERROR)
        if err is not None:
            raise RuntimeError(f"cannot read {path}: {err.parse_error()[0].message}")
    finally:
        pipeline.set_state(Gst.State.NULL)
    if not units or not keys[0]:
        raise RuntimeError(f"{path}: no {codec} access units (or no keyframe first)")
    # Stream time comes from the simulator clock, not the file: drop timing fields from caps.
    structure = Gst.Caps.from_string(caps).get_structure(0)
    keep = ["stream-format", "alignment", "width", "height", "profile", "level", "tier"]
    fields = [f"{k}={structure.get_value(k)}" for k in keep if structure.has_field(k)]
    caps = ",".join([f"video/x-{codec}", *fields, f"framerate={fps}/1"])
    shift = -min(offsets)
    reorder = [o + shift for o in offsets] if any(offsets) else None
    return Clip(name=name, caps=caps, fps=fps, units=units, keyframes=keys, codec=codec,
                pts_offsets=reorder)


def splice_clip(first: Clip, second: Clip) -> Clip:
    """The first half of ``first`` then the second half of ``second`` (cut on a keyframe):
    a stream whose resolution changes mid-way (and back when it loops)."""
    cut = next(i for i in range(first.frames // 2, first.frames) if second.keyframes[i])
    structure = Gst.Caps.from_string(first.caps).get_structure(0)
    keep = ["stream-format", "alignment", "profile", "level"]
    fields = [f"{k}={structure.get_value(k)}" for k in keep if structure.has_field(k)]
    caps = ",".join([f"video/x-{first.codec}", *fields, f"framerate={first.fps}/1"])
    return Clip(name=f"{first.name}-resize", caps=caps, fps=first.fps,
                units=first.units[:cut] + second.units[cut:],
                keyframes=first.keyframes[:cut] + second.keyframes[cut:], codec=first.codec)


def _nal_spans(data: bytes) -> list[tuple[int, int, int]]:
    """(payload start, end, nal type) for each NAL unit of an Annex-B access unit."""
    starts = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i + 3)
        i = data.find(b"\x00\x00\x01", i + 3)
    spans = []
    for n, start in enumerate(starts):
        end = starts[n + 1] - 3 if n + 1 < len(starts) else len(data)
        while end > start and data[end - 1] == 0:
            end -= 1
        if end > start:
            spans.append((start, end, data[start] & 0x1F))
    return spans


def corrupt_clip(clip: Clip, seed: int = 1234, rate: float = 0.02) -> Clip:
    """A copy of clip whose slice data has bytes overwritten with garbage.

    SPS/PPS stay intact so clients can connect and set up a decoder; then the slices fail
    to decode (errors, concealment), and every tenth unit is replaced by pure noise.
    """
    rng = random.Random(seed)
    units = []
    for index, unit in enumerate(clip.units):
        data = bytearray(unit.get_data())
        for start, end, nal_type in _nal_spans(bytes(data)):
            if nal_type not in (1, 5) or end - start < 16:
                continue
            for _ in range(max(2, int((end - start) * rate))):
                data[rng.randrange(start + 4, end)] = rng.randrange(1, 256)
        if index % 10 == 5:
            noise = bytes(rng.randrange(1, 256) for _ in range(len(data) // 2 + 8))
            data = bytearray(b"\x00\x00\x00\x01\x41" + noise)  # a "P slice" of noise
        units.append(GLib.Bytes.new(bytes(data)))
    return Clip(
        name=f"{clip.name}-corrupt",
        caps=clip.caps,
        fps=clip.fps,
        units=units,
        keyframes=clip.keyframes,
    )


@dataclass
class Feed:
    """One active appsrc (one shared media of one mount) that the feeder pushes into."""

    key: str  # mount path
    camera: str
    clip: Clip
    offset_frames: int
    appsrc: Any  # GstApp.AppSrc
    next_g: int | None = None  # next global frame to push; None until a keyframe comes round
    start_g: int = 0  # global frame of the first push since (re)synchronising
    start_pts: int = 0  # its running time: later frames are stamped exactly 1/fps apart
    pushed: int = 0
    behaviour: str | None = None  # "reboot" (timestamps restart from 0) or "stall"
    reboot_every_frames: int = 0


@dataclass
class Feeder:
    """Pushes every active camera's frames in real time from one thread.

    One thread for all cameras: at each tick it works out the current global frame and
    pushes, into each active appsrc, the frames it has not had yet. Buffers wrap the shared
    GLib.Bytes, so a push costs no copy.
    """

    fps: int
    epoch: float = field(default_factory=time.monotonic)
    _feeds: dict[int, Feed] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    paused: set[str] = field(default_factory=set)  # cameras off the air

    def global_frame(self, now: float | None = None) -> int:
        return int(((time.monotonic() if now is None else now) - self.epoch) * self.fps)

    def add(self, feed: Feed) -> int:
        with self._lock:
            token = id(feed)
            self._feeds[token] = feed
        log.debug("feed added %s (%s)", feed.key, feed.clip.name)
        return token

    def remove(self, token: int) -> None:
        with self._lock:
            feed = self._feeds.pop(token, None)
        if feed is not None:
            log.debug("feed removed %s after %d frames", feed.key, feed.pushed)

    def active(self) -> list[str]:
        with self._lock:
            return sorted(f.key for f in self._feeds.values())

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="feeder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def run(self) -> None:
        period = 1.0 / self.fps
        while True:
            now = time.monotonic()
            g = self.global_frame(now)
            with self._lock:
                feeds = list(self._feeds.values())
            for feed in feeds:
                if feed.camera in self.paused:
                    continue
                try:
                    self._push(feed, g)
                except Exception:  # one broken pipeline must not stop the other cameras
                    log.exception("feeding %s failed", feed.key)
                    self.remove(id(feed))
            next_tick = self.epoch + (g + 1) * period
            if self._stop.wait(max(0.0, next_tick - time.monotonic())):
                return

    def _push(self, feed: Feed, g: int) -> None:
        clip = feed.clip
        if feed.next_g is not None and g - feed.next_g > MAX_CATCH_UP:
            feed.next_g = None  # stalled too long: resynchronise on a keyframe
        if feed.next_g is None:
            if not clip.keyframes[(g + feed.offset_frames) % clip.frames]:
                return
            clock = feed.appsrc.get_clock()
            if clock is None:
                return  # not playing yet
            feed.next_g = feed.start_g = g
            feed.start_pts = max(0, clock.get_time() - feed.appsrc.get_base_time())
        while feed.next_g <= g:
            index = (feed.next_g + feed.offset_frames) % clip.frames
            if feed.behaviour == "stall" and feed.pushed > 0:
                feed.next_g = g + 1  # the camera hangs: connected, sending nothing
                return
            if (feed.behaviour == "reboot" and feed.reboot_every_frames > 0
                    and clip.keyframes[index]
                    and feed.next_g - feed.start_g >= feed.reboot_every_frames):
                log.info("%s: timestamps restart from zero", feed.key)
                feed.start_g, feed.start_pts = feed.next_g, 0
            unit = clip.units[index]
            buf = Gst.Buffer.new_wrapped_bytes(unit)
            decode = feed.start_pts + (feed.next_g - feed.start_g) * Gst.SECOND // clip.fps
            if clip.pts_offsets is not None:
                buf.dts = decode
                buf.pts = decode + clip.pts_offsets[index]
            else:
                buf.pts = decode
            buf.duration = Gst.SECOND // clip.fps
            ret = feed.appsrc.push_buffer(buf)
            feed.next_g += 1
            if ret != Gst.FlowReturn.OK:
                # Not playing yet (or flushing): start again from the next keyframe.
                feed.next_g = None
                return
            feed.pushed += 1
