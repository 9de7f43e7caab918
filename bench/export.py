"""``compoundeye bench export``: export 10 minutes of one 1280x720 camera recorded in
10 s MPEG-TS segments (master, working copy, manifest), against a verified copy of the
same segment files (``cp`` then ``sha256sum`` of each, as subprocesses): the floor for
any export that vouches for its bytes.

ratio = verified copy time / export time (target >= 0.5: the export costs at most twice
a verified copy). The export includes writing the examiner's tools and signing the
manifest; apart from that, the figures say what signing and the tools cost alone, how
long ``compoundeye export verify`` takes on the 10-minute export, and how long the
export's own ``verify.py`` takes run by the system Python (``-I -S``, standard library
only, pure-Python Ed25519). The two alternate; the first run of each warms the page cache and is
reported apart, the median of the next three (one quick) counts.
The source is a 1280x720 sample clip when sample_streams has one, else a generated
test pattern (testsrc2, libx264, GOP 30, about 3 Mbit/s), cut with the recorder's
segment options and looped to fill the window (``CE_BENCH_EXPORT_SOURCE=generated``
forces the generated source, at a bitrate closer to a real 720p camera).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.runner import BenchResult
from compoundeye.recordings import segment_path
from compoundeye.site import Site
from evidence.export_models import ExportRequest, new_export_id
from evidence.export_tools import sign_export, write_tools
from evidence.exporter import Exporter
from evidence.manifest import MANIFEST_NAME
from evidence.signing import Keyring
from evidence.verify import verify_export

log = logging.getLogger(__name__)

CLIPS = Path(__file__).resolve().parent.parent / "sample_streams" / "clips"
CAMERA = "bench-cam"
START = datetime(2026, 11, 3, 21, 40, tzinfo=UTC)
SEGMENT_SECONDS = 10
MEASURED_RUNS = 3


def _probe_size(path: Path) -> tuple[int, int, float] | None:
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
           "stream=width,height:format=duration", "-of", "json", str(path)]
    try:
        out = json.loads(subprocess.run(cmd, capture_output=True, timeout=30,
                                        check=False).stdout or b"{}")
        stream = out["streams"][0]
        return int(stream["width"]), int(stream["height"]), float(out["format"]["duration"])
    except (OSError, subprocess.TimeoutExpired, KeyError, IndexError, ValueError):
        return None


def source_clip(cache: Path, *, generated_only: bool = False) -> tuple[Path, str]:
    """A 1280x720 H.264 source of at least 20 s, and where it came from."""
    for clip in [] if generated_only else sorted(CLIPS.glob("*/main.mp4")):
        probed = _probe_size(clip)
        if probed and probed[:2] == (1280, 720) and probed[2] >= 20:
            return clip, f"sample clip {clip.parent.name}"
    cache.mkdir(parents=True, exist_ok=True)
    generated = cache / "testsrc2-1280x720-30fps-g30-3M-30s.mp4"
    if _probe_size(generated) is None:
        tmp = generated.with_suffix(".tmp.mp4")
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "30",
             "-c:v", "libx264", "-preset", "veryfast", "-b:v", "3M", "-maxrate", "3M",
             "-bufsize", "6M", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
             str(tmp)], check=True, timeout=600)
        tmp.replace(generated)
    why = "asked for" if generated_only else "no 720p sample clip found"
    return generated, f"generated testsrc2 1280x720 3 Mbit/s ({why})"


def make_recordings(source: Path, root: Path, work: Path, segments: int) -> list[Path]:
    """Cut ``source`` with the recorder's options and loop its segments into the layout."""
    staging = work / "staging"
    staging.mkdir(parents=True)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(source), "-map", "0:v:0", "-map", "0:a?",
                    "-c", "copy", "-f", "segment", "-segment_time", str(SEGMENT_SECONDS),
                    "-segment_format", "mpegts", "-reset_timestamps", "1",
                    str(staging / "%05d.ts")], check=True, timeout=300)
    parts = sorted(staging.glob("*.ts"))
    if len(parts) > 1:
        parts = parts[:-1]  # the last one may be short
    out = []
    for i in range(segments):
        target = segment_path(root, CAMERA, START + timedelta(seconds=SEGMENT_SECONDS * i))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(parts[i % len(parts)], target)
        out.append(target)
    return out


def verified_copy(files: list[Path], target: Path) -> float:
    """``cp`` then ``sha256sum`` of each file, as subprocesses; returns seconds."""
    target.mkdir(parents=True)
    t0 = time.perf_counter()
    for i, path in enumerate(files):
        copy = target / f"{i:05d}.ts"
        subprocess.run(["cp", str(path), str(copy)], check=True)
        subprocess.run(["sha256sum", str(copy)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def timed_export(exporter: Exporter, request: ExportRequest, exports: Path
                 ) -> tuple[float, Path]:
    export_id = new_export_id()
    t0 = time.perf_counter()
    result = exporter.run(export_id, request, exports / export_id)
    elapsed = time.perf_counter() - t0
    (camera,) = result.manifest.cameras
    if camera.working_copy is None or camera.gaps:
        raise RuntimeError(f"bench export incomplete: {camera.note} gaps={camera.gaps}")
    return elapsed, result.directory


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times) * 1000, 3)


