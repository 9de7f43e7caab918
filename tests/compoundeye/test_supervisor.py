"""The process supervisor: output, restarts, and nothing left running after a stop."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from compoundeye.supervisor import ChildSpec, Supervisor
from tests.polling import poll, wait_until

pytestmark = pytest.mark.timeout(60)

# A child that forks a grandchild in its own group and one that escapes with setsid,
# writes every pid to a file, then sleeps (optionally ignoring SIGTERM).
FAMILY = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    out, ignore_term = sys.argv[1], sys.argv[2] == "1"
    if ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    same = subprocess.Popen(["sleep", "300"])
    escaped = subprocess.Popen(["sleep", "301"], start_new_session=True)
    with open(out + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {same.pid} {escaped.pid}")
    os.rename(out + ".tmp", out)
    print("family ready", flush=True)
    while True:
        time.sleep(1)
    """
)


def _wait_file(path: Path, timeout: float = 15.0) -> list[int]:
    wait_until(path.exists, timeout, what=f"{path} to appear")
    return [int(p) for p in path.read_text().split()]


def _alive(pid: int) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_dead(pids: list[int], timeout: float = 10.0) -> list[int]:
    """Pids still alive after ``timeout`` (orphans are reaped by init asynchronously)."""
    poll(lambda: not any(_alive(p) for p in pids), timeout)
    return [p for p in pids if _alive(p)]


@pytest.mark.parametrize("ignore_term", [False, True], ids=["polite", "ignores-sigterm"])
def test_stop_leaves_no_descendant(tmp_path: Path, ignore_term: bool) -> None:
    pid_file = tmp_path / "pids"
    spec = ChildSpec("family", [sys.executable, "-c", FAMILY, str(pid_file),
                                "1" if ignore_term else "0"])
    supervisor = Supervisor([spec], stop_timeout=1.0)
    runner = threading.Thread(target=supervisor.run)
    runner.start()
    try:
        pids = _wait_file(pid_file)
        assert all(_alive(p) for p in pids)
    finally:
        supervisor.stop()
        runner.join(20)
    assert not runner.is_alive()
    assert _wait_dead(pids) == []
    assert [p for p in psutil.Process().children(recursive=True) if p.name() == "sleep"] == []


def test_output_is_logged_with_the_child_name(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    spec = ChildSpec("talker", [sys.executable, "-c", "print('hello from child'); "
                                "import sys; print('oops', file=sys.stderr)"],
                     restart=False)
    supervisor = Supervisor([spec])
    supervisor.start()
    deadline = time.monotonic() + 10
    while "[talker] oops" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    supervisor.shutdown()
    assert "[talker] hello from child" in caplog.text
    assert "[talker] oops" in caplog.text


@pytest.mark.slow
def test_dead_child_restarts_with_backoff_and_escaped_grandchild_dies(tmp_path: Path) -> None:
    crash = tmp_path / "crash.py"
    crash.write_text(textwrap.dedent(
        """
        import subprocess, sys, time
        runs = int(open(sys.argv[1]).read()) if __import__("os").path.exists(sys.argv[1]) else 0
        open(sys.argv[1], "w").write(str(runs + 1))
        escaped = subprocess.Popen(["sleep", "302"], start_new_session=True)
        with open(sys.argv[1] + f".{runs}", "w") as f:
            f.write(str(escaped.pid))
        time.sleep(1.5)
        sys.exit(3)
        """
    ))
    counter = tmp_path / "runs"
    crasher = ChildSpec("crasher", [sys.executable, str(crash), str(counter)],
                        backoff_initial=0.1, backoff_max=0.4)
    once = ChildSpec("once", [sys.executable, "-c", "raise SystemExit(4)"], restart=False)
    supervisor = Supervisor([crasher, once], poll=0.05)
    runner = threading.Thread(target=supervisor.run)
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while supervisor.child("crasher").restarts < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        supervisor.stop()
        runner.join(20)
    state = supervisor.child("crasher")
    assert state.restarts >= 2
    assert state.last_exit is not None
    assert supervisor.child("once").restarts == 0
    assert supervisor.child("once").last_exit == 4
    escaped = [int(p.read_text()) for p in tmp_path.glob("runs.*")]
    assert len(escaped) >= 2
    assert _wait_dead(escaped) == []


def test_missing_program_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    supervisor = Supervisor([ChildSpec("ghost", ["/nonexistent/program"], restart=False)])
    supervisor.start()
    supervisor.shutdown()
    assert supervisor.child("ghost").last_exit == 127
    assert "cannot start ghost" in caplog.text


RUNNER = textwrap.dedent(
    """
    import sys
    from compoundeye.process import run_until_signalled
    from compoundeye.supervisor import ChildSpec, Supervisor
    family, out = sys.argv[1], sys.argv[2]
    run_until_signalled(Supervisor([ChildSpec("family", [sys.executable, "-c", family, out, "0"])],
                                   stop_timeout=2))
    print("supervisor done", flush=True)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signals_ask_for_a_clean_stop(tmp_path: Path, signum: int) -> None:
    pid_file = tmp_path / "pids"
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, FAMILY, str(pid_file)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        pids = _wait_file(pid_file)
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "supervisor done" in out
    assert _wait_dead(pids) == []


def test_wait_ready_returns_the_ready_line() -> None:
    code = (
        "import time; print('warming up', flush=True); "
        "print('READY {\"port\": 1}', flush=True); time.sleep(30)"
    )
    spec = ChildSpec("svc", [sys.executable, "-c", code], ready_prefix="READY")
    supervisor = Supervisor([spec])
    runner = threading.Thread(target=supervisor.run)
    runner.start()
    try:
        assert supervisor.wait_ready("svc", 15) == 'READY {"port": 1}'
    finally:
        supervisor.stop()
        runner.join(20)
    assert supervisor.child("svc").pid is None


def test_wait_ready_gives_up_on_a_child_that_keeps_failing() -> None:
    spec = ChildSpec("broken", [sys.executable, "-c", "raise SystemExit(1)"],
                     ready_prefix="READY", backoff_initial=0.05, backoff_max=0.1)
    supervisor = Supervisor([spec], poll=0.02)
    runner = threading.Thread(target=supervisor.run)
    runner.start()
    try:
        assert supervisor.wait_ready("broken", 30, max_failures=2) is None
        assert supervisor.child("broken").restarts >= 2
    finally:
        supervisor.stop()
        runner.join(20)
