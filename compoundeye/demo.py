"""``compoundeye demo``: the whole compound on one machine, stopped cleanly by Ctrl-C.

Starts the services (private Redis, Mosquitto, VictoriaMetrics unless ``CE_*`` URLs are
set), the RTSP camera simulator and the door simulator, writes a demo site file, and runs
the edge worker, the alerting service and the dashboard under the process supervisor. It
prints what runs where and writes ``CE_DATA_DIR/demo/stack.json`` for scripts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from compoundeye.demo_site import door_ids, write_demo_site
from compoundeye.services import ServiceError, ServiceSet, free_port, port_is_free
from compoundeye.settings import Settings
from compoundeye.supervisor import ChildSpec, Supervisor

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = Path("/usr/bin/python3")
"""GStreamer's RTSP server binding (python3-gi) exists for the system Python only."""
RTSP_READY_TIMEOUT = 90.0
DASHBOARD_READY_TIMEOUT = 60.0
ESP_RFID_EVERY = 4
"""Every fourth simulated door speaks the esp-rfid format, the rest the native one."""

PROCESSES = (
    ("edge", "ingest.main"),
    ("alerts", "alerts.main"),
    ("dashboard", "dashboard.serve"),
    ("live", "dashboard.streaming.server"),
)


@dataclass
class Stack:
    """What the demo started, for the summary and ``stack.json``."""

    services: ServiceSet
    site_file: Path
    rtsp_base: str = ""
    dashboard_url: str = ""
    live_url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    running: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "dashboard_url": self.dashboard_url,
            "redis_url": self.services.redis_url,
            "mqtt_url": self.services.mqtt_url,
            "tsdb_url": self.services.tsdb_url,
            "site_file": str(self.site_file),
            "tokens": self.tokens,
            "rtsp_base": self.rtsp_base,
            "live_url": self.live_url,
            "processes": self.running,
        }


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "compoundeye.cli", *args]


def _rtsp_child(cameras: int, port: int) -> ChildSpec | None:
    if cameras <= 0:
        return None
    if not (REPO_ROOT / "sample_streams" / "rtsp_sim.py").exists() or not SYSTEM_PYTHON.exists():
        log.warning("RTSP simulator not available (sample_streams/rtsp_sim.py or %s missing): "
                    "cameras will show as offline", SYSTEM_PYTHON)  # fmt: skip
        return None
    argv = [str(SYSTEM_PYTHON), "-m", "sample_streams.rtsp_sim", "--host", "127.0.0.1",
            "--port", str(port), "--cameras", str(cameras)]  # fmt: skip
    return ChildSpec("rtsp", argv, env={"PYTHONPATH": str(REPO_ROOT)}, cwd=REPO_ROOT,
                     ready_prefix="READY")  # fmt: skip


def _door_child(services: ServiceSet, doors: int, prefix: str = "doors") -> ChildSpec | None:
    if doors <= 0:
        return None
    ids = door_ids(doors)
    esp = [d for i, d in enumerate(ids) if i % ESP_RFID_EVERY == ESP_RFID_EVERY - 1]
    argv = [sys.executable, "-m", "sample_streams.doorsim", "--mqtt-url", services.mqtt_url,
            "--doors", ",".join(ids), "--prefix", prefix, "--rate", "0.05", "--forced", "0.05",
            "--held-open", "15", "--heartbeat", "20"]  # fmt: skip
    if esp:
        argv += ["--esp-rfid", ",".join(esp)]
    return ChildSpec("doorsim", argv, cwd=REPO_ROOT)


def _make_tokens(path: Path) -> dict[str, str]:
    if not _available("dashboard.auth.tokens"):
        log.warning("dashboard.auth.tokens not available: no sign-in tokens")
        return {}
    from dashboard.auth.roles import Role
    from dashboard.auth.tokens import add_token

    return {role.value: add_token(path, f"demo-{role.value}", role) for role in Role}


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds sign-in tokens)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o600)


