"""``compoundeye bench bus``: events through a real Redis into one alerting process.

Two measurements against one private Redis and one ``compoundeye alerts`` subprocess
(SQLite store, the default):

- sustained throughput: N events of a realistic mix (motion starts and ends, door
  grants, opens and closes, camera offline/online flaps, tamper, forced doors) are put
  on ``ce:events`` while the service process is paused (SIGSTOP); it is then resumed and
  the rate is N over the time from resuming to the last acknowledgement;
- latency at 2,000 events/s: the same mix, paced, while a reader follows ``ce:alerts``;
  for every event behind an alert change, the time from its XADD to the change (row
  committed, then appended) being read back. p50 and p99.

Then the publish path with and without waiting for a replica (``bench/bus_publish.py``:
the edge publisher's events/s and the door listener's milliseconds per event, on a
primary, replica and three Sentinels).

Baseline in the same run: ``redis-benchmark`` XADD requests per second on the same
server (50 clients, no pipelining). ratio = our events/s over that rate: the alerting
service against the raw speed at which Redis can take the events in.
Targets: >= 20,000 events/s sustained; p99 <= 50 ms at 2,000 events/s.

The store is a fresh SQLite file (the default deployment); ``CE_BENCH_BUS_DATABASE_URL``
points the service at another (an empty PostgreSQL database) instead.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis
import yaml

from bench.bus_publish import measure_publish
from bench.runner import BenchResult
from compoundeye import names
from compoundeye.events import Event, EventKind, make_event
from compoundeye.redis_text import text
from compoundeye.services import ServiceSet
from compoundeye.site.models import (
    Alerting,
    Camera,
    Door,
    Location,
    Schedule,
    Site,
    TimeRange,
    Zone,
)
from compoundeye.timeutil import utcnow

log = logging.getLogger(__name__)

TARGET_RATE = 20_000.0
TARGET_P99_MS = 50.0
PACED_RATE = 2_000
CAMERAS = 400
DOORS = 100
SQUARE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]

# (kind, weight): a busy hour of a compound, motion dominating
MIX: tuple[tuple[str, int], ...] = (
    ("motion.start", 38), ("motion.end", 38), ("door.granted", 8), ("door.opened", 6),
    ("door.closed", 6), ("camera.offline", 1), ("camera.online", 1), ("camera.tamper", 1),
    ("door.forced", 1),
)


def bench_site() -> Site:
    """400 cameras (a lobby zone armed around the clock), 100 doors with 2 cameras each."""
    armed = Schedule(ranges=[TimeRange()])
    cameras = [Camera(id=f"cam-{i:04d}", main_url=f"rtsp://bench/{i}",
                      location=Location(building=f"B{i % 40:03d}", lat=31.11, lon=121.38),
                      zones=[Zone(name="lobby", polygon=SQUARE, armed_schedule="always"),
                             Zone(name="street", polygon=SQUARE)])
               for i in range(CAMERAS)]
    doors = [Door(id=f"door-{i:03d}", location=Location(building=f"B{i % 40:03d}", lat=31.11,
                                                         lon=121.38),
                  cameras=[f"cam-{(2 * i) % CAMERAS:04d}", f"cam-{(2 * i + 1) % CAMERAS:04d}"])
             for i in range(DOORS)]
    # no edge workers here: keep the stale-heartbeat watchdog from flagging every camera
    return Site(cameras=cameras, doors=doors, schedules={"always": armed},
                alerting=Alerting(camera_stale_seconds=86_400))


class Mix:
    """Generates the event mix with unique ids and current times."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        kinds, weights = zip(*MIX, strict=True)
        self.kinds = [EventKind(k) for k in kinds]
        self.weights = list(weights)
        self.n = 0

    def next(self) -> Event:
        self.n += 1
        kind = self.rng.choices(self.kinds, self.weights)[0]
        now = utcnow()
        if kind.value.startswith("door."):
            door = f"door-{self.rng.randrange(DOORS):03d}"
            attrs: dict[str, Any] = {"credential": f"c{self.rng.randrange(5000)}"} \
                if kind is EventKind.DOOR_GRANTED else {}
            return make_event(kind, "door", door, now, attrs, id_parts=(self.n,))
        camera = f"cam-{self.rng.randrange(CAMERAS):04d}"
        attrs = {}
        if kind in (EventKind.MOTION_START, EventKind.MOTION_END):
            attrs = {"zone": "lobby" if self.rng.random() < 0.1 else "street"}
            if kind is EventKind.MOTION_START:
                attrs["snapshot"] = f"snapshots/{camera}/{self.n}.jpg"
        elif kind is EventKind.CAMERA_TAMPER:
            attrs = {"reason": self.rng.choice(["covered", "blackout", "defocus"])}
        return make_event(kind, "camera", camera, now, attrs, id_parts=(self.n,))


