"""Sub streams at a real camera's bit rate, made from the sample clips on demand.

The committed clips' sub streams are about 90 kbit/s (smooth synthetic pictures compress
very well), which flatters every decode figure: a real 640x360 sub stream runs at 256
kbit/s to 1 Mbit/s (see shared/CAMERAS.md). :func:`make_real_rate` re-encodes a clip's
main stream to 640x360 at ``kbps`` (700 by default) with a fixed GOP of ``gop_seconds``
(2 s), H.264 Main without B-frames, 15 fps, like a camera's sub stream. The bits come from
content, not padding: a light temporal grain (``noise``), as a real sensor has, gives the
encoder detail to spend them on. The grain is left out during a clip's ``frozen`` tamper
episodes: a frozen camera repeats one picture, grain and all, and grain added after the
freeze would make it look live.

The output is a clips directory the RTSP simulator can serve (``--clips-dir``): per clip
``sub.mp4`` (the new stream), ``main.mp4`` (a link to the original) and ``truth.json``
(copied: the timeline is unchanged). Nothing large is committed: files are made at set-up
or when a benchmark or test first asks, and kept in a cache directory keyed by the
parameters.

    .venv/bin/python -m sample_streams.realrate --out DIR [--only people tamper]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

CLIPS_DIR = Path(__file__).resolve().parent / "clips"
SUB_KBPS = 700
GOP_SECONDS = 2.0
FPS = 15
NOISE = 2
"""Temporal grain strength (FFmpeg ``noise`` filter, ``alls``): enough for ~700 kbit/s."""


def default_cache() -> Path:
    """Where made streams are kept: ``$XDG_CACHE_HOME/compoundeye/realrate`` (~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "compoundeye" / "realrate"


def _frozen_spans(truth: dict[str, object]) -> list[tuple[float, float]]:
    episodes = truth.get("tamper", [])
    assert isinstance(episodes, list)
    return [(float(e["start_s"]), float(e["end_s"])) for e in episodes
            if isinstance(e, dict) and e.get("reason") == "frozen"]


def _filters(truth: dict[str, object], noise: int) -> str:
    chain = "scale=640:360:flags=area"
    if noise > 0:
        frozen = _frozen_spans(truth)
        enable = ""
        if frozen:
            # Frozen episodes are judged from the picture standing still: no fresh grain.
            spans = "+".join(f"between(t,{a:g},{b - 0.001:g})" for a, b in frozen)
            enable = f":enable='not({spans})'"
        chain += f",noise=alls={noise}:allf=t{enable}"
    return chain


def make_real_rate(clip: str, out: Path | None = None, *, kbps: int = SUB_KBPS,
                   gop_seconds: float = GOP_SECONDS, noise: int = NOISE,
                   clips_dir: Path = CLIPS_DIR) -> Path:
    """The clip's real-rate sub stream, made once per parameter set; returns its folder."""
    out = out or default_cache()
    source = clips_dir / clip
    truth_path = source / "truth.json"
    truth = json.loads(truth_path.read_text())
    params = {"clip": clip, "kbps": kbps, "gop_frames": round(gop_seconds * FPS),
              "noise": noise, "fps": FPS, "source_bytes": (source / "main.mp4").stat().st_size}
    target = out / clip
    stamp = target / "params.json"
    sub = target / "sub.mp4"
    if sub.exists() and stamp.exists() and json.loads(stamp.read_text()) == params:
        return target
    target.mkdir(parents=True, exist_ok=True)
    gop = str(params["gop_frames"])
    partial = target / "sub.partial.mp4"
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(source / "main.mp4"),
           "-vf", _filters(truth, noise), "-r", str(FPS), "-c:v", "libx264",
           "-profile:v", "main", "-bf", "0", "-g", gop, "-keyint_min", gop,
           "-sc_threshold", "0", "-b:v", f"{kbps}k", "-maxrate", f"{round(kbps * 1.1)}k",
           "-bufsize", f"{2 * kbps}k", "-pix_fmt", "yuv420p", "-threads", "1", "-an",
           "-movflags", "+faststart", "-f", "mp4", str(partial)]
    subprocess.run(cmd, check=True, timeout=600)
    partial.replace(sub)
    shutil.copyfile(truth_path, target / "truth.json")
    main = target / "main.mp4"
    if main.is_symlink() or main.exists():
        main.unlink()
    main.symlink_to(source / "main.mp4")
    stamp.write_text(json.dumps(params))
    log.info("made %s (%d bytes)", sub, sub.stat().st_size)
    return target


def bitrate_kbps(path: Path) -> float:
    """The stream's mean bit rate (ffprobe), kbit/s."""
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=bit_rate",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip()) / 1000


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: make the real-rate streams of some or all clips."""
    parser = argparse.ArgumentParser(description="real-rate sub streams from the sample clips")
    parser.add_argument("--out", type=Path, default=None, help="default: the user cache")
    parser.add_argument("--only", nargs="*", default=None, metavar="CLIP")
    parser.add_argument("--kbps", type=int, default=SUB_KBPS)
    args = parser.parse_args(argv)
    names = args.only or sorted(p.name for p in CLIPS_DIR.iterdir() if (p / "truth.json").exists())
    for name in names:
        folder = make_real_rate(name, args.out, kbps=args.kbps)
        sys.stdout.write(f"{folder}/sub.mp4: {bitrate_kbps(folder / 'sub.mp4'):.0f} kbit/s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
