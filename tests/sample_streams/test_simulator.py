"""The venv-side controller: start-up, control errors, and a stop that leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from sample_streams.simulator import RtspSimulator, SimulatorError

pytestmark = pytest.mark.timeout(120)


def group_members(pgid: int) -> list[str]:
    """Processes (pid and command) whose process group is pgid."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(f"{entry.name} {(entry / 'cmdline').read_bytes()!r}")
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_start_control_and_stop_leave_no_process():
    sim = RtspSimulator({"door1": "people", "door2": "quiet"}).start()
    pid = sim.pid
    assert pid is not None
    try:
        assert group_members(pid), "the simulator runs in its own process group"
        assert sim.cameras == {"door1": "people", "door2": "quiet"}
        assert sim.url("door1") == f"rtsp://127.0.0.1:{sim.port}/door1/sub"
        assert sim.url("door2", "main").endswith("/door2/main")
        assert sim.corrupt_url.endswith("/corrupt/sub")
        assert sim.status()["offline"] == []
        # A client makes the simulator build a GStreamer pipeline; stopping must still be clean.
        probe = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-rtsp_transport",
                "tcp",
                "-show_entries",
                "stream=width",
                "-of",
                "csv=p=0",
                sim.url("door1"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert probe.stdout.strip() == "640"
        with pytest.raises(SimulatorError, match="unknown camera"):
            sim.take_offline("nope")
        with pytest.raises(SimulatorError, match="bad command"):
            sim.command("explode")
        with pytest.raises(KeyError):
            sim.url("nope")
        assert 0 <= sim.clip_time("door2") < 30
    finally:
        sim.stop()
    assert sim.returncode == 0, "SIGTERM gives a clean exit"
    assert not sim.running
    deadline = time.monotonic() + 5
    while group_members(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert group_members(pid) == []
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    sim.stop()  # idempotent


def test_context_manager_and_bad_configuration():
    with RtspSimulator(1, clips=["quiet"]) as sim:
        pid = sim.pid
        assert sim.cameras == {"cam1": "quiet"}
    assert pid is not None and group_members(pid) == []
    broken = RtspSimulator({"cam1": "no-such-clip"}, ready_timeout_s=20)
    with pytest.raises(SimulatorError, match=r"not ready.*no-such-clip"):
        broken.start()
    assert not broken.running