def verification_figures(directory: Path, keyring: Keyring, runs: int) -> dict[str, object]:
    """What signing and the tools cost, and how long each verifier takes on the export."""
    manifest_sha = hashlib.sha256((directory / MANIFEST_NAME).read_bytes()).hexdigest()
    key = keyring.current()
    figures: dict[str, object] = {
        "sign_manifest_ms": _median_ms(lambda: sign_export(directory, key, manifest_sha), 20),
        "write_tools_ms": _median_ms(lambda: write_tools(directory, keyring), 20),
        "keyring_load_ms": _median_ms(keyring.current, 20),
    }
    report = verify_export(directory, keyring=keyring)
    if not report.ok:
        raise RuntimeError(f"bench export does not verify: {report.errors} {report.files}")
    figures["project_verify_s"] = round(_median_ms(
        lambda: verify_export(directory, keyring=keyring), runs) / 1000, 3)
    python = Path("/usr/bin/python3")
    if python.exists():
        cmd = [str(python), "-I", "-S", str(directory / "verify.py"), "--quiet"]
        check = subprocess.run(cmd, capture_output=True, timeout=600, cwd="/", check=False)
        if check.returncode != 0:
            raise RuntimeError(f"the shipped verify.py failed: {check.stdout[-500:]!r}")
        figures["examiner_verify_py_s"] = round(_median_ms(lambda: subprocess.run(
            cmd, capture_output=True, timeout=600, cwd="/", check=True), runs) / 1000, 3)
        figures["examiner_python"] = subprocess.run(
            [str(python), "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    return figures


def measure(quick: bool) -> BenchResult:
    """Export a window of one 720p camera and make a verified copy of the same segments."""
    minutes = 10  # quick only measures fewer runs: fixed costs would skew a shorter window
    segments = minutes * 60 // SEGMENT_SECONDS
    work = Path(tempfile.mkdtemp(prefix="ce-bench-export-"))
    try:
        source, origin = source_clip(
            Path(tempfile.gettempdir()) / "compoundeye-bench",
            generated_only=os.environ.get("CE_BENCH_EXPORT_SOURCE") == "generated")
        root = work / "data" / "recordings"
        files = make_recordings(source, root, work, segments)
        total = sum(p.stat().st_size for p in files)
        site = Site.model_validate({"cameras": [{
            "id": CAMERA, "main_url": "rtsp://bench/cam",
            "location": {"building": "B1", "lat": 31.11, "lon": 121.38}}]})
        exporter = Exporter(site, root, keyring=Keyring(work / "data" / "keys"))
        request = ExportRequest(camera_ids=[CAMERA], start=START,
                                end=START + timedelta(minutes=minutes), case_id="BENCH",
                                reason="benchmark", requester="bench")
        exports_dir = work / "data" / "exports"
        runs: dict[str, list[float]] = {"export": [], "copy": []}
        attempts = 1 + (1 if quick else MEASURED_RUNS)
        for attempt in range(attempts):
            elapsed, directory = timed_export(exporter, request, exports_dir)
            runs["export"].append(elapsed)
            runs["copy"].append(verified_copy(files, work / f"copy{attempt}"))
            if attempt + 1 < attempts:
                shutil.rmtree(exports_dir)
            shutil.rmtree(work / f"copy{attempt}")
        verify = verification_figures(directory, exporter.keyring, 1 if quick else 3)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    export_s = statistics.median(runs["export"][1:])
    copy_s = statistics.median(runs["copy"][1:])
    return BenchResult(
        name="export", value=round(export_s, 3), unit="s",
        baseline="verified copy (cp + sha256sum per segment)", baseline_value=round(copy_s, 3),
        ratio=round(copy_s / export_s, 3), target=0.5,
        extra={"window_minutes": minutes, "segments": segments, "source": origin,
               "bytes": total, "export_mb_per_s": round(total / export_s / 1e6, 1),
               "first_run_export_s": round(runs["export"][0], 3),
               "first_run_copy_s": round(runs["copy"][0], 3),
               "export_runs_s": [round(t, 3) for t in runs["export"][1:]],
               "copy_runs_s": [round(t, 3) for t in runs["copy"][1:]], **verify,
               "note": "median of the runs after the first (warm page cache for both); the "
                       "export includes the examiner's tools and the signature"},
    )
