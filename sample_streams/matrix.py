"""The camera matrix: named stream variants made from the sample clips, for the simulator.

Real cameras differ in ways the committed clips (H.264 Main, no B-frames, no audio) do not
show. Each variant here is one such camera: its codec and profile, its audio, its RTSP
authentication, or a misbehaviour (timestamps that restart from zero, a resolution change,
a stall). A variant is a clips folder the RTSP simulator serves (``main.mp4``, ``sub.mp4``,
``truth.json``) plus ``variant.json``, which tells the simulator what else to do::

    {"codec": "h264"|"h265", "audio": "none"|"aac"|"pcmu"|"pcma",
     "auth": null|"basic"|"digest", "behaviour": null|"reboot"|"resize"|"stall",
     "reboot_every_s": 20}

Nothing large is committed: the re-encoded streams are made on first use into a cache
(``$CE_MATRIX_CACHE``, default ``$XDG_CACHE_HOME/compoundeye/matrix``), keyed by the
parameters, under a lock so that parallel test processes make each file once. Variants that
only change audio, authentication or behaviour reuse the clip's own ``main.mp4`` (a copy,
1 MB: a cache entry must not depend on the checkout that made it).
Audio is not stored: the simulator generates a tone live (GStreamer ``audiotestsrc``, 8 kHz
G.711 or 16 kHz AAC-LC), in step with the video on the pipeline clock.

    .venv/bin/python -m sample_streams.matrix [--out DIR] [--only VARIANT ...]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CLIPS_DIR = Path(__file__).resolve().parent / "clips"
SOURCE_CLIP = "people"
FPS = 15
GOP_FRAMES = 30
AUTH_USER = "admin"
AUTH_PASSWORD = "matrix-Secret-7"  # noqa: S105  the simulator's camera password (tests pass it in URLs)
REBOOT_EVERY_S = 45.0


@dataclass(frozen=True)
class Variant:
    """One simulated camera type: how its main stream is encoded and how it behaves."""

    name: str
    codec: str = "h264"
    encode: tuple[str, ...] = ()  # ffmpeg video arguments; empty = the clip's own main.mp4
    scale: str = ""  # e.g. "1920:1080"
    noise: int = 0  # temporal grain (gives a synthetic clip a real camera's bit rate)
    audio: str = "none"
    auth: str | None = None
    behaviour: str | None = None
    description: str = ""

    def stamp(self) -> dict[str, object]:
        """What the cached files depend on."""
        data = asdict(self)
        data.pop("description")
        data["gop"] = GOP_FRAMES
        data["source"] = SOURCE_CLIP
        data["layout"] = 2  # files copied, not linked: a cache entry outlives any checkout
        return data


_X264 = ("-c:v", "libx264", "-preset", "veryfast", "-g", str(GOP_FRAMES), "-keyint_min",
         str(GOP_FRAMES), "-sc_threshold", "0", "-pix_fmt", "yuv420p")
VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("h264-baseline", encode=(*_X264, "-profile:v", "baseline", "-b:v", "1500k"),
            description="H.264 Constrained Baseline, no B-frames"),
    Variant("h264-main", description="H.264 Main, no B-frames (the committed clip)"),
    Variant("h264-high-b", encode=(*_X264, "-profile:v", "high", "-bf", "3", "-b:v", "1500k"),
            description="H.264 High with 3 B-frames (b-pyramid)"),
    Variant("h265-main-b", codec="h265",
            encode=("-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-profile:v", "main", "-b:v", "1000k", "-tag:v", "hvc1", "-x265-params",
                    f"keyint={GOP_FRAMES}:min-keyint={GOP_FRAMES}:scenecut=0:open-gop=0:"
                    "bframes=4:log-level=error"),
            description="H.265 Main with 4 B-frames (closed GOP)"),
    Variant("audio-aac", audio="aac", description="H.264 Main + AAC-LC 16 kHz mono"),
    Variant("audio-pcmu", audio="pcmu", description="H.264 Main + G.711 mu-law 8 kHz"),
    Variant("audio-pcma", audio="pcma", description="H.264 Main + G.711 A-law 8 kHz"),
    Variant("hd-4m", scale="1920:1080", noise=6,
            encode=(*_X264, "-profile:v", "high", "-bf", "0", "-b:v", "4000k", "-minrate",
                    "4000k", "-maxrate", "4000k", "-bufsize", "4000k", "-x264-params",
                    "nal-hrd=cbr"),
            description="1080p H.264 High at 4 Mbit/s CBR, 640x360 sub"),
    Variant("auth-basic", auth="basic", description="H.264 Main behind RTSP Basic auth"),
    Variant("auth-digest", auth="digest", description="H.264 Main behind RTSP Digest auth"),
    Variant("reboot", behaviour="reboot",
            description=f"timestamps restart from zero every {REBOOT_EVERY_S:g} s"),
    Variant("resize", behaviour="resize",
            description="main stream switches 1280x720 -> 640x360 half way round each loop"),
    Variant("stall", behaviour="stall",
            description="accepts the connection, sends one picture, then nothing"),
)}


def default_cache() -> Path:
    """``$CE_MATRIX_CACHE``, else ``$XDG_CACHE_HOME/compoundeye/matrix`` (~/.cache)."""
    explicit = os.environ.get("CE_MATRIX_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "compoundeye" / "matrix"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _encode(variant: Variant, source: Path, target: Path) -> None:
    filters = []
    if variant.scale:
        filters.append(f"scale={variant.scale}:flags=bicubic")
    if variant.noise:
        filters.append(f"noise=alls={variant.noise}:allf=t")
    partial = target.with_suffix(".partial.mp4")
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(source)]
    if filters:
        cmd += ["-vf", ",".join(filters)]
    cmd += ["-r", str(FPS), *variant.encode, "-an", "-movflags", "+faststart", "-f", "mp4",
            str(partial)]
    subprocess.run(cmd, check=True, timeout=900)
    partial.replace(target)


def make_variant(name: str, out: Path | None = None, *, clips_dir: Path = CLIPS_DIR) -> Path:
    """The variant's clips folder, made once per parameter set; returns its path."""
    variant = VARIANTS[name]
    out = out or default_cache()
    source = clips_dir / SOURCE_CLIP
    stamp = variant.stamp()
    stamp["source_bytes"] = (source / "main.mp4").stat().st_size
    key = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:12]
    target = out / "variants" / f"{name}-{key}"
    done = target / "variant.json"
    if done.exists():
        return target
    with _locked(out / ".lock"):
        if done.exists():
            return target
        target.mkdir(parents=True, exist_ok=True)
        main = target / "main.mp4"
        if variant.encode:
            _encode(variant, source / "main.mp4", main)
        else:
            shutil.copyfile(source / "main.mp4", main)
        shutil.copyfile(source / "sub.mp4", target / "sub.mp4")
        shutil.copyfile(source / "truth.json", target / "truth.json")
        info = {"codec": variant.codec, "audio": variant.audio, "auth": variant.auth,
                "behaviour": variant.behaviour, "reboot_every_s": REBOOT_EVERY_S,
                "description": variant.description}
        partial = target / "variant.partial.json"
        partial.write_text(json.dumps(info, indent=1))
        partial.replace(done)
        log.info("made camera variant %s in %s", name, target)
    return target


