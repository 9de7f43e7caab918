"""One phase of ``bench scale``: the control plane as real processes, loaded, then read.

Private Redis, Mosquitto and VictoriaMetrics (:class:`compoundeye.services.ServiceSet`),
a fresh PostgreSQL database (SQLite when no server answers), and under the project's
:class:`compoundeye.supervisor.Supervisor`: ``compoundeye doors`` (the MQTT door
listener), two ``compoundeye alerts`` replicas in one consumer group, ``compoundeye
dashboard`` (uvicorn), then the load (``bench.scale.fleet``, ``bench.scale.doorgen``)
and the desks (``bench.scale.desks``). While the window runs the ops page's data path is
polled over HTTP and every process's CPU time and resident memory are sampled (psutil).
Then the load stops, the consumer groups drain, and the books are read.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis

from bench.scale.reconcile import Books, group_backlog, read_stream, reconcile
from compoundeye import names
from compoundeye.auth.roles import Role
from compoundeye.auth.tokens import add_token
from compoundeye.services import POSTGRES_ADMIN_URL, ServiceSet, free_port, scratch_database
from compoundeye.site import load_site
from compoundeye.supervisor import ChildSpec, Supervisor

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent.parent
CONTROL_PLANE = ("alerts-1", "alerts-2", "dashboard", "doors")
LOAD = ("fleet", "doorgen", "desks")
SAMPLE_SECONDS = 2.0
PAGE_ROWS = 100
PAGE_ASSETS = ("app.css", "live.css", "common.js", "vendor/mpegts.js", "live-player.js",
               "cameras.js")


@dataclass(frozen=True)
class Phase:
    """What one phase runs."""

    name: str
    site_file: Path
    seconds: float
    warmup: float = 10.0
    desks: int = 8
    shards: int = 12
    active_fraction: float = 0.2
    offline_per_s: float = 0.1
    tamper_per_s: float = 0.05
    passages_per_s: float = 4.0
    forced_every: float = 3.0
    held_every: float = 12.0
    ops_every: float | None = 5.0
    """Seconds between polls of the ops page's data path (None: not polled)."""


@dataclass
class PhaseResult:
    """What one phase measured."""

    phase: Phase
    cameras: int
    doors: int
    books: Books
    window_seconds: float
    cpu_cores: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    ops_ms: list[float] = field(default_factory=list)
    cameras_api_ms: list[float] = field(default_factory=list)
    ops_parts_ms: dict[str, list[float]] = field(default_factory=dict)
    ops_errors: int = 0
    redis: dict[str, Any] = field(default_factory=dict)
    tsdb_samples_per_s: float = 0.0
    load_stats: dict[str, Any] = field(default_factory=dict)
    store: str = ""
    drain_seconds: float = 0.0


@contextlib.contextmanager
def database(work: Path) -> Iterator[str]:
    """A fresh PostgreSQL database (dropped afterwards), or a SQLite file without one.

    ``CE_BENCH_SCALE_DATABASE_URL`` names an (empty) database to use instead."""
    given = os.environ.get("CE_BENCH_SCALE_DATABASE_URL")
    if given:
        yield given
        return
    try:
        import psycopg

        admin_url = os.environ.get("CE_TEST_POSTGRES") or POSTGRES_ADMIN_URL
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except Exception as exc:  # no server: the default deployment's SQLite
        log.warning("PostgreSQL not reachable (%s): the store is a SQLite file", exc)
        yield f"sqlite:///{work / 'alerts.db'}"
        return
    with scratch_database(admin, admin_url, "ce_bench_scale") as url:
        yield url


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "compoundeye.cli", "--log-level", "WARNING", *args]


def _wait(check: Any, seconds: float, what: str, step: float = 0.1) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            raise RuntimeError(f"{what} did not happen within {seconds:.0f} s")
        time.sleep(step)
    return time.monotonic() - started


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _vm_rows(tsdb_url: str) -> float:
    """Rows VictoriaMetrics has taken in so far (its own counter)."""
    body = httpx.get(f"{tsdb_url}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
               if line.startswith("vm_rows_inserted_total"))


