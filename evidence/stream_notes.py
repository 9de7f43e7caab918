"""What the examiner must know about how a camera's streams were recorded.

Read from the first exported segment with ffprobe: the video codec (H.265 plays in
desktop players but not in a web browser) and whether the camera's audio was G.711, which
MPEG-TS cannot carry as such (the recorder's G.711 mode, see ingest/recorder_ffmpeg.py:
an AAC transcode to play, and the original bytes kept as MPEG-TS private data, named in
the segment's service provider as ``compoundeye audio-original=<codec>``).
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

from evidence.manifest import CameraNote

log = logging.getLogger(__name__)

AUDIO_TAG_PREFIX = "compoundeye audio-original="
_G711 = {"pcm_mulaw": ("G.711 mu-law", "mulaw"), "pcm_alaw": ("G.711 A-law", "alaw")}


def probe_streams(path: Path, *, ffprobe: str = "ffprobe") -> dict[str, object]:
    """ffprobe's view of a segment's streams and programs; {} if it cannot be read."""
    try:
        out = subprocess.run(
            [ffprobe, "-v", "error", "-show_entries",
             "stream=codec_type,codec_name:program_tags=service_provider", "-of", "json",
             str(path)], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("cannot probe %s: %s", path, exc)
        return {}
    if out.returncode != 0:
        return {}
    found: dict[str, object] = json.loads(out.stdout or "{}")
    return found


def stream_notes(segment: Path, master_name: str) -> list[CameraNote]:
    """Notes on the video codec and the audio of one camera's export."""
    info = probe_streams(segment)
    streams = info.get("streams") or []
    programs = info.get("programs") or []
    assert isinstance(streams, list) and isinstance(programs, list)
    notes: list[CameraNote] = []
    video = next((s.get("codec_name") for s in streams if s.get("codec_type") == "video"), None)
    if video == "hevc":
        notes.append(CameraNote(topic="codec", text=(
            "recorded as H.265 (HEVC), as the camera sends it (stream copy): web browsers "
            "such as Chromium cannot play it; play the files in a desktop player (VLC, mpv, "
            "ffplay)")))
    tags = [str((p.get("tags") or {}).get("service_provider", "")) for p in programs]
    original = next((t[len(AUDIO_TAG_PREFIX):] for t in tags if t.startswith(AUDIO_TAG_PREFIX)),
                    None)
    if original in _G711:
        name, raw = _G711[original]
        notes.append(CameraNote(topic="audio", text=(
            f"the camera sends {name} audio (8 kHz), which MPEG-TS cannot carry as such. The "
            "recorder kept it bit for bit as an MPEG-TS private data stream in the master "
            "(its data stream) and added an AAC-LC transcode (the audio track of the master "
            "and of the working copy) for playback. The original audio, losslessly: "
            f"ffmpeg -i {master_name} -map 0:d:0 -c copy -f data - | "
            f"ffmpeg -f {raw} -ar 8000 -ac 1 -i - -c:a pcm_{raw} original.wav")))
    return notes