def clips_dir_for(names: Sequence[str], out: Path | None = None) -> Path:
    """A clips directory holding every sample clip and the named variants (links).

    The simulator serves it with ``--clips-dir``: a camera shows a clip or a variant by
    folder name, so one simulator can mix ordinary cameras and matrix cameras.
    """
    out = out or default_cache()
    made = {name: make_variant(name, out) for name in sorted(set(names))}
    # The folder links to this checkout's clips: another checkout gets its own folder.
    key = hashlib.sha256(json.dumps({"clips": str(CLIPS_DIR), **{n: str(p) for n, p in
                                                                made.items()}},
                                    sort_keys=True).encode()).hexdigest()[:12]
    folder = out / "dirs" / key
    if folder.is_dir():
        return folder
    with _locked(out / ".lock"):
        if folder.is_dir():
            return folder
        partial = out / "dirs" / f".{key}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for clip in sorted(CLIPS_DIR.iterdir()):
            if (clip / "sub.mp4").exists():
                (partial / clip.name).symlink_to(clip.resolve())
        for name, path in made.items():
            (partial / name).symlink_to(path)
        partial.rename(folder)
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: make some or all variants and list them."""
    parser = argparse.ArgumentParser(description="make the camera matrix's stream variants")
    parser.add_argument("--out", type=Path, default=None, help="default: the user cache")
    parser.add_argument("--only", nargs="*", default=None, metavar="VARIANT")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    for name in args.only or sorted(VARIANTS):
        folder = make_variant(name, args.out)
        sys.stdout.write(f"{name}: {folder}  ({VARIANTS[name].description})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
