"""A small process supervisor: children in their own process groups, restarted, never orphaned.

Each child runs in a new session (so it and everything it forks share one process group),
its output is read line by line and logged with its name as prefix, a child that dies is
started again after a back-off that doubles up to a limit (unless ``restart=False``), and on
stop every child group gets SIGTERM, then SIGKILL after a timeout. Descendants that left
their group (a grandchild calling setsid) are found with psutil before the stop and
terminated too, so no ffmpeg, redis or GStreamer process outlives the supervisor.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

log = logging.getLogger(__name__)

SCAN_INTERVAL = 1.0
"""Seconds between scans for each child's descendants."""


@dataclass(frozen=True)
class ChildSpec:
    """How to run one child process."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    """Variables added to (or replacing) the supervisor's own environment."""
    cwd: Path | None = None
    restart: bool = True
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    healthy_after: float = 10.0
    """A child that ran this long before dying restarts after the initial back-off again."""
    ready_prefix: str | None = None
    """A line of output starting with this marks the child ready (see ``wait_ready``)."""


@dataclass
class ChildState:
    """What the supervisor knows about one child."""

    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    last_exit: int | None = None
    next_start: float = 0.0
    backoff: float = 0.0
    reader: threading.Thread | None = field(default=None, repr=False)
    ready: threading.Event = field(default_factory=threading.Event, repr=False)
    ready_line: str = ""
    descendants: dict[int, psutil.Process] = field(default_factory=dict, repr=False)
    """Processes seen under this child, kept so that ones that left its group still die."""

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _pump(state: ChildState, stream: IO[bytes]) -> None:
    name, prefix = state.spec.name, state.spec.ready_prefix
    child_log = logging.getLogger(f"{__name__}.{name}")
    with stream:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            if not line:
                continue
            child_log.info("[%s] %s", name, line)
            if prefix is not None and line.startswith(prefix):
                state.ready_line = line
                state.ready.set()


