"""Health mode's figures for ``compoundeye bench decode``: its cost and its tamper quality.

Cost: K copies of the real-rate sub stream (700 kbit/s, 640x360, 15 fps, 2 s GOP) go
through the edge's own camera pipeline in health mode (:class:`ingest.camera.CameraPipeline`
with a :class:`ingest.packet_reader.PacketReader`: every packet demuxed and counted, the
keyframes the gate picks decoded, tamper checks and coarse motion on them), on one pinned
core, frames per CPU-second like the full-rate figures. In the same run FFmpeg's
``-skip_frame nokey`` (every keyframe decoded) and a demux-only stream copy are timed on
the same input, for scale.

Tamper quality: the real-rate versions of the clips with tamper episodes in their truth
(``tamper``, ``night_tamper``) are played twice in a row, as a live camera loops, through
the packet reader in health mode and :class:`ingest.health.HealthChecks`, with the
detection's "look again" feedback to the reader as in the worker (here synchronously, so
a file read at full speed behaves as a live stream would). The second pass is the steady
state a camera in health mode is in (a camera switched from full mode on schedule keeps
its learned view; one always in health mode has learned it in its first minute): its
episodes are the acceptance figures. The first pass, from cold, is reported beside them.
Clips without episodes are played the same way and count false tampers.
"""

from __future__ import annotations

import json
import resource
import subprocess
import time
from pathlib import Path
from typing import Any, cast

from bench.evaluation import Episode, Raise, score_tamper
from compoundeye.site.models import HealthMode
from ingest.packet_reader import PacketReader
from ingest.reader import ReaderOptions, SampledFrame
from ingest.sampler import DropQueue

TAMPER_CLIPS = ("tamper", "night_tamper")
QUIET_CLIPS = ("people", "quiet", "lightswitch", "static_long")
LOOPS = 2


def frames_of(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
         "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def looped(source: Path, loops: int, workdir: Path, name: str) -> Path:
    """``source`` repeated ``loops`` times by stream copy (timestamps run on)."""
    out = workdir / f"{name}-x{loops}.mp4"
    if not out.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", str(loops - 1), "-i",
                        str(source), "-c", "copy", str(out)], check=True)
    return out


def _camera(i: int, url: str) -> Any:
    from compoundeye.site.models import Camera

    return Camera.model_validate({"id": f"health{i}", "main_url": url, "detect_fps": 5.0,
                                  "detect_mode": "health",
                                  "location": {"building": "bench", "lat": 31.11,
                                               "lon": 121.38}})


def health_round(path: Path, copies: int, frames: int, snapshots: Path) -> dict[str, float]:
    """``copies`` health-mode pipelines over the file to its end; packets per CPU-second."""
    from ingest.camera import CameraPipeline

    options = ReaderOptions(max_frames=frames, decode_threads=1)
    events: list[Any] = []
    pipes = [CameraPipeline(_camera(i, f"file://{path}"), events.append, snapshots,
                            queue_size=frames, reader_options=options, health=HealthMode(),
                            mode="health")
             for i in range(copies)]
    for pipe in pipes:
        # Frames stamped with stream time: the tamper checks (whose warm-up and
        # persistence are in seconds) see a camera at its own pace, not a file at CPU speed.
        cast(PacketReader, pipe.reader).replay = True
    from bench.decode import _run_all, _stop_all

    cpu0 = time.process_time()
    started = time.perf_counter()
    threads = _run_all(pipes)
    try:
        while any(p.reader.stats.frames_in < frames for p in pipes):
            if any(p.reader.stats.open_failures for p in pipes):
                raise RuntimeError(f"cannot open {path}")
            time.sleep(0.005)
        while any(len(p.queue) for p in pipes):
            time.sleep(0.002)
        elapsed = time.perf_counter() - started
    finally:
        _stop_all(pipes, threads, 5)
    cpu = time.process_time() - cpu0
    packets = sum(p.reader.stats.frames_in for p in pipes)
    decoded = sum(getattr(p.reader.stats, "keyframes_decoded", 0) for p in pipes)
    return {"fps_cpu": packets / max(cpu, 1e-6), "fps": packets / elapsed,
            "decoded_per_copy": decoded / copies,
            "processed": sum(p.stats.processed for p in pipes)}


