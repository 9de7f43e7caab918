"""What the recorder tells ffmpeg, and what it reads back from it.

One ffmpeg per camera: RTSP over TCP in, the segment muxer out, stream copy. Two inputs
options matter for real cameras:

- ``-fflags +genpts``: over RTSP a stream with B-frames (H.264 High, x265's default H.265)
  arrives with presentation times only; without this the first packets reach the MPEG-TS
  muxer with no decode time and it refuses them ("first pts and dts value must be set"),
  for ever.
- G.711 (``pcm_mulaw``/``pcm_alaw``) has no MPEG-TS stream type. In G.711 mode the
  camera's audio is written twice: an AAC-LC transcode (stream 1, what players and the
  browser play) and the camera's own G.711 bytes, copied bit for bit as an MPEG-TS private
  data stream (stream 2). The segment's service provider (SDT) says so:
  ``compoundeye audio-original=pcm_mulaw``; exports read it back into their manifest.

Segments go to ``<staging>/<run>-<YYYYmmddTHHMMSS>.ts``: ``run`` keeps two ffmpeg runs'
files apart, the time (ffmpeg's ``-strftime``, TZ=UTC) is only a fallback for files of a
run whose segment list was lost; see :mod:`ingest.segment_clock` for the real names.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

STAGING_DIRNAME = ".staging"
STAGING_FORMAT = "%Y%m%dT%H%M%S"
_STAGING_RE = re.compile(r"^(?:r\d+-)?(\d{8}T\d{6})\.ts$")
G711_CODECS = ("pcm_mulaw", "pcm_alaw")
AUDIO_TAG_PREFIX = "compoundeye audio-original="

_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), reason) for pattern, reason in (
        (r"unauthori[sz]ed|authori[sz]ation failed", "unauthorized (401)"),
        (r"\b403 forbidden", "forbidden (403)"),
        (r"\b404 not found|stream not found", "not found (404)"),
        (r"connection refused", "connection refused"),
        (r"timed out|timeout", "timeout"),
        (r"no route to host|network is unreachable", "host unreachable"),
        (r"name or service not known|failed to resolve|temporary failure in name", "dns failure"),
        (r"invalid data found", "invalid data"),
        (r"connection reset|broken pipe", "connection reset"),
        (r"end of file", "stream ended"),
        (r"no space left", "disk full"),
        (r"permission denied", "permission denied"),
    )
)
_G711_RE = re.compile(r"codec (pcm_mulaw|pcm_alaw), is muxed as a private data stream")
_NON_MONOTONOUS_RE = re.compile(r"Non-monotonous DTS .*previous: (-?\d+), current: (-?\d+)")
JUMP_TICKS = 90_000
"""A DTS that goes back by this much (one second in MPEG-TS's 90 kHz) is a clock jump."""


def classify_stderr(line: str) -> str | None:
    """The failure an ffmpeg stderr line reports, in a few words; None if none known."""
    for pattern, reason in _REASONS:
        if pattern.search(line):
            return reason
    return None


def g711_codec(line: str) -> str | None:
    """The G.711 codec an ffmpeg line says the MPEG-TS muxer cannot carry, if any."""
    match = _G711_RE.search(line)
    return match[1] if match else None


def backward_jump(line: str) -> int | None:
    """How far (muxer ticks) a "Non-monotonous DTS" line says timestamps went back."""
    match = _NON_MONOTONOUS_RE.search(line)
    if not match:
        return None
    return int(match[1]) - int(match[2])


def staging_start(name: str) -> datetime | None:
    """The UTC time ffmpeg encoded in a staging file name, or None."""
    match = _STAGING_RE.match(name)
    if not match:
        return None
    try:
        return datetime.strptime(match[1], STAGING_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class SegmentLine:
    """One line of ffmpeg's CSV segment list: a finished file and its stream times."""

    name: str
    start: float
    end: float


def parse_segment_line(line: str) -> SegmentLine | None:
    """``name,start,end`` as ffmpeg writes it; None for anything else."""
    parts = line.rsplit(",", 2)
    if len(parts) != 3:
        return None
    try:
        return SegmentLine(Path(parts[0]).name, float(parts[1]), float(parts[2]))
    except ValueError:
        return None


def ffmpeg_command(url: str, staging: Path, segment_seconds: int,
                   timeout_seconds: float = 10.0, *, run: str = "",
                   g711: str | None = None) -> list[str]:
    """The ffmpeg arguments that record ``url`` into ``staging`` by stream copy."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning"]
    if url.startswith(("rtsp://", "rtsps://")):
        cmd += ["-rtsp_transport", "tcp", "-timeout", str(int(timeout_seconds * 1_000_000))]
    cmd += ["-fflags", "+genpts", "-i", url, "-map", "0:v:0"]
    if g711:
        cmd += ["-map", "0:a:0", "-map", "0:a:0", "-c", "copy",
                "-c:a:0", "aac", "-b:a:0", "48k", "-metadata",
                f"service_provider={AUDIO_TAG_PREFIX}{g711}"]
    else:
        cmd += ["-map", "0:a?", "-c", "copy"]
    prefix = f"{run}-" if run else ""
    cmd += [
        "-f", "segment", "-segment_time", str(segment_seconds), "-segment_format", "mpegts",
        "-reset_timestamps", "1", "-strftime", "1",
        "-segment_list", "pipe:1", "-segment_list_type", "csv",
        str(staging / f"{prefix}{STAGING_FORMAT}.ts"),
    ]
    if shutil.which("setpriv"):
        # If the worker dies without a clean stop, ffmpeg gets SIGINT and closes its file.
        cmd = ["setpriv", "--pdeathsig", "INT", *cmd]
    return cmd