class _Sampler:
    """CPU seconds and resident memory of named processes over the window."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.cpu0 = {name: self._cpu(p) for name, p in self.procs.items()}
        self.rss: dict[str, list[float]] = {name: [] for name in self.procs}
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._thread.start()

    @staticmethod
    def _cpu(proc: psutil.Process) -> float:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            return float("nan")
        return float(times.user + times.system)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            for name, proc in self.procs.items():
                with contextlib.suppress(psutil.Error):
                    self.rss[name].append(proc.memory_info().rss / 2**20)

    def finish(self) -> tuple[float, dict[str, float], dict[str, float]]:
        self._stop.set()
        self._thread.join(timeout=5)
        seconds = time.monotonic() - self.t0
        cores = {name: round((self._cpu(p) - self.cpu0[name]) / seconds, 4)
                 for name, p in self.procs.items()}
        rss = {name: round(max(values), 1) for name, values in self.rss.items() if values}
        return seconds, cores, rss


class _OpsPoller:
    """The ops page's data path as the page loads it, every ``every`` seconds.

    As ``dashboard/static/cameras.js`` and a browser do: the page, its scripts and styles
    (in parallel, as a browser fetches them), ``/api/me``, ``/api/cameras``; then at once
    the first rows' fps sparklines and uptime over 24 h and 7 d. The time is until the
    last of them has arrived."""

    def __init__(self, base: str, token: str, every: float) -> None:
        self.every = every
        self.http = httpx.Client(base_url=base, timeout=30,
                                 headers={"Authorization": f"Bearer {token}"},
                                 limits=httpx.Limits(max_connections=6))
        signed = self.http.post("/auth/login", data={"token": token})
        if signed.status_code != 303:
            raise RuntimeError(f"ops sign-in failed: {signed.status_code}")
        self.pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="ops")
        self.page_ms: list[float] = []
        self.api_ms: list[float] = []
        self.parts: dict[str, list[float]] = {}
        """Each request's time by part of the path (page, assets, uptime, ...)."""
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ops", daemon=True)
        self._thread.start()

    def _get(self, path: str, params: Any = None, part: str = "") -> httpx.Response:
        started = time.perf_counter()
        response = self.http.get(path, params=params)
        response.raise_for_status()
        if part:
            self.parts.setdefault(part, []).append((time.perf_counter() - started) * 1000)
        return response

    def poll(self) -> None:
        started = time.perf_counter()
        self._get("/cameras", part="page")
        assets = time.perf_counter()
        for done in [self.pool.submit(self._get, f"/static/{name}") for name in PAGE_ASSETS]:
            done.result()
        self.parts.setdefault("assets", []).append((time.perf_counter() - assets) * 1000)
        self._get("/api/me", part="me")
        api = time.perf_counter()
        rows = self._get("/api/cameras").json()["cameras"]
        self.api_ms.append((time.perf_counter() - api) * 1000)
        first = [("camera", r["id"]) for r in rows[:PAGE_ROWS]]
        after = [self.pool.submit(self._get, "/api/cameras/fps", [*first, ("window", "1h")],
                                  "fps"),
                 self.pool.submit(self._get, "/api/uptime", {"window": "24h"}, "uptime_24h"),
                 self.pool.submit(self._get, "/api/uptime", {"window": "7d"}, "uptime_7d")]
        for done in after:
            done.result()
        self.page_ms.append((time.perf_counter() - started) * 1000)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.poll()
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                self.errors += 1
                log.warning("ops poll failed: %s", exc)

    def finish(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self.pool.shutdown()
        self.http.close()


def _terminate(supervisor: Supervisor, name: str, timeout: float = 60) -> None:
    """SIGTERM one child and wait for it (it writes its ledger on the way out)."""
    process = supervisor.child(name).process
    if process is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=timeout)