def ffmpeg_cpu(cmd: list[str], copies: int, frames: int) -> float:
    """Frames per CPU-second of ``copies`` concurrent runs of ``cmd`` (children's CPU)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = [subprocess.Popen(cmd) for _ in range(copies)]
    codes = [p.wait() for p in procs]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if any(codes):
        raise RuntimeError(f"ffmpeg failed: {codes}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return copies * frames / max(cpu, 1e-6)


def ffmpeg_keyframes_and_demux(path: Path, copies: int, frames: int) -> dict[str, float]:
    base = ["ffmpeg", "-v", "error", "-nostdin", "-threads", "1"]
    nokey = ffmpeg_cpu([*base, "-skip_frame", "nokey", "-i", str(path), "-f", "null", "-"],
                       copies, frames)
    demux = ffmpeg_cpu([*base, "-i", str(path), "-c", "copy", "-f", "null", "-"], copies,
                       frames)
    return {"nokey_fps": nokey, "demux_fps": demux}


class _Inline(DropQueue[SampledFrame]):
    """A queue that hands each frame to detection at once, in the reader's thread."""

    def __init__(self, handle: Any) -> None:
        super().__init__(1)
        self._handle = handle

    def put(self, item: SampledFrame) -> bool:
        self._handle(item)
        return True


def play_health(path: Path, frames: int, config: HealthMode) -> tuple[list[Raise], Any]:
    """Tamper raises (stream time) of one health-mode camera over the file; reader stats."""
    from detectors.tamper import CameraHealthDetector
    from ingest.camera import keyframe_picture
    from ingest.health import HealthChecks

    checks = HealthChecks(CameraHealthDetector())
    checks.enter()
    raises: list[Raise] = []
    holder: list[PacketReader] = []

    def handle(item: SampledFrame) -> None:
        picture = keyframe_picture(item.image, 120)
        result = checks.process(picture, picture, item.stream_ts)
        holder[0].confirm = result.unsettled
        raises.extend(Raise(f.ts, f.reason) for f in result.findings if f.raised)

    reader = PacketReader("bench", f"file://{path}", 5.0, _Inline(handle),
                          ReaderOptions(max_frames=frames), mode="health",
                          keyframe_interval=config.keyframe_interval_seconds,
                          bitrate_change=config.bitrate_change)
    holder.append(reader)
    reader.run()
    return raises, reader


def tamper_quality(folders: dict[str, Path], workdir: Path,
                   config: HealthMode | None = None) -> dict[str, Any]:
    """Every clip played ``LOOPS`` times in health mode; episodes found per pass."""
    config = config or HealthMode()
    per_clip: dict[str, Any] = {}
    steady_eps = steady_found = cold_eps = cold_found = false_tampers = 0
    worst = 0.0
    ttd: dict[str, float] = {}
    missed_steady: list[str] = []
    missed_cold: list[str] = []
    for name, folder in folders.items():
        truth = json.loads((folder / "truth.json").read_text())
        duration = float(truth["duration_s"])
        path = looped(folder / "sub.mp4", LOOPS, workdir, name)
        raises, reader = play_health(path, frames_of(path), config)
        passes = []
        for k in range(LOOPS):
            episodes = [Episode(float(t["start_s"]) + k * duration,
                                float(t["end_s"]) + k * duration, str(t["reason"]))
                        for t in truth.get("tamper", [])]
            window = [r for r in raises if k * duration <= r.ts < (k + 1) * duration]
            passes.append(score_tamper(episodes, window).as_dict())
        cold, steady = passes[0], passes[-1]
        cold_eps += cold["episodes"]
        cold_found += cold["found"]
        steady_eps += steady["episodes"]
        steady_found += steady["found"]
        false_tampers += cold["false_tampers"] + steady["false_tampers"]
        missed_cold += [f"{name}:{m}" for m in cold["missed"]]
        missed_steady += [f"{name}:{m}" for m in steady["missed"]]
        for key, value in steady["time_to_detect_s"].items():
            ttd[f"{name}:{key}"] = value
            worst = max(worst, value)
        gate = reader.gate.stats
        per_clip[name] = {
            "cold": cold, "steady": steady, "keyframes": gate.keyframes,
            "decoded": gate.decoded, "by_interval": gate.by_interval,
            "by_confirmation": gate.by_confirmation, "by_bitrate": gate.by_bitrate,
        }
    return {
        "health_mode_tamper_episodes": steady_eps,
        "health_mode_tamper_found": steady_found,
        "health_mode_tamper_missed": missed_steady,
        "health_mode_time_to_detect_s": ttd,
        "health_mode_max_time_to_detect_s": round(worst, 3),
        "health_mode_false_tampers": false_tampers,
        "health_mode_cold_start_episodes": cold_eps,
        "health_mode_cold_start_found": cold_found,
        "health_mode_cold_start_missed": missed_cold,
        "health_mode_keyframe_interval_s": config.keyframe_interval_seconds,
        "health_mode_scoring": (
            f"each clip played {LOOPS} times in a row; an episode is found when its reason "
            "is raised inside it; acceptance figures from the last pass (steady state), "
            "the first pass (cold start, view not yet learned) reported as cold_start"),
        "health_mode_per_clip": per_clip,
    }
