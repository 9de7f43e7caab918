"""Playback of recorded segments in the browser: HLS playlists built from the recordings
layout (the layout is the index), the segments' codec, and audited playback sessions.

Each segment of the layout is its own MPEG-TS file whose timestamps restart at zero (the
recorder's ``-reset_timestamps 1``), so every segment after the first is marked
``#EXT-X-DISCONTINUITY`` and carries ``#EXT-X-PROGRAM-DATE-TIME`` from its name: hls.js
lays each segment at its place in the playlist, and the page maps wall time to playlist
time with those dates. Segments are served as they are, never re-encoded.

A playback session lives in Redis (so any dashboard replica can serve it): who opened it,
for which cameras and window, and which segments it fetched. ``playback.start`` is
audited when it opens; ``playback.end`` (with the span actually fetched, start and end
times) when the page closes it or, failing that, when it has been idle for
:data:`IDLE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import redis
from redis.typing import EncodableT, FieldT

from compoundeye import names
from compoundeye.recordings import Segment, list_segments, parse_segment_start
from compoundeye.timeutil import utcnow

log = logging.getLogger(__name__)

IDLE_SECONDS = 120.0
SESSION_TTL_SECONDS = 24 * 3600
MAX_CAMERAS = 4
MAX_WINDOW_HOURS = 26
PLAYABLE_CODECS = frozenset({"h264"})
"""What Chromium decodes from our TS segments (H.265 is not among them)."""
START_ACTION, END_ACTION = "playback.start", "playback.end"


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe says about a camera's recording."""

    codec: str
    width: int
    height: int
    fps: float

    @property
    def playable(self) -> bool:
        return self.codec in PLAYABLE_CODECS


@lru_cache(maxsize=4096)
def _probe_cached(path: str, _size: int, _mtime: float) -> MediaInfo | None:
    try:
        done = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
             "stream=codec_name,width,height,avg_frame_rate,r_frame_rate", "-of", "json", path],
            capture_output=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    try:
        stream = json.loads(done.stdout)["streams"][0]
    except (ValueError, KeyError, IndexError):
        return None
    fps = 0.0
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(stream.get(key, "0/0")).partition("/")
        try:
            fps = float(num) / float(den or 1)
        except (ValueError, ZeroDivisionError):
            continue
        if fps > 0:
            break
    return MediaInfo(str(stream.get("codec_name", "unknown")), int(stream.get("width", 0)),
                     int(stream.get("height", 0)), round(fps, 3))


def probe(path: Path) -> MediaInfo | None:
    """Codec, size and frame rate of one segment (cached per file version)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return _probe_cached(str(path), stat.st_size, stat.st_mtime)


def segment_uri(segment: Segment) -> str:
    """The segment's path under the camera, as the playlist names it."""
    return "/".join(segment.path.parts[-3:])


def playlist(segments: list[Segment], *, finished: bool) -> str:
    """An HLS media playlist of ``segments`` (VOD when ``finished``)."""
    target = max((math.ceil(s.seconds) for s in segments), default=10)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{max(1, target)}",
             "#EXT-X-MEDIA-SEQUENCE:0"]
    lines.append("#EXT-X-PLAYLIST-TYPE:VOD" if finished else "#EXT-X-PLAYLIST-TYPE:EVENT")
    for i, segment in enumerate(segments):
        if i:
            lines.append("#EXT-X-DISCONTINUITY")  # timestamps restart in every segment
        stamp = segment.start.astimezone(UTC).isoformat(timespec="milliseconds")
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{stamp.replace('+00:00', 'Z')}")
        lines.append(f"#EXTINF:{segment.seconds:.3f},")
        lines.append(segment_uri(segment))
    if finished:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PlaybackSession:
    """An open playback session as kept in Redis."""

    id: str
    actor: str
    role: str
    cameras: tuple[str, ...]
    start: datetime
    end: datetime
    opened: datetime
    ip: str | None

    def to_hash(self) -> dict[str, str]:
        return {"actor": self.actor, "role": self.role, "cameras": ",".join(self.cameras),
                "start": self.start.isoformat(), "end": self.end.isoformat(),
                "opened": self.opened.isoformat(), "ip": self.ip or "",
                "last_seen": str(self.opened.timestamp())}

    @classmethod
    def from_hash(cls, session_id: str, data: dict[bytes, bytes]) -> PlaybackSession:
        text = {k.decode(): v.decode() for k, v in data.items()}
        return cls(session_id, text["actor"], text["role"], tuple(text["cameras"].split(",")),
                   datetime.fromisoformat(text["start"]), datetime.fromisoformat(text["end"]),
                   datetime.fromisoformat(text["opened"]), text.get("ip") or None)

    def audit_window(self) -> dict[str, Any]:
        return {"session": self.id, "cameras": list(self.cameras),
                "window_start": self.start.isoformat(), "window_end": self.end.isoformat()}


# Read the session and delete it in one step: of several replicas (or a close racing the
# reaper) exactly one gets the fields back and writes playback.end.
_CLAIM = """
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return {} end
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local count = redis.call('ZCARD', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return {fields, first, last, count}
"""


