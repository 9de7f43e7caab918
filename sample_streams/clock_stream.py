"""A simulated camera whose picture carries the wall clock, encoded live (for latency tests).

Runs inside the RTSP simulator (system python, GStreamer). Each frame is drawn when it is
pushed: a band of :data:`BITS` black/white blocks across the top holds the wall-clock time
in milliseconds modulo 2**32, and a second band below holds the same bits inverted, so a
reader can tell a clean read from a smeared one. x264 encodes it with no lookahead and no
B-frames, so the only delays a viewer sees are the encoder's, the network's and its own.

Reading it back (any decoder that gives the luma plane): for bit ``i`` sample the centre of
block ``i`` in both bands; the bit is 1 when the top band is bright, and the read is valid
only when every bottom block is the opposite. ``(now_ms - stamp) % 2**32`` is the delay.
"""

from __future__ import annotations

import threading
import time
from typing import Any

BITS = 32
WIDTH, HEIGHT = 640, 360
BLOCK_W = WIDTH // BITS
BAND_H = 40
DARK, BRIGHT, GREY = 16, 235, 110
FPS = 15
GOP_FRAMES = 15
"""One keyframe a second, as most cameras are set."""

LAUNCH = (
    "( appsrc name=src is-live=true format=time do-timestamp=true max-buffers=4 "
    "leaky-type=downstream ! x264enc tune=zerolatency speed-preset=ultrafast bframes=0 threads=1 "
    f"key-int-max={GOP_FRAMES} bitrate=600 ! video/x-h264,profile=constrained-baseline ! "
    "rtph264pay name=pay0 pt=96 config-interval=-1 )"
)
# threads=1: one slice per picture. With sliced threads, rtph264pay (config-interval=-1)
# repeats SPS/PPS before every IDR slice, ffmpeg's parser then cuts the IDR picture into
# two packets and MSE players decode the halves as two pictures.
CAPS = f"video/x-raw,format=I420,width={WIDTH},height={HEIGHT},framerate={FPS}/1"


def clock_frame(stamp_ms: int) -> bytes:
    """One I420 frame showing ``stamp_ms % 2**32`` in the two bands."""
    value = stamp_ms % (1 << BITS)
    bits = [(value >> (BITS - 1 - i)) & 1 for i in range(BITS)]
    top = b"".join(bytes([BRIGHT if b else DARK]) * BLOCK_W for b in bits)
    bottom = b"".join(bytes([DARK if b else BRIGHT]) * BLOCK_W for b in bits)
    rest = bytes([GREY]) * (WIDTH * (HEIGHT - 2 * BAND_H))
    chroma = bytes([128]) * (WIDTH * HEIGHT // 2)
    return top * BAND_H + bottom * BAND_H + rest + chroma


def read_clock(luma: bytes, width: int, height: int) -> int | None:
    """The stamp in a decoded luma plane of any size (scaled bands), or None if unclear."""
    block_w = width / BITS
    band_h = height * BAND_H / HEIGHT
    value = 0
    for i in range(BITS):
        x = int((i + 0.5) * block_w)
        top = luma[int(band_h * 0.5) * width + x]
        bottom = luma[int(band_h * 1.5) * width + x]
        if (top > 128) == (bottom > 128):
            return None
        value = (value << 1) | (1 if top > 128 else 0)
    return value


class ClockFeed:
    """Pushes clock frames into one appsrc at :data:`FPS` until stopped."""

    def __init__(self, appsrc: Any, gst: Any) -> None:
        self._appsrc = appsrc
        self._gst = gst
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="clock-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        period = 1.0 / FPS
        next_at = time.monotonic()
        while not self._stop.is_set():
            data = clock_frame(int(time.time() * 1000))
            buffer = self._gst.Buffer.new_wrapped(data)
            buffer.duration = int(period * 1e9)
            if self._appsrc.emit("push-buffer", buffer) != self._gst.FlowReturn.OK:
                break  # the media went away
            next_at += period
            delay = next_at - time.monotonic()
            if delay < -period:  # fell behind (a loaded machine): do not burst to catch up
                next_at = time.monotonic()
                delay = 0.0
            self._stop.wait(max(0.0, delay))