def run_phase(phase: Phase, work: Path) -> PhaseResult:
    """Run one phase start to finish in ``work`` and balance its books."""
    work.mkdir(parents=True, exist_ok=True)
    site = load_site(phase.site_file)
    with ServiceSet(env={}) as services, database(work) as db_url:
        tokens_file = work / "tokens.json"
        operator = add_token(tokens_file, "bench-desk", Role.OPERATOR)
        ops = add_token(tokens_file, "bench-ops", Role.OPS)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**services.env_vars(), "CE_DATA_DIR": str(work / "data"),
               "CE_TOKENS_FILE": str(tokens_file), "CE_DATABASE_URL": db_url,
               "PYTHONUNBUFFERED": "1"}
        client = redis.Redis.from_url(services.redis_url)
        supervisor = Supervisor(stop_timeout=20.0)
        site_arg = str(phase.site_file)
        specs = [
            ChildSpec("doors", _cli("doors", "--site", site_arg), env=env, cwd=REPO),
            ChildSpec("alerts-1", _cli("alerts", "--site", site_arg, "--consumer", "alerts-1"),
                      env=env, cwd=REPO),
            ChildSpec("alerts-2", _cli("alerts", "--site", site_arg, "--consumer", "alerts-2"),
                      env=env, cwd=REPO),
            ChildSpec("dashboard", _cli("dashboard", "--site", site_arg, "--port", str(port)),
                      env=env, cwd=REPO),
        ]
        for spec in specs:
            supervisor.add(ChildSpec(**{**spec.__dict__, "restart": False}))
        try:
            supervisor.start()
            _wait(lambda: _answers(f"{base}/api/health"), 90, "the dashboard answering")
            _wait(lambda: len(group_backlog(client)) >= 2 and -1 not in
                  group_backlog(client).values(), 60, "both consumer groups")
            ledger = {"fleet": work / "fleet.jsonl", "doorgen": work / "doors.jsonl"}
            load_env = {**env, "CE_BENCH_MQTT_URL": services.mqtt_url}
            py = [sys.executable, "-m"]
            supervisor.add(ChildSpec("fleet", [
                *py, "bench.scale.fleet", "--site", site_arg, "--ledger", str(ledger["fleet"]),
                "--shards", str(phase.shards), "--active-fraction", str(phase.active_fraction),
                "--offline-per-s", str(phase.offline_per_s),
                "--tamper-per-s", str(phase.tamper_per_s)],
                env=load_env, cwd=REPO, restart=False, ready_prefix="READY"))
            supervisor.add(ChildSpec("doorgen", [
                *py, "bench.scale.doorgen", "--site", site_arg,
                "--ledger", str(ledger["doorgen"]),
                "--passages-per-s", str(phase.passages_per_s),
                "--forced-every", str(phase.forced_every),
                "--held-every", str(phase.held_every)],
                env=load_env, cwd=REPO, restart=False, ready_prefix="READY"))
            for name in ("fleet", "doorgen"):
                if supervisor.wait_ready(name, 120) is None:
                    raise RuntimeError(f"{name} did not start")
            newest: Any = client.xrevrange(names.ALERTS_STREAM, count=1)
            after = newest[0][0].decode() if newest else "0-0"
            desks_out = work / "desks.json"
            supervisor.add(ChildSpec("desks", [
                *py, "bench.scale.desks", "--url", base, "--desks", str(phase.desks),
                "--after", after, "--out", str(desks_out)],
                env={**env, "CE_BENCH_DESK_TOKEN": operator}, cwd=REPO, restart=False,
                ready_prefix="READY"))
            if supervisor.wait_ready("desks", 60) is None:
                raise RuntimeError("the desks did not connect")
            time.sleep(phase.warmup)
            pids = {name: supervisor.child(name).pid for name in (*CONTROL_PLANE, *LOAD)}
            pids.update({name: pid for name, pid in services.pids().items()})
            sampler = _Sampler({k: v for k, v in pids.items() if v is not None})
            window_start = time.time()
            rows0 = _vm_rows(services.tsdb_url)
            memory0: Any = client.info("memory")
            poller = _OpsPoller(base, ops, phase.ops_every) if phase.ops_every else None
            time.sleep(phase.seconds)
            window, cores, rss = sampler.finish()
            window_end = time.time()
            samples_per_s = (_vm_rows(services.tsdb_url) - rows0) / window
            redis_figures = _redis_figures(client, memory0)  # before the status keys expire
            if poller is not None:
                poller.finish()
            dead = [n for n in (*CONTROL_PLANE, *LOAD) if not supervisor.child(n).running]
            if dead:
                raise RuntimeError(f"processes died during the run: {dead} (see the log)")
            for name in ("fleet", "doorgen"):
                _terminate(supervisor, name)
            drained = time.monotonic()
            _wait(lambda: all(v == 0 for v in group_backlog(client).values()), 120,
                  "the consumer groups draining", step=0.25)
            drain = time.monotonic() - drained
            tail: Any = client.xrevrange(names.ALERTS_STREAM, count=1)
            desk_tail = tail[0][0].decode() if tail else after
            time.sleep(3.0)  # what was announced by then reaches the desks
            _terminate(supervisor, "desks")
            events = read_stream(client, names.EVENTS_STREAM, names.EVENT_FIELD)
            changes = read_stream(client, names.ALERTS_STREAM, names.ALERT_FIELD, after)
            books = reconcile(site, _lines(ledger["fleet"]), _lines(ledger["doorgen"]),
                              events, changes, json.loads(desks_out.read_text()),
                              (window_start, window_end), desk_tail)
            stats = {name: json.loads(path.with_suffix(".stats.json").read_text())
                     for name, path in ledger.items()}
        finally:
            supervisor.shutdown()
            client.close()
    result = PhaseResult(phase, len(site.cameras), len(site.doors), books, round(window, 1),
                         cores, rss, redis=redis_figures,
                         tsdb_samples_per_s=round(samples_per_s, 1), load_stats=stats,
                         store=db_url.split(":", 1)[0].split("+", 1)[0],
                         drain_seconds=round(drain, 2))
    if poller is not None:
        result.ops_ms, result.cameras_api_ms = poller.page_ms, poller.api_ms
        result.ops_errors = poller.errors
        result.ops_parts_ms = poller.parts
    return result