class PlaybackSessions:
    """Open, touch and close playback sessions (Redis); the caller writes the audit."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._claim = client.register_script(_CLAIM)

    def open(self, actor: str, role: str, cameras: list[str], start: datetime, end: datetime,
             ip: str | None) -> PlaybackSession:
        session = PlaybackSession(secrets.token_hex(12), actor, role, tuple(cameras), start,
                                  end, utcnow(), ip)
        key = names.playback_session_key(session.id)
        pipe = self._redis.pipeline()
        pipe.hset(key, mapping=cast("Mapping[FieldT, EncodableT]", session.to_hash()))
        pipe.expire(key, SESSION_TTL_SECONDS)
        pipe.zadd(names.PLAYBACK_ACTIVE, {session.id: session.opened.timestamp()})
        pipe.execute()
        return session

    def get(self, session_id: str) -> PlaybackSession | None:
        data = self._redis.hgetall(names.playback_session_key(session_id))
        if not data:
            return None
        return PlaybackSession.from_hash(session_id, data)  # type: ignore[arg-type]

    def touch(self, session: PlaybackSession, segment_start: datetime | None) -> None:
        now = utcnow().timestamp()
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(names.playback_session_key(session.id), "last_seen", str(now))
        pipe.zadd(names.PLAYBACK_ACTIVE, {session.id: now})
        if segment_start is not None:
            seen = names.playback_segments_key(session.id)
            pipe.zadd(seen, {segment_start.isoformat(): segment_start.timestamp()})
            pipe.expire(seen, SESSION_TTL_SECONDS)
        pipe.execute()

    def close(self, session_id: str, reason: str) -> dict[str, Any] | None:
        """Claim the session; the ``playback.end`` details, or None if already closed."""
        raw = self._claim(keys=[names.playback_session_key(session_id),
                                names.playback_segments_key(session_id),
                                names.PLAYBACK_ACTIVE], args=[session_id])
        if not raw:
            return None
        fields, first, last, count = raw
        data = {fields[i]: fields[i + 1] for i in range(0, len(fields), 2)}
        session = PlaybackSession.from_hash(session_id, data)
        ended = utcnow()
        details = {**session.audit_window(), "actor": session.actor, "role": session.role,
                   "ip": session.ip, "start": session.opened.isoformat(),
                   "end": ended.isoformat(), "reason": reason, "segments": int(count),
                   "seconds": round((ended - session.opened).total_seconds(), 1)}
        if first and last:
            details["watched_from"] = first[0].decode()
            details["watched_to"] = (datetime.fromisoformat(last[0].decode())
                                     + timedelta(seconds=10)).isoformat()
        return details

    def idle(self, older_than: float) -> list[str]:
        cutoff = utcnow().timestamp() - older_than
        ids = self._redis.zrangebyscore(names.PLAYBACK_ACTIVE, "-inf", cutoff)
        return [i.decode() for i in ids]  # type: ignore[union-attr]


def window_segments(recordings: Path, camera: str, start: datetime, end: datetime,
                    segment_seconds: float) -> list[Segment]:
    return list_segments(recordings, camera, start, end, segment_seconds=segment_seconds)


def segment_in_window(session: PlaybackSession, relpath: Path, slack: float) -> datetime | None:
    """The start of the segment at ``relpath`` if it belongs to the session's window."""
    start = parse_segment_start(relpath)
    if start is None:
        return None
    if not (session.start - timedelta(seconds=slack) <= start < session.end):
        return None
    return start


def reap_once(sessions: PlaybackSessions, record_end: Callable[[dict[str, Any]], None],
              idle_seconds: float = IDLE_SECONDS) -> int:
    """Close the sessions idle for ``idle_seconds`` (``playback.end``, reason idle)."""
    closed = 0
    for session_id in sessions.idle(idle_seconds):
        details = sessions.close(session_id, "idle")
        if details is None:
            continue
        try:
            record_end(details)
        except Exception:
            # Claimed but not audited: the full record goes to the error log for whoever
            # reconciles the trail (the start row is in the store already).
            log.exception("playback: cannot audit the end of %s", json.dumps(details))
            continue
        closed += 1
    return closed


async def reap_idle(sessions: PlaybackSessions, record_end: Callable[[dict[str, Any]], None],
                    stop: asyncio.Event, every: float = 15.0) -> None:
    """Close sessions whose page went away without saying so, until ``stop``."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(reap_once, sessions, record_end)
        except (redis.RedisError, OSError):
            log.exception("playback: idle sessions not reaped this round")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


def media_summary(recordings_dir: Path, segment_seconds: float, camera: str, start: datetime,
                  end: datetime, at: datetime | None = None) -> dict[str, Any]:
    """Whether a camera's recording of a window plays in the browser: its segment count,
    codec, size and frame rate, ``playable``, and in plain words why not when it does not
    (no recording, unreadable, or a codec Chromium cannot decode such as H.265)."""
    segments = window_segments(recordings_dir, camera, start, end, segment_seconds)
    if not segments:
        return {"segments": 0, "playable": False, "reason": "no recording in this window"}
    moment = at or segments[0].start
    nearest = min(segments, key=lambda s: abs((s.start - moment).total_seconds()))
    info = probe(nearest.path)
    if info is None:
        return {"segments": len(segments), "playable": False,
                "reason": "the recording could not be read (ffprobe failed)"}
    out: dict[str, Any] = {"segments": len(segments), "codec": info.codec,
                           "width": info.width, "height": info.height, "fps": info.fps,
                           "playable": info.playable}
    if not info.playable:
        name = {"hevc": "H.265 (HEVC)"}.get(info.codec, info.codec.upper())
        out["reason"] = (f"recorded as {name}: this browser (Chromium) cannot decode it. "
                         "Download the window and play it in a desktop player.")
    return out
