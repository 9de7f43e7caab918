"""A live stack for browser tests: real alerting service, door listener and dashboard
processes on the private services, with a small site and real recorded segments."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import redis
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from compoundeye.auth.roles import Role
from compoundeye.auth.tokens import add_token
from compoundeye.mqtt_url import parse_mqtt_url
from compoundeye.services import ServiceSet, free_port
from tests.evidence.conftest import record_segments

STACK_SITE = {
    "name": "browser test compound",
    "timezone": "UTC",
    "cameras": [
        {"id": cid, "name": f"Camera {cid}", "main_url": f"rtsp://127.0.0.1:1/{cid}",
         "location": {"building": building, "zone": "lobby", "lat": lat, "lon": lon},
         "sees_doors": sees}
        for cid, building, lat, lon, sees in [
            ("cam-A1", "B101", 31.1100, 121.3800, ["door-A"]),
            ("cam-A2", "B101", 31.1102, 121.3802, []),
            ("cam-B1", "B102", 31.1110, 121.3810, ["door-B"]),
        ]
    ],
    "doors": [
        {"id": "door-A", "name": "B101 main entrance",
         "location": {"building": "B101", "zone": "lobby", "lat": 31.1101, "lon": 121.3801}},
        {"id": "door-B", "name": "B102 main entrance",
         "location": {"building": "B102", "zone": "lobby", "lat": 31.1111, "lon": 121.3811}},
    ],
}


@dataclass
class Stack:
    """What a browser test needs to drive the live stack."""

    base_url: str
    redis_url: str
    tsdb_url: str
    tokens: dict[str, str]
    mqtt_url: str
    """The tools account: publishes for every door."""
    data_dir: Path
    recorded_from: datetime
    recorded_to: datetime
    logs: dict[str, Path] = field(default_factory=dict)
    restart_dashboard: Callable[[Callable[[], None]], None] = field(default=lambda _f: None)

    def publish_door(self, door_id: str, event: str) -> None:
        """What a door controller does: one QoS 1 message on its topic."""
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{door_id}")
        broker = parse_mqtt_url(self.mqtt_url)
        broker.configure(client)
        client.connect(broker.host, broker.port)
        client.loop_start()
        try:
            payload = json.dumps({"event": event, "ts": datetime.now(UTC).isoformat()})
            client.publish(f"doors/{door_id}/events", payload, qos=1).wait_for_publish(10)
        finally:
            client.loop_stop()
            client.disconnect()


def _wait_listener_online(url: str, timeout: float) -> None:
    online = threading.Event()

    def on_message(_c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        if b'"online"' in message.payload:
            online.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-watch-listener")
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe("doors/_listeners/+/status", qos=1)
    broker = parse_mqtt_url(url)
    broker.configure(client)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        if not online.wait(timeout):
            raise RuntimeError("door listener never came online")
    finally:
        client.loop_stop()
        client.disconnect()


def _empty_redis(services: ServiceSet) -> None:
    client = redis.Redis.from_url(services.redis_url)
    try:
        if services.is_private("redis"):
            client.flushall()
        else:
            client.flushdb()  # an external server: empty only our database
    finally:
        client.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@contextmanager
def live_stack(services: ServiceSet, base: Path) -> Iterator[Stack]:
    """Start ``compoundeye alerts``, ``compoundeye doors`` and ``compoundeye dashboard``."""
    data = base / "data"
    site_file = base / "site.yaml"
    # A new alerting group reads ce:events from the start: begin with an empty bus, not
    # with what earlier tests left on the session's Redis.
    _empty_redis(services)
    site_file.write_text(yaml.safe_dump(STACK_SITE))
    tokens = {r.value: add_token(base / "tokens.json", f"{r.value}-1", r) for r in Role}
    # Recordings of the camera that sees door-A around now: the alert's clip and the export.
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(seconds=now.second % 10 + 60)
    record_segments(data / "recordings", "cam-A1", start, 120, base / "work")
    # cam-B1 (sees door-B) records H.265: its clip cannot play in Chromium.
    record_segments(data / "recordings", "cam-B1", start, 300, base / "work", codec="libx265")
    port = free_port()
    env = {**os.environ, **services.env_vars(), "CE_DATA_DIR": str(data),
           "CE_TOKENS_FILE": str(base / "tokens.json"), "CE_DATABASE_URL": "",
           "PYTHONUNBUFFERED": "1"}
    commands = {
        "alerts": ["alerts", "--site", str(site_file)],
        "doors": ["doors", "--site", str(site_file)],
        "dashboard": ["dashboard", "--site", str(site_file), "--port", str(port)],
    }
    processes: dict[str, subprocess.Popen[bytes]] = {}
    logs: dict[str, Path] = {}
    url = f"http://127.0.0.1:{port}"

    def launch(name: str) -> None:
        logs[name] = base / f"{name}.log"
        with logs[name].open("ab") as log_file:
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", "compoundeye.cli", *commands[name]], env=env,
                stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_healthy() -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None
                                                  for p in processes.values()):
                raise RuntimeError("stack did not start: " + "; ".join(
                    f"{n}: {logs[n].read_text()[-800:]}" for n in logs))
            time.sleep(0.2)

    def restart_dashboard(while_down: Callable[[], None]) -> None:
        _stop(processes["dashboard"])
        while_down()
        launch("dashboard")
        wait_healthy()

    try:
        for name in commands:
            launch(name)
        wait_healthy()
        _wait_listener_online(services.mqtt_url, 30)
        yield Stack(url, services.redis_url, services.tsdb_url, tokens, services.mqtt_url,
                    data, start, start + timedelta(seconds=120), logs,
                    restart_dashboard)
    finally:
        for process in reversed(list(processes.values())):
            _stop(process)
