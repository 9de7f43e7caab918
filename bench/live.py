"""``compoundeye bench live``: M cameras x V viewers through the real engine and dashboard.

Each viewer is a 16-tile wall on one WebSocket: one is headless Chromium on ``/live``
(glass-to-glass latency read from the clock camera's picture, see
sample_streams/clock_stream.py), the others are WebSocket clients that take every byte.
The figures:

* upstream RTSP sessions while everyone watches, counted by the simulator (must be M);
* server CPU per viewer stream: the engine process and its ffmpeg children, against the
  baseline of one ``ffmpeg -c copy`` relay per viewer stream (M x V processes and
  sessions) measured right after in the same run; ratio = baseline / ours;
* latency p50/p99 (target at most 1.5 s, aim under 1 s);
* seconds from the last viewer leaving to no upstream session at all (linger + close);
* playback: seek to first frame, p50/p99, over 24 h of recorded segments (target < 1 s).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import websockets

from bench.livestack import (
    CHROMIUM_ARGS,
    CLOCK_CAMERA,
    READ_CLOCK,
    RECORDED_CAMERA,
    LiveStack,
    iso_z,
    live_stack,
    sign_in,
    wait_until,
)
from bench.runner import BenchResult
from compoundeye.services import ServiceSet
from sample_streams.numbered import fill_day

log = logging.getLogger(__name__)

LINGER_S = 5.0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _tree(pid: int | None) -> list[psutil.Process]:
    if pid is None:
        return []
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _cpu_seconds(procs: Iterable[psutil.Process], seen: dict[int, float]) -> float:
    """CPU seconds used since ``seen`` (pid -> seconds at the start; 0 for new ones)."""
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        used = times.user + times.system
        total += used - seen.get(proc.pid, 0.0)
    return total


def _snapshot(procs: Iterable[psutil.Process]) -> dict[int, float]:
    out = {}
    for proc in procs:
        try:
            times = proc.cpu_times()
            out[proc.pid] = times.user + times.system
        except psutil.Error:
            continue
    return out


class WallClients:
    """V-1 walls as WebSocket clients on a thread of their own, draining every byte."""

    def __init__(self, stack: LiveStack, walls: int, cameras: list[str]) -> None:
        self._stack = stack
        self._walls = walls
        self._cameras = cameras
        self.bytes = [0] * walls
        self.errors: list[str] = []
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="walls", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=20)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await asyncio.gather(*(self._wall(i) for i in range(self._walls)))

    async def _wall(self, index: int) -> None:
        assert self._stop is not None
        ticket = await asyncio.to_thread(self._stack.ticket, "operator")
        try:
            async with websockets.connect(ticket["url"], max_size=None) as ws:
                await ws.send(json.dumps({"ticket": ticket["ticket"]}))
                for ch, camera in enumerate(self._cameras):
                    await ws.send(json.dumps({"op": "play", "ch": ch, "camera": camera,
                                              "stream": "sub"}))
                while not self._stop.is_set():
                    try:
                        message = await asyncio.wait_for(ws.recv(), 0.5)
                    except TimeoutError:
                        continue
                    if isinstance(message, bytes):
                        self.bytes[index] += len(message) - 1
                    elif '"error"' in message:
                        self.errors.append(message)
        except (OSError, websockets.WebSocketException) as exc:
            self.errors.append(f"wall {index}: {exc}")


class RelayBaseline:
    """One ``ffmpeg -c copy`` relay per viewer stream, its output drained."""

    def __init__(self, urls: list[str]) -> None:
        self.processes = [subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport",
             "tcp", "-i", url, "-map", "0:v:0", "-an", "-c", "copy", "-f", "mpegts",
             "-flush_packets", "1", "pipe:1"], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL) for url in urls]
        self.bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="relays", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        selector = selectors.DefaultSelector()
        for process in self.processes:
            assert process.stdout is not None
            os.set_blocking(process.stdout.fileno(), False)
            selector.register(process.stdout, selectors.EVENT_READ)
        while not self._stop.is_set() and selector.get_map():
            for key, _ in selector.select(0.5):
                data = os.read(key.fd, 1 << 16)
                if not data:
                    selector.unregister(key.fileobj)
                self.bytes += len(data)
        selector.close()

    def stop(self) -> None:
        self._stop.set()
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()
        self._thread.join(timeout=10)


def _streams_watched(stack: LiveStack, cameras: list[str]) -> int:
    paths = {f"/{c}/sub" for c in cameras}
    return sum(n for path, n in stack.sim.sessions().items() if path in paths)


def _latency(page: Any, seconds: float) -> list[float]:
    video = page.locator(f"video[data-camera={CLOCK_CAMERA}]")
    samples: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        read = video.evaluate(READ_CLOCK)
        if read is not None and read["latency_ms"] < 60_000:
            samples.append(float(read["latency_ms"]))
    return samples


# From the seek to the "seeked" event: the element then holds the frame at the new
# position (readyState >= HAVE_CURRENT_DATA) and a paused video shows it. None after 10 s.
SEEK_JS = """async (wall) => {
  const video = document.querySelector('#pb-videos video');
  const t0 = performance.now();
  const seeked = new Promise((r) => video.addEventListener('seeked', () => r(true),
                                                           { once: true }));
  CEPlayer.seek(wall);
  const ok = await Promise.race([seeked, new Promise((r) => setTimeout(() => r(false), 10000))]);
  return ok && video.readyState >= 2 ? performance.now() - t0 : null;
}"""


def _seeks(stack: LiveStack, browser: Any, count: int) -> tuple[list[float], int, int]:
    """Seek-to-first-frame over 24 h of cam1's segments (hard links of the recorded ones)."""
    root = stack.data_dir / "recordings"
    day_start = stack.recorded_from - timedelta(hours=24)
    linked = fill_day(root, RECORDED_CAMERA, day_start, stack.recorded, hours=24)
    at = stack.recorded_from - timedelta(hours=12)
    page = sign_in(browser, stack.base_url, stack.tokens["investigator"],
                   f"/recordings?camera={RECORDED_CAMERA}&at={iso_z(at)}")
    try:
        video = page.locator("#pb-videos video").first
        wait_until(lambda: video.evaluate("v => v.readyState") >= 2, 60, "the player loading")
        rng = random.Random(12)
        span = (stack.recorded_from - day_start).total_seconds() - 20
        times, failed = [], 0
        for _ in range(count):
            wall = day_start.timestamp() + 10 + rng.random() * span
            took = page.evaluate(SEEK_JS, wall * 1000)
            if took is None:
                failed += 1
            else:
                times.append(float(took))
        return times, linked, failed
    finally:
        page.context.close()


