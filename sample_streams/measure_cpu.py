"""Measure the RTSP simulator's CPU.

    python -m sample_streams.measure_cpu --cameras 64 --clients 8 --clients 128


Starts the simulator with N cameras, connects K stream-copy ffmpeg clients (the first K
cameras' sub streams, then their main streams if K > N), lets them settle, and samples the
simulator's CPU time from /proc over a window. Prints one JSON line per client count:
cpu_percent is of one core (100 = one core busy), frames_per_client_* is what each client
received from connecting until it was stopped after the window (15 per second of its
lifetime less the connection time when healthy).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from sample_streams.simulator import RtspSimulator

log = logging.getLogger("sample_streams.measure_cpu")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(cameras: int, clients: int, window_s: float, settle_s: float) -> dict[str, object]:
    with RtspSimulator(cameras) as sim:
        assert sim.pid is not None
        ids = sorted(sim.cameras, key=lambda c: int(re.sub(r"\D", "", c) or 0))
        urls = [sim.url(c, "sub") for c in ids] + [sim.url(c, "main") for c in ids]
        duration = settle_s + window_s + 60  # clients outlive the window; stopped after it
        spawned = time.monotonic()
        procs = [
            subprocess.Popen(
                [
                    "ffmpeg",
                    "-hide_banner",
                    "-nostdin",
                    "-rtsp_transport",
                    "tcp",
                    "-i",
                    url,
                    "-t",
                    str(duration),
                    "-c",
                    "copy",
                    "-f",
                    "null",
                    "-",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for url in urls[:clients]
        ]
        outputs: list[str] = [""] * len(procs)

        def drain(i: int, proc: subprocess.Popen[str]) -> None:
            assert proc.stderr is not None
            outputs[i] = proc.stderr.read()

        readers = [
            threading.Thread(target=drain, args=(i, p), daemon=True) for i, p in enumerate(procs)
        ]
        for r in readers:
            r.start()
        try:
            time.sleep(settle_s)
            cpu0, t0 = _cpu_seconds(sim.pid), time.monotonic()
            time.sleep(window_s)
            cpu1, t1 = _cpu_seconds(sim.pid), time.monotonic()
            rss = _rss_mb(sim.pid)
            streaming = len(sim.status()["streaming"])
        finally:
            for p in procs:
                p.terminate()  # ffmpeg stops cleanly on SIGTERM and prints its last frame count
            lifetime = time.monotonic() - spawned
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            for r in readers:
                r.join(timeout=5)
    frames = []
    for out in outputs:
        counts = re.findall(r"frame=\s*(\d+)", out)
        frames.append(int(counts[-1]) if counts else 0)
    return {
        "name": "rtsp_sim_cpu",
        "cameras": cameras,
        "clients": clients,
        "streaming_mounts": streaming,
        "window_s": round(t1 - t0, 2),
        "cpu_percent": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
        "rss_mb": round(rss, 1),
        "frames_per_client_min": min(frames) if frames else 0,
        "frames_per_client_max": max(frames) if frames else 0,
        # At most 15 fps over the clients' lifetime (less their connection time).
        "frames_per_client_upper_bound": round(15 * lifetime),
        "cores": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sample_streams.measure_cpu", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--cameras", type=int, default=64)
    parser.add_argument("--clients", type=int, action="append", default=[])
    parser.add_argument("--window-s", type=float, default=20.0)
    parser.add_argument("--settle-s", type=float, default=8.0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for clients in args.clients or [0, 8]:
        result = measure(args.cameras, clients, args.window_s, args.settle_s)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
