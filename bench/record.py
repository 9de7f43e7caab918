"""``compoundeye bench record``: what recording costs per camera, against a bare ffmpeg.

Two RTSP simulators serve the same N cameras (32 by default, same mounts, clip offsets and
clock) on the camera matrix's ``hd-4m`` variant (1920x1080 H.264 at 4 Mbit/s CBR); in the
same run, two sets record every camera at once, one set per simulator:

- ours: one :class:`ingest.recorder.Recorder` per camera (its ffmpeg, the segment clock,
  the moves into the layout), as the edge worker runs it;
- the baseline: ``ffmpeg -rtsp_transport tcp -i URL -c copy -f segment`` per camera, with
  the same segment length, stats and banner off (so it does not spend CPU printing), and
  nothing else.

After a warm-up (every camera has finished a segment) the run lasts ``seconds`` (120; 45
with ``--quick``). CPU is the user+system time of the ffmpeg processes themselves, read
from /proc (psutil), never the machine's: the simulator's own CPU is not counted.
Bytes written are each ffmpeg's ``wchar`` (/proc/<pid>/io); bytes received are the
``bytes_received`` of its TCP sockets (``ss -tinp``: ffmpeg reads the RTSP socket with
recv(), which ``rchar`` does not count). One simulator per set, not both sets on one:
on this shared 2-core machine (load 10-40) one simulator process could not send 64 x 4
Mbit/s, and the clients that joined second (whichever set) got a quarter of their stream
(measured: 8 of 32 baseline cameras streaming), which made the CPU comparison
meaningless. ``streaming_*`` counts the cameras that got >= 80 % of 4 Mbit/s in the window.

ratio = baseline CPU / our CPU (target >= 0.95: recording must cost no more than the bare
ffmpeg). Coverage: the fraction of the measured wall-clock window each camera's segments
cover in the layout (``compoundeye.recordings.gaps``, 0.5 s tolerance); target >= 99.5 %.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

from bench.runner import BenchResult
from compoundeye.recordings import gaps, list_segments
from ingest.recorder import Recorder
from sample_streams.simulator import RtspSimulator

log = logging.getLogger(__name__)

VARIANT = "hd-4m"
SEGMENT_SECONDS = 10


@dataclass
class _Usage:
    """CPU seconds and I/O bytes of a set of processes, last value seen per pid."""

    cpu: dict[int, float] = field(default_factory=dict)
    rchar: dict[int, int] = field(default_factory=dict)
    wchar: dict[int, int] = field(default_factory=dict)

    def sample(self, pids: list[int], received: dict[int, int] | None = None) -> None:
        for pid in pids:
            if received is not None and pid in received:
                self.rchar[pid] = received[pid]
            try:
                proc = psutil.Process(pid)
                times = proc.cpu_times()
                io = proc.io_counters()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            self.cpu[pid] = times.user + times.system
            self.wchar[pid] = io.write_chars

    def totals(self) -> tuple[float, int, int]:
        return sum(self.cpu.values()), sum(self.rchar.values()), sum(self.wchar.values())


_SS_PID = re.compile(r"pid=(\d+)")
_SS_RECEIVED = re.compile(r"bytes_received:(\d+)")


def _received_by_pid() -> dict[int, int]:
    """Bytes received per process over its TCP sockets, from ``ss -tinp``."""
    out = subprocess.run(["ss", "-tinpH"], capture_output=True, text=True, timeout=30,
                         check=False).stdout
    found: dict[int, int] = {}
    pids: list[int] = []
    for line in out.splitlines():
        if not line.startswith((" ", "\t")):
            pids = [int(p) for p in _SS_PID.findall(line)]
            continue
        match = _SS_RECEIVED.search(line)
        if match:
            for pid in pids:
                found[pid] = found.get(pid, 0) + int(match[1])
    return found


def _baseline(url: str, out: Path) -> subprocess.Popen[bytes]:
    out.mkdir(parents=True, exist_ok=True)
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
           "-rtsp_transport", "tcp", "-i", url, "-c", "copy", "-f", "segment",
           "-segment_time", str(SEGMENT_SECONDS), str(out / "%05d.ts")]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _coverage(root: Path, cam: str, start: datetime, end: datetime) -> float:
    segments = list_segments(root, cam, start, end, segment_seconds=SEGMENT_SECONDS)
    missing = sum(h.seconds for h in gaps(segments, start, end, tolerance_seconds=0.5))
    return 1 - missing / (end - start).total_seconds()


def measure(quick: bool, cameras: int = 32) -> BenchResult:
    """Record ``cameras`` hd-4m cameras with ours and with bare ffmpeg at once."""
    seconds = 45 if quick else 120
    work = Path(tempfile.mkdtemp(prefix="ce-bench-record-"))
    ids = [f"hd{i:02d}" for i in range(cameras)]
    root = work / "recordings"
    sims = [RtspSimulator({}, matrix=dict.fromkeys(ids, VARIANT), ready_timeout_s=120,
                          log_level="WARNING").start() for _ in range(2)]
    sim, base_sim = sims
    recorders = [Recorder(cam, sim.url(cam, "main"), root, segment_seconds=SEGMENT_SECONDS)
                 for cam in ids]
    threads = [threading.Thread(target=r.run, name=f"rec-{r.camera_id}", daemon=True)
               for r in recorders]
    baseline = []
    ours_usage, base_usage = _Usage(), _Usage()
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not all(r.stats.segments for r in recorders):
            time.sleep(0.5)
        warm = sum(1 for r in recorders if r.stats.segments)
        baseline = [_baseline(base_sim.url(cam, "main"), work / "baseline" / cam)
                    for cam in ids]
        # Measure once every baseline has finished a segment (probing, which decodes,
        # is over and the stream flows), as for ours.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(
                len(list((work / "baseline" / cam).iterdir())) >= 2 for cam in ids):
            time.sleep(1.0)
        baseline_warm = sum(1 for cam in ids if len(list((work / "baseline" / cam).iterdir())) >= 2)

        def pids() -> tuple[list[int], list[int]]:
            return [p for r in recorders if (p := r.pid) is not None], [b.pid for b in baseline]

        ours0, base0 = _Usage(), _Usage()
        ours_pids, base_pids = pids()
        received = _received_by_pid()
        ours0.sample(ours_pids, received)
        base0.sample(base_pids, received)
        process0 = psutil.Process().cpu_times()
        load0 = os.getloadavg()
        t0, wall0 = time.monotonic(), datetime.now(UTC)
        end = t0 + seconds
        while time.monotonic() < end:
            ours_pids, base_pids = pids()
            received = _received_by_pid()
            ours_usage.sample(ours_pids, received)
            base_usage.sample(base_pids, received)
            time.sleep(2.0)
        received = _received_by_pid()
        ours_usage.sample(pids()[0], received)
        base_usage.sample(pids()[1], received)
        baseline_running = sum(1 for b in baseline if b.poll() is None)
        elapsed = time.monotonic() - t0
        wall1 = wall0 + timedelta(seconds=elapsed)
        process1 = psutil.Process().cpu_times()
        load1 = os.getloadavg()
    finally:
        for r in recorders:
            r.stop()
        for b in baseline:
            b.terminate()
        for thread in threads:
            thread.join(15)
        gone_by = time.monotonic() + 10
        for b in baseline:
            try:
                b.wait(max(0.1, gone_by - time.monotonic()))
            except subprocess.TimeoutExpired:
                b.kill()
                b.wait(5)
        for each in sims:
            each.stop()

    def delta(now: _Usage, before: _Usage) -> tuple[float, int, int]:
        cpu = sum(v - before.cpu.get(p, 0.0) for p, v in now.cpu.items())
        rd = sum(v - before.rchar.get(p, 0) for p, v in now.rchar.items())
        wr = sum(v - before.wchar.get(p, 0) for p, v in now.wchar.items())
        return cpu, rd, wr

    def streaming(now: _Usage, before: _Usage, expected: float) -> int:
        return sum(1 for p, v in now.rchar.items() if v - before.rchar.get(p, 0) >= expected)

    expected = 0.8 * 4e6 / 8 * elapsed  # bytes of 80 % of a 4 Mbit/s stream
    ours_streaming = streaming(ours_usage, ours0, expected)
    base_streaming = streaming(base_usage, base0, expected)
    ours_cpu, ours_read, ours_written = delta(ours_usage, ours0)
    base_cpu, base_read, base_written = delta(base_usage, base0)
    coverages = [_coverage(root, cam, wall0, wall1) for cam in ids]
    worst = ids[coverages.index(min(coverages))]
    worst_segments = list_segments(root, worst, wall0 - timedelta(seconds=30), wall1,
                                   segment_seconds=SEGMENT_SECONDS)
    worst_detail = {
        "camera": worst,
        "segment_starts_s": [round((x.start - wall0).total_seconds(), 1) for x in worst_segments],
        "gaps_s": [[round((g.start - wall0).total_seconds(), 1), round(g.seconds, 1)]
                   for g in gaps(worst_segments, wall0, wall1, tolerance_seconds=0.5)],
        "stalls": next(r.stats.stalls for r in recorders if r.camera_id == worst),
        "clock_jumps": next(r.stats.clock_jumps for r in recorders if r.camera_id == worst),
    }
    shutil.rmtree(work, ignore_errors=True)
    per_camera = 100 * ours_cpu / elapsed / cameras
    base_per_camera = 100 * base_cpu / elapsed / cameras
    python_cpu = (process1.user + process1.system) - (process0.user + process0.system)
    return BenchResult(
        name="record", value=round(per_camera, 3), unit="% of one core per camera (ffmpeg)",
        baseline="bare ffmpeg -rtsp_transport tcp -i URL -c copy -f segment, same mounts",
        baseline_value=round(base_per_camera, 3),
        ratio=round(base_cpu / ours_cpu, 3) if ours_cpu else 0.0, target=0.95,
        extra={
            "cameras": cameras, "variant": VARIANT, "seconds": round(elapsed, 1),
            "segment_seconds": SEGMENT_SECONDS, "cameras_warm": warm,
            "cameras_per_core": round(100 / per_camera, 1) if per_camera else None,
            "baseline_cameras_per_core": round(100 / base_per_camera, 1)
            if base_per_camera else None,
            "coverage_min": round(min(coverages), 4),
            "coverage_median": round(statistics.median(coverages), 4),
            "coverage_target": 0.995, "meets_coverage": min(coverages) >= 0.995,
            "received_MB_s": round(ours_read / elapsed / 1e6, 3),
            "written_MB_s": round(ours_written / elapsed / 1e6, 3),
            "written_per_received": round(ours_written / ours_read, 4) if ours_read else None,
            "baseline_received_MB_s": round(base_read / elapsed / 1e6, 3),
            "baseline_written_MB_s": round(base_written / elapsed / 1e6, 3),
            "cpu_s_per_GB_received": round(ours_cpu / (ours_read / 1e9), 3) if ours_read else None,
            "baseline_cpu_s_per_GB_received": round(base_cpu / (base_read / 1e9), 3)
            if base_read else None,
            "baseline_written_per_received": round(base_written / base_read, 4)
            if base_read else None,
            "restarts": sum(r.stats.restarts for r in recorders),
            "worst_camera": worst_detail,
            "baseline_running_at_end": baseline_running, "baseline_warm": baseline_warm,
            "streaming_at_80pct_of_4Mbit": ours_streaming,
            "baseline_streaming_at_80pct_of_4Mbit": base_streaming,
            "bench_process_cpu_s": round(python_cpu, 2),
            "loadavg_1m_start_end": [round(load0[0], 2), round(load1[0], 2)],
        },
    )
