"""Real ``compoundeye edge``, ``alerts`` and ``dashboard`` processes on the private
services and an RTSP simulator, for the recording-health acceptance tests."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis

from compoundeye import names
from compoundeye.auth.roles import Role
from compoundeye.auth.tokens import add_token
from compoundeye.events import Event
from compoundeye.redis_text import text_map
from compoundeye.services import ServiceSet, free_port
from tests.alerts.processes import process

EDGE_READY = re.compile(r"^(\S+Z) INFO +ingest\.worker: edge worker \S+: shard", re.MULTILINE)


@dataclass
class RecordingStack:
    """The running processes and how to reach them."""

    base_url: str
    redis_url: str
    tsdb_url: str
    data_dir: Path
    tokens: dict[str, str]
    logs: dict[str, Path] = field(default_factory=dict)

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, socket_timeout=5)

    def status(self, camera: str) -> dict[str, str]:
        client = self.redis()
        try:
            return text_map(client.hgetall(names.camera_status_key(camera)))
        finally:
            client.close()

    def events(self, kind: str, camera: str) -> list[Event]:
        client: Any = self.redis()
        try:
            entries = client.xrange(names.EVENTS_STREAM)
        finally:
            client.close()
        found = [Event.from_json(fields[b"e"]) for _id, fields in entries]
        return [e for e in found if e.kind == kind and e.source.id == camera]

    def api(self, path: str, role: str, **params: Any) -> Any:
        response = httpx.get(f"{self.base_url}{path}", params=params, timeout=30,
                             headers={"Authorization": f"Bearer {self.tokens[role]}"})
        response.raise_for_status()
        return response.json()

    def recorder_started(self) -> datetime | None:
        """When the edge worker said its recorders were started (its log line's time)."""
        match = EDGE_READY.search(self.logs["edge"].read_text(errors="replace"))
        if match is None:
            return None
        return datetime.strptime(match[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

    def log_tail(self, name: str, lines: int = 30) -> str:
        return "\n".join(self.logs[name].read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def recording_stack(services: ServiceSet, base: Path, site_yaml: str,
                    env: dict[str, str] | None = None) -> Iterator[RecordingStack]:
    """Start the three processes (edge with DEBUG logs); stop them at the end."""
    client = redis.Redis.from_url(services.redis_url)
    try:
        client.flushall()  # a new alerting group reads ce:events from the start
    finally:
        client.close()
    site_file = base / "site.yaml"
    site_file.write_text(site_yaml, encoding="utf-8")
    tokens = {r.value: add_token(base / "tokens.json", f"{r.value}-1", r) for r in Role}
    port = free_port()
    full_env = {**services.env_vars(), "CE_DATA_DIR": str(base / "data"),
                "CE_TOKENS_FILE": str(base / "tokens.json"), "CE_DATABASE_URL": "",
                "PYTHONUNBUFFERED": "1", **(env or {})}
    stack = RecordingStack(f"http://127.0.0.1:{port}", services.redis_url, services.tsdb_url,
                           base / "data", tokens)
    commands = {
        "alerts": ["alerts", "--site", str(site_file)],
        "dashboard": ["dashboard", "--site", str(site_file), "--port", str(port)],
        "edge": ["--log-level", "DEBUG", "edge", "--site", str(site_file),
                 "--worker-id", "edge-rec"],
    }
    with ExitStack() as running:
        for name, command in commands.items():
            stack.logs[name] = base / f"{name}.log"
            proc = running.enter_context(process(command, full_env, stack.logs[name]))
            if name == "dashboard":
                _wait_healthy(stack, proc)
        yield stack


def _wait_healthy(stack: RecordingStack, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{stack.base_url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"dashboard did not start: {stack.log_tail('dashboard')}")


def dump_redis(url: str) -> bytes:
    """Every key and value in Redis (strings, hashes, streams, sets, lists), as bytes."""
    client: Any = redis.Redis.from_url(url)
    out: list[Any] = []
    try:
        for key in client.scan_iter(count=1000):
            kind = client.type(key)
            out.append(key)
            if kind == b"string":
                out.append(client.get(key) or b"")
            elif kind == b"hash":
                out += [b for pair in client.hgetall(key).items() for b in pair]
            elif kind == b"stream":
                for entry_id, fields in client.xrange(key):
                    out.append(entry_id)
                    out += [b for pair in fields.items() for b in pair]
            elif kind in (b"set",):
                out += list(client.smembers(key))
            elif kind == b"zset":
                out += [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
            elif kind == b"list":
                out += client.lrange(key, 0, -1)
    finally:
        client.close()
    return b"\n".join(x if isinstance(x, bytes) else str(x).encode() for x in out)


def dump_tsdb(url: str) -> bytes:
    """Every series and sample the TSDB holds (VictoriaMetrics' export API)."""
    response = httpx.get(f"{url}/api/v1/export", params={"match[]": '{__name__=~".+"}'},
                         timeout=60)
    response.raise_for_status()
    return response.content


def site_yaml(cameras: list[dict[str, Any]], *, segment_seconds: int) -> str:
    """A site file (JSON is YAML) with fast edge timings."""
    return json.dumps({
        "name": "recording health test",
        "edge": {"segment_seconds": segment_seconds, "metrics_interval_seconds": 2,
                 "offline_after_seconds": 10, "heartbeat_ttl_seconds": 15},
        "retention": {"min_free_bytes": 0},
        "cameras": [{"location": {"building": "B1", "zone": "gate", "lat": 31.11,
                                  "lon": 121.38}, **c} for c in cameras],
    }, indent=1)
