"""``compoundeye demo``: the whole compound on one machine, stopped cleanly by Ctrl-C.

Starts the services (private Redis, Mosquitto, VictoriaMetrics unless ``CE_*`` URLs are
set), the RTSP camera simulator and the door simulator, writes a demo site file, and runs
the edge worker, the alerting service and the dashboard under the process supervisor. It
prints what runs where and writes ``CE_DATA_DIR/demo/stack.json`` for scripts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from compoundeye.auth.roles import Role
from compoundeye.auth.tokens import add_token
from compoundeye.demo_site import door_ids, write_demo_site
from compoundeye.process import run_until_signalled
from compoundeye.redact import redact_url
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

PROCESSES = ("live", "edge", "alerts", "dashboard")
"""The compound's own processes (the live-view engine first), started in this order after
the simulators."""


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


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "compoundeye.cli", *args]


def _rtsp_child(cameras: int, port: int) -> ChildSpec | None:
    if cameras <= 0:
        return None
    if not (REPO_ROOT / "sample_streams" / "rtsp_sim.py").exists() or not SYSTEM_PYTHON.exists():
        log.warning("RTSP simulator not available (sample_streams/rtsp_sim.py or %s missing): "
                    "cameras will show as offline", SYSTEM_PYTHON)
        return None
    argv = [str(SYSTEM_PYTHON), "-m", "sample_streams.rtsp_sim", "--host", "127.0.0.1",
            "--port", str(port), "--cameras", str(cameras)]
    return ChildSpec("rtsp", argv, env={"PYTHONPATH": str(REPO_ROOT)}, cwd=REPO_ROOT,
                     ready_prefix="READY")


def _door_child(services: ServiceSet, doors: int, prefix: str = "doors") -> ChildSpec | None:
    if doors <= 0:
        return None
    ids = door_ids(doors)
    esp = [d for i, d in enumerate(ids) if i % ESP_RFID_EVERY == ESP_RFID_EVERY - 1]
    argv = [sys.executable, "-m", "sample_streams.doorsim", "--mqtt-url", services.mqtt_url,
            "--doors", ",".join(ids), "--prefix", prefix, "--rate", "0.05", "--forced", "0.05",
            "--held-open", "15", "--heartbeat", "20"]
    if esp:
        argv += ["--esp-rfid", ",".join(esp)]
    return ChildSpec("doorsim", argv, cwd=REPO_ROOT)


def _make_tokens(path: Path) -> dict[str, str]:
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


@dataclass(frozen=True)
class DemoOptions:
    """What ``compoundeye demo`` was asked for."""

    cameras: int = 16
    doors: int = 16
    port: int = 8080
    """Dashboard port; 0 or a busy port: a free one."""
    host: str = "127.0.0.1"
    duration: float | None = None
    """Stop by itself after this many seconds; None: run until stopped."""

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DemoOptions:
        return cls(cameras=args.cameras, doors=args.doors, port=args.port, host=args.host,
                   duration=args.duration)


def _summary(stack: Stack, options: DemoOptions, stack_file: Path) -> str:
    svc = stack.services
    origin = {n: "private" if svc.is_private(n) else "from environment"
              for n in ("redis", "mqtt", "tsdb")}
    lines = [
        "compoundeye demo",
        f"  redis      {redact_url(svc.redis_url)} ({origin['redis']})",
        f"  mqtt       {redact_url(svc.mqtt_url)} ({origin['mqtt']}; with its password in "
        f"{stack_file.name})",
        f"  tsdb       {svc.tsdb_url} ({origin['tsdb']})",
        f"  cameras    {options.cameras} simulated at "
        f"{stack.rtsp_base or '(no RTSP simulator)'}/<camera>/main|sub",
        f"  doors      {options.doors} simulated on {redact_url(svc.mqtt_url)}: "
        "doors/<door>/events (native), doors/<door>/send (esp-rfid, every 4th door)",
        f"  site       {stack.site_file}",
        f"  processes  {', '.join(stack.running) or '(none)'}",
    ]
    if stack.dashboard_url:
        lines.append(f"  dashboard  {stack.dashboard_url}")
    if stack.live_url:
        lines.append(f"  live       {stack.live_url} (live-view engine)")
    for role, token in stack.tokens.items():
        lines.append(f"  token      {role:<13} {token}")
    lines += [f"  stack      {stack_file}", "ready: press Ctrl-C to stop everything"]
    return "\n".join(lines) + "\n"


class Demo:
    """The whole compound on this machine: ``run()`` starts the services, the simulators
    and the compound's processes under a :class:`Supervisor`, and blocks until ``stop()``
    (or the duration); everything it started is stopped before it returns."""

    def __init__(self, options: DemoOptions, settings: Settings | None = None) -> None:
        self.options = options
        self.settings = settings or Settings()
        self.exit_code = 0
        """0 after a clean run, 1 when a service did not start."""
        self._stop = threading.Event()
        self._supervisor = Supervisor(stop_timeout=10.0)

    def stop(self) -> None:
        """Ask ``run()`` to stop everything and return (safe from a signal handler)."""
        log.info("stopping the demo")
        self._stop.set()
        self._supervisor.stop()

    def run(self) -> None:
        """Start everything, wait for the stop, then stop everything (in ``finally``)."""
        logging.getLogger("httpx").setLevel(logging.WARNING)  # readiness polls are not news
        data_dir = self.settings.data_dir.resolve()
        demo_dir = data_dir / "demo"
        demo_dir.mkdir(parents=True, exist_ok=True)
        supervising = threading.Thread(target=self._supervisor.run, name="supervisor")
        services = ServiceSet()
        stack_file = demo_dir / "stack.json"
        try:
            try:
                services.start()
            except ServiceError as exc:
                sys.stderr.write(f"demo: a service did not start: {exc}\n")
                self.exit_code = 1
                return
            tokens_file = self.settings.effective_tokens_file.resolve()
            env = {
                **services.env_vars(),
                "CE_DATA_DIR": str(data_dir),
                "CE_TOKENS_FILE": str(tokens_file),
            }
            stack = Stack(services, demo_dir / "site.yaml")
            self._start_simulators(stack, supervising)
            self._start_processes(stack, env, tokens_file)
            _write_private(stack_file, json.dumps(stack.as_json(), indent=2) + "\n")
            if not self._stop.is_set():
                sys.stdout.write(_summary(stack, self.options, stack_file))
                sys.stdout.flush()
            self._stop.wait(self.options.duration)
        finally:
            self._supervisor.stop()
            if supervising.is_alive():
                supervising.join()
            else:
                self._supervisor.shutdown()
            services.stop()
            stack_file.unlink(missing_ok=True)
            sys.stdout.write("demo stopped\n")

    def _start_simulators(self, stack: Stack, supervising: threading.Thread) -> None:
        """The RTSP and door simulators, then the site file pointing at them."""
        options = self.options
        rtsp_port = free_port()
        for spec in (_rtsp_child(options.cameras, rtsp_port),
                     _door_child(stack.services, options.doors)):
            if spec is not None:
                self._supervisor.add(spec)
        supervising.start()
        if "rtsp" in {c.spec.name for c in self._supervisor.children()}:
            ready = self._supervisor.wait_ready("rtsp", RTSP_READY_TIMEOUT, max_failures=3)
            if ready is None and not self._stop.is_set():
                log.warning("the RTSP simulator is not ready (see its log above); "
                            "cameras will show as offline until it is")
            stack.rtsp_base = f"rtsp://127.0.0.1:{rtsp_port}"
        write_demo_site(stack.site_file, stack.rtsp_base or "rtsp://127.0.0.1:8554",
                        options.cameras, options.doors)
        stack.running = [c.spec.name for c in self._supervisor.children()]

    def _start_processes(self, stack: Stack, env: dict[str, str], tokens_file: Path) -> None:
        """Live engine, edge worker, alerting service and dashboard under the supervisor;
        the tokens."""
        options = self.options
        site = str(stack.site_file)
        port = options.port
        if port == 0 or not port_is_free(port, options.host):
            if port:
                log.warning("port %d is busy: the dashboard takes a free port instead", port)
            port = free_port(options.host)
        live_port = free_port(options.host)
        env = {**env, "CE_LIVE_PORT": str(live_port)}  # the dashboard tells pages where it is
        argv = {
            "live": _cli("live", "--site", site, "--host", options.host,
                         "--port", str(live_port)),
            "edge": _cli("edge", "--site", site, "--doors"),
            "alerts": _cli("alerts", "--site", site),
            "dashboard": _cli("dashboard", "--site", site, "--host", options.host,
                              "--port", str(port)),
        }
        for name in PROCESSES:
            self._supervisor.add(ChildSpec(name, argv[name], env=env, cwd=REPO_ROOT,
                                           ready_prefix="READY" if name == "live" else None))
            stack.running.append(name)
        stack.live_url = f"ws://{options.host}:{live_port}/ws"
        stack.dashboard_url = f"http://{options.host}:{port}/"
        stack.tokens = _make_tokens(tokens_file)
        if not _wait_http(stack.dashboard_url + "api/health", self._stop,
                          DASHBOARD_READY_TIMEOUT):
            log.warning("the dashboard did not answer within %.0fs", DASHBOARD_READY_TIMEOUT)


def run(args: argparse.Namespace) -> int:
    """Handler of ``compoundeye demo``: runs until Ctrl-C (SIGINT), SIGTERM or the duration,
    with nothing left running; 1 when a service did not start."""
    demo = Demo(DemoOptions.from_args(args))
    run_until_signalled(demo)
    return demo.exit_code