def _wait_http(url: str, stop: threading.Event, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        stop.wait(0.5)
    return False


def _summary(stack: Stack, args: argparse.Namespace, stack_file: Path) -> str:
    svc = stack.services
    origin = {n: "private" if svc.is_private(n) else "from environment"
              for n in ("redis", "mqtt", "tsdb")}  # fmt: skip
    lines = [
        "compoundeye demo",
        f"  redis      {svc.redis_url} ({origin['redis']})",
        f"  mqtt       {svc.mqtt_url} ({origin['mqtt']})",
        f"  tsdb       {svc.tsdb_url} ({origin['tsdb']})",
        f"  cameras    {args.cameras} simulated at {stack.rtsp_base or '(no RTSP simulator)'}"
        "/<camera>/main|sub",
        f"  doors      {args.doors} simulated on {svc.mqtt_url}: doors/<door>/events (native), "
        "doors/<door>/send (esp-rfid, every 4th door)",
        f"  site       {stack.site_file}",
        f"  processes  {', '.join(stack.running) or '(none)'}",
    ]
    if stack.missing:
        lines.append(f"  missing    {', '.join(stack.missing)} (handler module not there yet)")
    if stack.dashboard_url:
        lines.append(f"  dashboard  {stack.dashboard_url}")
    if stack.live_url:
        lines.append(f"  live       {stack.live_url} (live-view engine)")
    for role, token in stack.tokens.items():
        lines.append(f"  token      {role:<13} {token}")
    lines += [f"  stack      {stack_file}", "ready: press Ctrl-C to stop everything"]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """Handler of ``compoundeye demo``; returns when stopped, with nothing left running."""
    settings = Settings()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # readiness polls are not news
    data_dir = settings.data_dir.resolve()
    demo_dir = data_dir / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    supervisor = Supervisor(stop_timeout=10.0)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping the demo", signum)
        stop.set()
        supervisor.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    runner = threading.Thread(target=supervisor.run, name="supervisor")
    services = ServiceSet()
    stack_file = demo_dir / "stack.json"
    try:
        try:
            services.start()
        except ServiceError as exc:
            sys.stderr.write(f"demo: a service did not start: {exc}\n")
            return 1
        tokens_file = settings.effective_tokens_file.resolve()
        env = {
            **services.env_vars(),
            "CE_DATA_DIR": str(data_dir),
            "CE_TOKENS_FILE": str(tokens_file),
        }
        stack = Stack(services, demo_dir / "site.yaml")
        rtsp_port = free_port()
        simulators = (_rtsp_child(args.cameras, rtsp_port), _door_child(services, args.doors))
        for spec in simulators:
            if spec is not None:
                supervisor.add(spec)
        runner.start()
        if "rtsp" in {c.spec.name for c in supervisor.children()}:
            ready = supervisor.wait_ready("rtsp", RTSP_READY_TIMEOUT, max_failures=3)
            if ready is None and not stop.is_set():
                log.warning("the RTSP simulator is not ready (see its log above); "
                            "cameras will show as offline until it is")  # fmt: skip
            stack.rtsp_base = f"rtsp://127.0.0.1:{rtsp_port}"
        write_demo_site(stack.site_file, stack.rtsp_base or "rtsp://127.0.0.1:8554",
                        args.cameras, args.doors)  # fmt: skip
        stack.running = [c.spec.name for c in supervisor.children()]
        _start_processes(supervisor, stack, args, env, tokens_file, stop)
        _write_private(stack_file, json.dumps(stack.as_json(), indent=2) + "\n")
        if not stop.is_set():
            sys.stdout.write(_summary(stack, args, stack_file))
            sys.stdout.flush()
        stop.wait(args.duration)
    finally:
        supervisor.stop()
        if runner.is_alive():
            runner.join()
        else:
            supervisor.shutdown()
        services.stop()
        stack_file.unlink(missing_ok=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.stdout.write("demo stopped\n")
    return 0


def _start_processes(
    supervisor: Supervisor,
    stack: Stack,
    args: argparse.Namespace,
    env: dict[str, str],
    tokens_file: Path,
    stop: threading.Event,
) -> None:
    """Add edge, alerts and dashboard (those whose handler module exists) to the supervisor."""
    site = str(stack.site_file)
    port = args.port
    if port == 0 or not port_is_free(port, args.host):
        if port:
            log.warning("port %d is busy: the dashboard takes a free port instead", port)
        port = free_port(args.host)
    live_port = free_port(args.host)
    env = {**env, "CE_LIVE_PORT": str(live_port)}  # the dashboard tells pages where it is
    argv = {
        "live": _cli("live", "--site", site, "--host", args.host, "--port", str(live_port)),
        "edge": _cli("edge", "--site", site, "--doors"),
        "alerts": _cli("alerts", "--site", site),
        "dashboard": _cli("dashboard", "--site", site, "--host", args.host, "--port", str(port)),
    }
    for name, module in PROCESSES:
        if not _available(module):
            log.warning("%s not started: module %s does not exist yet", name, module)
            stack.missing.append(name)
            continue
        supervisor.add(ChildSpec(name, argv[name], env=env, cwd=REPO_ROOT,
                                 ready_prefix="READY" if name == "live" else None))
        stack.running.append(name)
        if name == "live":
            stack.live_url = f"ws://{args.host}:{live_port}/ws"
    if "dashboard" in stack.running:
        stack.dashboard_url = f"http://{args.host}:{port}/"
        stack.tokens = _make_tokens(tokens_file)
        if not _wait_http(stack.dashboard_url + "api/health", stop, DASHBOARD_READY_TIMEOUT):
            log.warning("the dashboard did not answer within %.0fs", DASHBOARD_READY_TIMEOUT)
