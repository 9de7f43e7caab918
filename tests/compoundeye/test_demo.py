"""``compoundeye demo``: everything starts, Ctrl-C (or --duration) leaves nothing running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from compoundeye.demo_site import write_demo_site
from compoundeye.site import load_site

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]


def _demo_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CE_")}
    env["CE_DATA_DIR"] = str(tmp_path / "data")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _start(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "compoundeye.cli", "demo", "--port", "0", *extra],
        cwd=REPO, env=_demo_env(tmp_path), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )


def _read_until_ready(proc: subprocess.Popen[str], timeout: float) -> list[str]:
    lines: list[str] = []
    done = threading.Event()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("ready:"):
                done.set()
                return
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    done.wait(timeout)
    return lines


def _tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _survivors(procs: list[psutil.Process], timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for p in procs:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
            except psutil.Error:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _strays_mentioning(text: str) -> list[str]:
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if text in cmd and p.pid != os.getpid():
            found.append(f"{p.pid} {cmd[:120]}")
    return found


def test_demo_site_is_valid(tmp_path: Path) -> None:
    path = write_demo_site(tmp_path / "site.yaml", "rtsp://127.0.0.1:9", cameras=5, doors=3)
    site = load_site(path)
    assert [c.id for c in site.cameras] == ["cam1", "cam2", "cam3", "cam4", "cam5"]
    assert site.cameras[0].main_url == "rtsp://127.0.0.1:9/cam1/main"
    assert [d.id for d in site.doors] == ["door-01", "door-02", "door-03"]
    assert site.cameras_for_door("door-02") == ["cam2"]


def test_demo_runs_everything_and_sigint_leaves_nothing(tmp_path: Path) -> None:
    proc = _start(tmp_path, "--cameras", "1", "--doors", "2")
    try:
        lines = _read_until_ready(proc, 150)
        output = "".join(lines)
        assert any(line.startswith("ready:") for line in lines), output
        for word in ("redis://127.0.0.1:", "mqtt://ce-site:***@127.0.0.1:", "http://127.0.0.1:",
                     "site", "doorsim"):
            assert word in output
        stack = json.loads((tmp_path / "data" / "demo" / "stack.json").read_text())
        # The broker is locked, its password only in stack.json (0600), never printed; the
        # URL there lets mosquitto_pub publish for a simulated door.
        password = urlsplit(stack["mqtt_url"]).password
        assert password and password not in output
        assert (tmp_path / "data" / "demo" / "stack.json").stat().st_mode & 0o077 == 0
        pub = subprocess.run(["mosquitto_pub", "-L", f"{stack['mqtt_url']}/doors/door-01/events",
                              "-q", "1", "-m", '{"event":"heartbeat"}'],
                             capture_output=True, text=True, timeout=20)
        assert pub.returncode == 0, pub.stderr
        anonymous = subprocess.run(["mosquitto_pub", "-L", "mqtt://" + stack["mqtt_url"].split(
            "@", 1)[1] + "/doors/door-01/events", "-m", "x"], capture_output=True, timeout=20)
        assert anonymous.returncode != 0
        assert set(stack) >= {"dashboard_url", "redis_url", "mqtt_url", "tsdb_url", "site_file",
                              "tokens"}
        load_site(stack["site_file"])
        if stack["dashboard_url"]:
            health = httpx.get(stack["dashboard_url"] + "api/health", timeout=10)
            assert health.status_code == 200
            assert set(stack["tokens"]) == {"operator", "investigator", "ops", "admin"}
        assert "live" in stack["processes"] and stack["live_url"].endswith("/ws")
        engine = stack["live_url"].replace("ws://", "http://").replace("/ws", "/health")
        assert httpx.get(engine, timeout=10).status_code == 200  # the live-view engine
        time.sleep(2)  # let the edge worker start its readers and recorders
        family = _tree(proc.pid)
        names = {p.name() for p in family}
        assert {"redis-server", "mosquitto", "victoria-metrics"} <= names, names
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    assert _survivors(family) == []
    assert _strays_mentioning(str(tmp_path)) == []
    assert not (tmp_path / "data" / "demo" / "stack.json").exists()


def test_demo_duration_stops_by_itself(tmp_path: Path) -> None:
    proc = _start(tmp_path, "--cameras", "0", "--doors", "1", "--duration", "3")
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    assert "ready:" in out and "demo stopped" in out
    assert _strays_mentioning(str(tmp_path)) == []