def _xadd_all(client: redis.Redis, events: list[Event]) -> None:
    for start in range(0, len(events), 1000):
        pipe = client.pipeline(transaction=False)
        for event in events[start:start + 1000]:
            pipe.xadd(names.EVENTS_STREAM, {names.EVENT_FIELD: event.to_json()})
        pipe.execute()


def _group(client: redis.Redis, wanted: str = names.ALERTS_GROUP) -> dict[str, Any] | None:
    try:
        for group in client.xinfo_groups(names.EVENTS_STREAM):
            name = group["name"]
            if text(name) == wanted:
                return dict(group)
    except redis.ResponseError:
        return None
    return None


def _acked(client: redis.Redis) -> int:
    """Entries done by both groups: the alerting group and the door-rules group."""
    done = []
    for wanted in (names.ALERTS_GROUP, names.DOOR_RULES_GROUP):
        group = _group(client, wanted)
        if group is None or group.get("entries-read") is None:
            return 0
        done.append(int(group["entries-read"]) - int(group["pending"]))
    return min(done)


def redis_benchmark_xadd(port: int, requests: int) -> float:
    """XADD requests per second from ``redis-benchmark`` on the same server."""
    exe = shutil.which("redis-benchmark")
    if exe is None:
        raise RuntimeError("redis-benchmark not installed")
    payload = json.dumps({"id": "x" * 24, "ts": "2026-11-28T01:00:00.000Z",
                          "kind": "motion.start", "source": {"type": "camera", "id": "cam-1"},
                          "attrs": {"zone": "lobby"}}, separators=(",", ":"))
    out = subprocess.run([exe, "-p", str(port), "-n", str(requests), "-q", "XADD",
                          "bench:baseline", "*", "e", payload],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    found = re.findall(r"([\d.]+) requests per second", out)
    if not found:
        raise RuntimeError(f"unexpected redis-benchmark output: {out!r}")
    return float(found[-1])


def _start_service(site_file: Path, env: dict[str, str], log_file: Path
                   ) -> subprocess.Popen[bytes]:
    handle = log_file.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "compoundeye.cli", "--log-level", "WARNING", "alerts", "--site",
         str(site_file), "--consumer", "bench"],
        env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT,
        start_new_session=True)


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.005)


def throughput(client: redis.Redis, service: subprocess.Popen[bytes], count: int,
               mix: Mix) -> tuple[float, float]:
    """Load ``count`` events while the service is paused (SIGSTOP), then time it through.

    The clock runs from SIGCONT to the last acknowledgement, so loading the backlog and
    starting the process are not counted, and the service always has work waiting.
    """
    events = [mix.next() for _ in range(count)]
    base = _acked(client)
    service.send_signal(signal.SIGSTOP)
    try:
        _xadd_all(client, events)
    finally:
        t0 = time.perf_counter()
        service.send_signal(signal.SIGCONT)
    _wait(lambda: _acked(client) >= base + count, 600, "every event acknowledged")
    elapsed = time.perf_counter() - t0
    return count / elapsed, elapsed