class Supervisor:
    """Runs child processes until stopped; ``run()`` blocks, ``stop()`` asks it to end."""

    def __init__(
        self, specs: Sequence[ChildSpec] = (), *, stop_timeout: float = 10.0, poll: float = 0.2
    ) -> None:
        self.stop_timeout = stop_timeout
        self._poll = poll
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._children: dict[str, ChildState] = {}
        self._started = False
        self._last_scan = 0.0
        for spec in specs:
            self.add(spec)

    def add(self, spec: ChildSpec) -> None:
        """Add a child; it starts now if the supervisor is already running."""
        with self._lock:
            if spec.name in self._children:
                raise ValueError(f"duplicate child name {spec.name!r}")
            state = ChildState(spec, backoff=spec.backoff_initial)
            self._children[spec.name] = state
            if self._started:
                self._spawn(state)

    def children(self) -> list[ChildState]:
        with self._lock:
            return list(self._children.values())

    def child(self, name: str) -> ChildState:
        with self._lock:
            return self._children[name]

    def wait_ready(
        self, name: str, timeout: float, *, max_failures: int | None = None
    ) -> str | None:
        """Wait until child ``name`` printed its ready line; return it, or None on timeout
        (or once it has been restarted ``max_failures`` times and is down again)."""
        state = self.child(name)
        deadline = time.monotonic() + timeout
        while not self._stop.is_set() and time.monotonic() < deadline:
            if state.ready.wait(min(0.2, max(0.0, deadline - time.monotonic()))):
                return state.ready_line
            if max_failures is not None and state.restarts >= max_failures and not state.running:
                return None
        return None

    def start(self) -> None:
        """Start every child now (without blocking); ``run()`` calls this itself."""
        with self._lock:
            if self._started:
                return
            self._started = True
            for state in self._children.values():
                self._spawn(state)

    def run(self) -> None:
        """Supervise until ``stop()``; then terminate every child (also when this raises).

        Signals are the caller's: :func:`compoundeye.process.run_until_signalled` makes
        SIGINT and SIGTERM call ``stop()``.
        """
        try:
            self.start()
            while not self._stop.wait(self._poll):
                self._check_children()
        finally:
            self.shutdown()

    def stop(self) -> None:
        """Ask ``run()`` to stop (safe from signal handlers and other threads)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _spawn(self, state: ChildState) -> None:
        spec = state.spec
        env = dict(os.environ)
        if spec.env:
            env.update(spec.env)
        try:
            process = subprocess.Popen(
                list(spec.argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=spec.cwd,
                start_new_session=True,
            )
        except OSError as exc:
            log.error("cannot start %s (%s): %s", spec.name, spec.argv[0], exc)
            state.process = None
            state.last_exit = 127
            self._schedule_restart(state, ran_for=0.0)
            return
        state.process = process
        state.started_at = time.monotonic()
        state.ready.clear()
        assert process.stdout is not None
        state.reader = threading.Thread(
            target=_pump, args=(state, process.stdout), name=f"out-{spec.name}", daemon=True
        )
        state.reader.start()
        log.info("started %s (pid %d): %s", spec.name, process.pid, " ".join(spec.argv))

    def _schedule_restart(self, state: ChildState, ran_for: float) -> None:
        spec = state.spec
        if not spec.restart:
            state.next_start = float("inf")
            return
        if ran_for >= spec.healthy_after:
            state.backoff = spec.backoff_initial
        state.next_start = time.monotonic() + state.backoff
        log.warning("%s will restart in %.1fs", spec.name, state.backoff)
        state.backoff = min(spec.backoff_max, max(state.backoff * 2, spec.backoff_initial))

    def _check_children(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_scan >= SCAN_INTERVAL:
                self._last_scan = now
                for state in self._children.values():
                    if state.process is not None:
                        for proc in _descendants([state.process.pid]):
                            state.descendants.setdefault(proc.pid, proc)
            for state in self._children.values():
                if self._stop.is_set():
                    return
                process = state.process
                if process is not None:
                    code = process.poll()
                    if code is None:
                        continue
                    state.last_exit = code
                    state.process = None
                    # the group, or processes that left it, may outlive the dead child
                    _kill_group(process.pid, signal.SIGKILL)
                    _kill_all(list(state.descendants.values()))
                    state.descendants.clear()
                    log.warning("%s (pid %d) exited with %d", state.spec.name, process.pid, code)
                    self._schedule_restart(state, ran_for=now - state.started_at)
                elif now >= state.next_start:
                    state.restarts += 1
                    self._spawn(state)

    def shutdown(self) -> None:
        """Terminate every child and its descendants: SIGTERM, wait, SIGKILL."""
        self._stop.set()
        with self._lock:
            processes = [s.process for s in self._children.values() if s.process is not None]
            known: dict[int, psutil.Process] = {}
            for state in self._children.values():
                known.update(state.descendants)
            known.update({proc.pid: proc for proc in _descendants([p.pid for p in processes])})
            strays = [proc for proc in known.values() if _alive(proc)]
            for process in processes:
                _kill_group(process.pid, signal.SIGTERM)
            for proc in strays:
                with contextlib.suppress(psutil.Error):
                    proc.terminate()
            if not _wait_gone(processes, strays, self.stop_timeout):
                for process in processes:
                    if process.poll() is None:
                        log.warning("pid %d ignored SIGTERM; killing its group", process.pid)
                for proc in strays:
                    with contextlib.suppress(psutil.Error):
                        proc.kill()
            for process in processes:
                _kill_group(process.pid, signal.SIGKILL)  # whatever is left in each group
            if not _wait_gone(processes, strays, 5.0):
                log.error("some child processes survived SIGKILL")
            for state in self._children.values():
                if state.process is not None:
                    state.last_exit = state.process.returncode
                state.process = None
                state.descendants.clear()
                if state.reader is not None:
                    state.reader.join(timeout=2)
            self._started = False


def _wait_gone(
    processes: Sequence[subprocess.Popen[bytes]], strays: Sequence[psutil.Process], timeout: float
) -> bool:
    """Poll until every child has exited and every stray is gone; False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        running = [p for p in processes if p.poll() is None]
        if not running and not any(_alive(proc) for proc in strays):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _kill_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _alive(proc: psutil.Process) -> bool:
    """Still running (psutil checks the pid was not reused by another process)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _kill_all(procs: list[psutil.Process]) -> None:
    alive = [proc for proc in procs if _alive(proc)]
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)


def _descendants(pids: Sequence[int]) -> list[psutil.Process]:
    """Every live descendant of the given processes (taken before they are signalled)."""
    found: list[psutil.Process] = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            found.extend(psutil.Process(pid).children(recursive=True))
    return found