def measure(quick: bool = False) -> BenchResult:
    for noisy in ("httpx", "compoundeye.supervisor"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # SIGTERM (a time limit) must still stop the simulator, the engine and the services
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return _measure(quick)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _measure(quick: bool) -> BenchResult:
    cameras_n, walls, window, seeks = (3, 2, 6.0, 8) if quick else (15, 4, 20.0, 40)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="ce-bench-live-") as tmp, \
            ServiceSet() as services, \
            live_stack(services, Path(tmp), cameras=cameras_n, linger=LINGER_S) as stack, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             headless=True, args=CHROMIUM_ARGS)
        cameras = stack.cameras  # cam1..camN and the clock camera: M
        m = len(cameras)
        load_before = os.getloadavg()
        page = sign_in(browser, stack.base_url, stack.tokens["operator"],
                       f"/live?cameras={','.join(cameras)}&layout=16")
        log.info("live: %d cameras, %d walls (1 browser)", m, walls)
        clients = WallClients(stack, walls - 1, cameras)
        clients.start()
        wait_until(lambda: all(u["subscribers"] == walls and u["bytes_in"] > 0
                               for u in stack.engine_status()["upstreams"])
                   and len(stack.engine_status()["upstreams"]) == m, 60, "every wall playing")
        wait_until(lambda: page.locator(".tile[data-state=live]").count() == m, 60,
                   "every tile of the browser wall playing")
        log.info("live: every wall plays; measuring for %.0f s", window)
        time.sleep(3)  # past the start-up GOPs
        upstream_sim = _streams_watched(stack, cameras)
        upstream_engine = len(stack.engine_status()["upstreams"])
        procs = _tree(stack.engine_pid())
        before = _snapshot(procs)
        t0 = time.monotonic()
        latencies = _latency(page, window)
        elapsed = time.monotonic() - t0
        ours_cpu = _cpu_seconds(_tree(stack.engine_pid()), before) / elapsed
        status = stack.engine_status()
        dashboard_cpu = psutil.Process(stack.dashboard_pid()).cpu_percent(interval=1.0)
        page.context.close()
        clients.stop()
        close_s = wait_until(lambda: not stack.engine_status()["upstreams"]
                             and _streams_watched(stack, cameras) == 0, 60,
                             "the upstream sessions closing")
        viewers = m * walls
        log.info("live: upstreams closed %.1f s after the last viewer; baseline relays", close_s)
        relay = RelayBaseline([stack.sim.url(c) if c != CLOCK_CAMERA
                               else stack.sim.clock_url(c) for c in cameras] * walls)
        try:
            wait_until(lambda: relay.bytes > 0, 30, "the relays reading")
            try:  # every relay holds its own session before the measurement starts
                wait_until(lambda: _streams_watched(stack, cameras) >= viewers, 90,
                           "every relay connected")
            except RuntimeError:
                log.warning("live: not every relay connected; measuring those that did")
            time.sleep(3)
            baseline_sessions = _streams_watched(stack, cameras)
            rprocs = [psutil.Process(p.pid) for p in relay.processes]
            rbefore = _snapshot(rprocs)
            t1 = time.monotonic()
            time.sleep(window)
            baseline_cpu = _cpu_seconds(rprocs, rbefore) / (time.monotonic() - t1)
        finally:
            relay.stop()
        log.info("live: playback seeks over 24 h")
        seek_ms, linked, seek_failed = _seeks(stack, browser, seeks)
        browser.close()
    ours = 100 * ours_cpu / viewers
    base = 100 * baseline_cpu / viewers
    return BenchResult(
        name="live", value=round(ours, 4), unit="% of a core per viewer stream",
        baseline=f"one ffmpeg -c copy relay per viewer stream ({viewers} processes)",
        baseline_value=round(base, 4), ratio=round(base / ours, 2) if ours > 0 else 0.0,
        target=1.0,
        extra={
            "cameras_m": m, "walls_v": walls, "viewer_streams": viewers,
            "upstream_sessions_at_simulator": upstream_sim,
            "upstream_sessions_in_engine": upstream_engine,
            "upstream_sessions_equal_m": upstream_sim == m,
            "baseline_sessions_at_simulator": baseline_sessions,
            "engine_cpu_percent_total": round(100 * ours_cpu, 2),
            "baseline_cpu_percent_total": round(100 * baseline_cpu, 2),
            "dashboard_cpu_percent_while_live": dashboard_cpu,
            "engine_dropped_viewers": status.get("dropped_viewers"),
            "latency_ms_p50": round(_pct(latencies, 0.5), 1),
            "latency_ms_p99": round(_pct(latencies, 0.99), 1),
            "latency_samples": len(latencies),
            "latency_target_ms": 1500,
            "close_after_last_viewer_s": round(close_s, 1), "linger_s": LINGER_S,
            "seek_first_frame_ms_p50": round(_pct(seek_ms, 0.5), 1),
            "seek_first_frame_ms_p99": round(_pct(seek_ms, 0.99), 1),
            "seek_samples": len(seek_ms), "seeks_without_frame_in_10s": seek_failed,
            "seek_mean_ms": round(statistics.fmean(seek_ms), 1) if seek_ms else None,
            "playlist_segments_24h": linked + len(stack.recorded),
            "client_errors": clients.errors[:5],
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        })