def latency(client: redis.Redis, seconds: float, mix: Mix) -> tuple[list[float], int]:
    """Latencies (ms) from XADD to the alert change read on ``ce:alerts``, at 2,000/s."""
    sent: dict[str, float] = {}
    lat: list[float] = []
    stop = threading.Event()
    last = client.xrevrange(names.ALERTS_STREAM, count=1)
    cursor: Any = last[0][0] if last else b"0-0"
    reader_client: Any = redis.Redis(connection_pool=client.connection_pool)

    def read() -> None:
        nonlocal cursor
        while not stop.is_set():
            got = reader_client.xread({names.ALERTS_STREAM: cursor}, count=1000, block=100)
            now = time.perf_counter()
            for _stream, items in got or []:
                for entry_id, fields in items:
                    cursor = entry_id
                    change = json.loads(fields[names.ALERT_FIELD.encode()])
                    for event_id in change.get("details", {}).get("event_ids", []):
                        t = sent.pop(event_id, None)
                        if t is not None:
                            lat.append((now - t) * 1000)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    per_tick = PACED_RATE // 100
    ticks = int(seconds * 100)
    start = time.perf_counter()
    for tick in range(ticks):
        events = [mix.next() for _ in range(per_tick)]
        pipe = client.pipeline(transaction=False)
        for event in events:
            pipe.xadd(names.EVENTS_STREAM, {names.EVENT_FIELD: event.to_json()})
        t_send = time.perf_counter()
        pipe.execute()
        for event in events:
            sent[event.id] = t_send
        delay = start + (tick + 1) / 100 - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    time.sleep(1.0)
    stop.set()
    reader.join(timeout=5)
    return lat, ticks * per_tick


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(quick: bool) -> BenchResult:
    """Run the bus benchmark (``quick``: fewer events, shorter paced phase)."""
    count = 40_000 if quick else 200_000
    paced_seconds = 5.0 if quick else 15.0
    mix = Mix(seed=5)
    with ServiceSet(env={"CE_MQTT_URL": "mqtt://127.0.0.1:1",
                         "CE_TSDB_URL": "http://127.0.0.1:1"}) as services, \
            tempfile.TemporaryDirectory(prefix="ce-bench-bus-") as tmp:
        work = Path(tmp)
        port = int(services.redis_url.rsplit(":", 1)[1].split("/")[0])
        client = redis.Redis.from_url(services.redis_url)
        site_file = work / "site.yaml"
        site_file.write_text(yaml.safe_dump(bench_site().model_dump(
            mode="json", exclude_defaults=True)), encoding="utf-8")
        database = os.environ.get("CE_BENCH_BUS_DATABASE_URL") or \
            f"sqlite:///{work / 'alerts.db'}"
        env = {"CE_REDIS_URL": services.redis_url, "CE_DATA_DIR": str(work / "data"),
               "CE_DATABASE_URL": database}
        service = _start_service(site_file, env, work / "alerts.log")
        try:
            _wait(lambda: _group(client) is not None, 30, "the consumer group")
            warm = [mix.next() for _ in range(2000)]
            _xadd_all(client, warm)
            _wait(lambda: _acked(client) >= len(warm), 60, "the warm-up")
            rate, elapsed = throughput(client, service, count, mix)
            lat, paced = latency(client, paced_seconds, mix)
            if service.poll() is not None:
                raise RuntimeError("the alerting service died: "
                                   + (work / "alerts.log").read_text()[-2000:])
        finally:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=20)
            except subprocess.TimeoutExpired:
                service.kill()
        baseline = redis_benchmark_xadd(port, 50_000 if quick else 200_000)
        alerts = client.xlen(names.ALERTS_STREAM)
    p50, p99 = _pct(lat, 0.50), _pct(lat, 0.99)
    publish = measure_publish(quick)
    return BenchResult(
        name="bus", value=round(rate, 1), unit="events/s",
        baseline="redis-benchmark XADD (50 clients, no pipelining) on the same server",
        baseline_value=round(baseline, 1), ratio=round(rate / baseline, 3),
        extra={
            "events": count, "seconds": round(elapsed, 3), "target_events_per_s": TARGET_RATE,
            "meets_rate_target": rate >= TARGET_RATE,
            "paced_rate": PACED_RATE, "paced_events": paced, "latency_samples": len(lat),
            "p50_ms": round(p50, 2), "p99_ms": round(p99, 2), "target_p99_ms": TARGET_P99_MS,
            "meets_latency_target": p99 <= TARGET_P99_MS, "alert_changes": alerts,
            "store": database.split(":", 1)[0], "quick": quick, **publish,
        },
    )