def _key_sizes(client: redis.Redis, pattern: str, sample: int = 200) -> list[int]:
    """``MEMORY USAGE`` of up to ``sample`` keys matching ``pattern``."""
    keys = itertools.islice(client.scan_iter(match=pattern, count=1000), sample)
    return [int(client.memory_usage(key) or 0) for key in keys]


def _redis_figures(client: redis.Redis, before: dict[str, Any]) -> dict[str, Any]:
    """Redis's memory, and what one event costs it: its stream entry and its 24 h
    idempotency key (``MEMORY USAGE``, the keys sampled)."""
    memory: Any = client.info("memory")
    events = int(client.xlen(names.EVENTS_STREAM))
    stream_bytes = client.memory_usage(names.EVENTS_STREAM, samples=0) or 0
    changes = int(client.xlen(names.ALERTS_STREAM))
    changes_bytes = client.memory_usage(names.ALERTS_STREAM, samples=0) or 0
    seen_bytes = _key_sizes(client, names.seen_key("*"))
    status_bytes = _key_sizes(client, names.camera_status_key("*"))
    return {
        "used_memory_mb": round(memory["used_memory"] / 2**20, 1),
        "used_memory_peak_mb": round(memory["used_memory_peak"] / 2**20, 1),
        "used_memory_at_window_start_mb": round(before["used_memory"] / 2**20, 1),
        "keys": client.dbsize(), "events_stream": events,
        "alerts_stream": changes,
        "event_entry_bytes": round(stream_bytes / events) if events else None,
        "alert_change_entry_bytes": round(changes_bytes / changes) if changes else None,
        "seen_key_bytes": round(sum(seen_bytes) / len(seen_bytes)) if seen_bytes else None,
        "status_hash_bytes": round(sum(status_bytes) / len(status_bytes))
        if status_bytes else None,
    }


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]
