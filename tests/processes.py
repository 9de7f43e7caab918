"""Ending a test's subprocesses without leaving any of their ffmpeg children behind."""

from __future__ import annotations

import subprocess

import psutil


def kill_edge(process: subprocess.Popen[bytes]) -> None:
    """Kill an edge worker still running, then any ffmpeg it (or this test) left."""
    if process.poll() is None:
        process.kill()
        process.wait(10)
    for child in psutil.Process().children(recursive=True):
        if child.name() == "ffmpeg":
            child.kill()
