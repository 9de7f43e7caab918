"""Real ``compoundeye`` processes for the end-to-end tests, and stream helpers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
import yaml

from compoundeye import names
from compoundeye.redis_text import text
from compoundeye.site.models import Site


def write_site(site: Site, path: Path) -> Path:
    path.write_text(yaml.safe_dump(site.model_dump(mode="json", exclude_defaults=True)),
                    encoding="utf-8")
    return path


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full = {**os.environ, **env}
    handle = log.open("ab")
    return subprocess.Popen([sys.executable, "-m", "compoundeye.cli", *command],
                            env=full, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return int(proc.returncode)


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path
            ) -> Iterator[subprocess.Popen[bytes]]:
    proc = start(command, env, log)
    try:
        yield proc
    finally:
        stop(proc)


def group_done(client: Any, wanted: tuple[str, ...] = (names.ALERTS_GROUP,
                                                     names.DOOR_RULES_GROUP)) -> bool:
    """Every entry of ce:events delivered to the alerting groups and acknowledged."""
    try:
        groups = {text(g["name"]): g
                  for g in client.xinfo_groups(names.EVENTS_STREAM)}
    except redis.ResponseError:
        return False
    length = client.xlen(names.EVENTS_STREAM)
    for name in wanted:
        group = groups.get(name)
        if group is None:
            return False
        read = group.get("entries-read")
        if group["pending"] != 0 or read is None or int(read) < length:
            return False
    return True
