"""Generate the sample clips: `python -m sample_streams.generate [--out DIR] [--only NAME]`.

Each clip is rendered once at 1280x720 and piped as raw BGR frames into one ffmpeg, which
encodes the main stream and a 640x360 downscale of the same frames as the sub stream, so
both share one ground truth. Output per clip, in `<out>/<name>/`:

- `main.mp4`: H.264 Main, 1280x720, 15 fps, a keyframe every 20 frames (1.33 s, fixed
  GOP: `-g 20 -keyint_min 20 -sc_threshold 0`), no B-frames, yuv420p, `+faststart`.
- `sub.mp4`: the same at 640x360.
- `truth.json`: see `sample_streams.clips.ground_truth`.

MP4 rather than MPEG-TS: the files are small and indexed, OpenCV, ffprobe and players open
them directly, and the RTSP simulator parses them into access units once at start-up with
GStreamer's qtdemux, so the container costs nothing while serving.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import time
from pathlib import Path

from sample_streams.clips import (
    FPS,
    HEIGHT,
    SUB_HEIGHT,
    SUB_WIDTH,
    WIDTH,
    ClipSpec,
    catalogue,
    ground_truth,
    render,
)

log = logging.getLogger("sample_streams.generate")

DEFAULT_OUT = Path(__file__).resolve().parent / "clips"
GOP = 20
# Rate caps keep the committed clips small (the whole set is a few MB) while CRF keeps
# quality sensible; the noise grain is mostly smoothed away at these rates, as in real cameras.
MAX_KBPS = {"main": 500, "sub": 160}
DEFAULT_CRF = 27
# Per-clip CRF overrides (none needed so far: the night grain is coarse enough to survive).
CRF: dict[str, int] = {}


def _x264_args(crf: int, max_kbps: int) -> list[str]:
    rate = ["-crf", str(crf), "-maxrate", f"{max_kbps}k", "-bufsize", f"{2 * max_kbps}k"]
    return [
        "-c:v",
        "libx264",
        "-preset",
        "medium",
        "-profile:v",
        "main",
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(GOP),
        "-keyint_min",
        str(GOP),
        "-sc_threshold",
        "0",
        "-bf",
        "0",
        "-threads",
        "2",
        *rate,
        "-movflags",
        "+faststart",
        "-an",
    ]


def ffmpeg_command(
    main: Path,
    sub: Path,
    width: int,
    height: int,
    sub_width: int,
    sub_height: int,
    crf: int = DEFAULT_CRF,
) -> list[str]:
    """The ffmpeg command line that reads raw BGR frames on stdin and writes both streams."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg not found on PATH")
    return [
        ffmpeg,
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "bgr24",
        "-s",
        f"{width}x{height}",
        "-r",
        str(FPS),
        "-i",
        "-",
        "-filter_complex",
        f"[0:v]split=2[m][s];[s]scale={sub_width}:{sub_height}:flags=area[sub]",
        "-map",
        "[m]",
        *_x264_args(crf, MAX_KBPS["main"]),
        str(main),
        "-map",
        "[sub]",
        *_x264_args(crf, MAX_KBPS["sub"]),
        str(sub),
    ]


def encode_clip(
    spec: ClipSpec,
    out_dir: Path,
    width: int = WIDTH,
    height: int = HEIGHT,
    sub_size: tuple[int, int] = (SUB_WIDTH, SUB_HEIGHT),
) -> Path:
    """Render and encode one clip into out_dir/<name>/, writing truth.json last."""
    clip_dir = out_dir / spec.name
    clip_dir.mkdir(parents=True, exist_ok=True)
    truth = ground_truth(spec, width, height)
    truth["sub_width"], truth["sub_height"] = sub_size
    crf = CRF.get(spec.name, DEFAULT_CRF)
    cmd = ffmpeg_command(
        clip_dir / "main.mp4", clip_dir / "sub.mp4", width, height, *sub_size, crf=crf
    )
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for index, frame in enumerate(render(spec, width, height)):
            proc.stdin.write(frame.tobytes())
            if index % (FPS * 10) == 0:
                log.info("%s: frame %d/%d", spec.name, index, spec.frames)
        _, err = proc.communicate(timeout=300)  # closes stdin, waits for the encoder
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed for {spec.name}: {err.decode(errors='replace').strip()}")
    (clip_dir / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    sizes = {p.name: p.stat().st_size for p in sorted(clip_dir.glob("*.mp4"))}
    log.info(
        "%s: %d frames in %.1f s, sizes %s",
        spec.name,
        spec.frames,
        time.monotonic() - started,
        sizes,
    )
    return clip_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sample_streams.generate", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="only this clip (repeatable)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    specs = catalogue()
    unknown = [n for n in args.only if n not in specs]
    if unknown:
        parser.error(f"unknown clip(s) {unknown}; choose from {sorted(specs)}")
    for name in args.only or list(specs):
        encode_clip(specs[name], args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
