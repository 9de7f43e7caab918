"""Start and drive the RTSP camera simulator from the venv (tests, the edge worker, `demo`).

The simulator itself (`sample_streams.rtsp_sim`) runs under the system python with the
GStreamer bindings; this module only starts it as a subprocess in its own process group,
reads its READY line and talks to its control port.

    with RtspSimulator(cameras=8) as sim:
        url = sim.url("cam1")            # rtsp://127.0.0.1:PORT/cam1/sub
        sim.take_offline("cam1")         # DESCRIBE now gets 404, its clients are cut off
        sim.bring_online("cam1")
        sim.clip_time("cam1")            # where in its clip the camera is now (seconds)
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import select
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"
READY_PREFIX = "READY "


class SimulatorError(RuntimeError):
    """The simulator did not start, or refused a control command."""


class RtspSimulator:
    """A running RTSP camera simulator (a context manager; `stop()` leaves no process behind).

    `cameras` is a count (cam1..camN, clips round-robin) or a mapping camera id -> clip name.
    `matrix` maps camera ids to camera-matrix variants (``sample_streams.matrix.VARIANTS``:
    codecs, audio, RTSP auth, reboot, resize, stall); their media are made on first use.
    `port=0` picks a free RTSP port. `clips` restricts the round-robin to these clip names.
    """

    def __init__(
        self,
        cameras: int | dict[str, str] = 8,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        clips: list[str] | None = None,
        clips_dir: Path | None = None,
        stagger_s: float = 7.0,
        python: str = SYSTEM_PYTHON,
        ready_timeout_s: float = 30.0,
        log_level: str = "INFO",
        log_file: Path | None = None,
        clock_cameras: tuple[str, ...] = (),
        basic_auth: tuple[str, str] | None = None,
        matrix: dict[str, str] | None = None,
    ) -> None:
        self._basic_auth = basic_auth
        if matrix:
            # Matrix cameras (sample_streams.matrix): variants served from a clips directory
            # that also holds every ordinary clip, made (cached) before the server starts.
            from sample_streams.matrix import clips_dir_for

            if clips_dir is not None:
                raise ValueError("matrix cameras bring their own clips directory")
            clips_dir = clips_dir_for(list(matrix.values()))
            # A count of ordinary cameras is ignored here: give them as a mapping.
            cameras = {**(cameras if isinstance(cameras, dict) else {}), **matrix}
        self._cmd = [
            python,
            "-m",
            "sample_streams.rtsp_sim",
            "--host",
            host,
            "--port",
            str(port),
            "--stagger-s",
            str(stagger_s),
            "--log-level",
            log_level,
        ]
        if isinstance(cameras, int):
            self._cmd += ["--cameras", str(cameras)]
        else:
            self._cmd += [
                arg for cam, clip in cameras.items() for arg in ("--camera", f"{cam}={clip}")
            ]
        if clips:
            self._cmd += ["--clips", ",".join(clips)]
        for cam in clock_cameras:
            self._cmd += ["--clock-camera", cam]
        if basic_auth is not None:  # through the environment, never the command line
            self._cmd += ["--basic-auth-env", "CE_SIM_BASIC_AUTH"]
        self._clips_dir = clips_dir or REPO_ROOT / "sample_streams" / "clips"
        if clips_dir is not None:
            self._cmd += ["--clips-dir", str(clips_dir)]
        self._env: dict[str, str] = {}
        self.auth = ("", "")
        if matrix:
            from sample_streams.matrix import AUTH_PASSWORD, AUTH_USER

            self._env["RTSP_SIM_PASSWORD"] = AUTH_PASSWORD
            self._cmd += ["--auth-user", AUTH_USER]
            self.auth = (AUTH_USER, AUTH_PASSWORD)
        self._ready_timeout_s = ready_timeout_s
        self._log_file = log_file
        self._stderr_tail: deque[str] = deque(maxlen=20)
        self._stderr_thread: threading.Thread | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self.returncode: int | None = None  # exit code once stopped (0 = clean shutdown)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> RtspSimulator:
        """Start the subprocess and wait for its READY line."""
        if self._proc is not None:
            raise SimulatorError("already started")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV")}
        env["PYTHONPATH"] = str(REPO_ROOT)
        env.update(self._env)
        if self._basic_auth is not None:
            env["CE_SIM_BASIC_AUTH"] = ":".join(self._basic_auth)
        self._proc = subprocess.Popen(
            self._cmd,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._stderr_thread = threading.Thread(
            target=self._pump_stderr, args=(self._proc,), name="rtsp-sim-stderr", daemon=True
        )
        self._stderr_thread.start()
        try:
            self.info = self._wait_ready()
        except BaseException:
            self.stop()
            raise
        log.info(
            "RTSP simulator pid %d serving %d cameras on port %d",
            self._proc.pid,
            len(self.cameras),
            self.port,
        )
        return self

    def _pump_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        """Forward the simulator's log lines to logging (and log_file), keep the last few."""
        assert proc.stderr is not None
        sink = self._log_file.open("ab") if self._log_file is not None else None
        try:
            for raw in proc.stderr:
                if sink is not None:
                    sink.write(raw)
                    sink.flush()
                line = raw.decode(errors="replace").rstrip()
                self._stderr_tail.append(line)
                log.debug("rtsp_sim: %s", line)
        finally:
            if sink is not None:
                sink.close()
            proc.stderr.close()

    def _wait_ready(self) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + self._ready_timeout_s
        fd = self._proc.stdout.fileno()
        buffer = b""
        while time.monotonic() < deadline:
            readable, _, _ = select.select([fd], [], [], 0.2)
            if readable:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                buffer += chunk
                for line in buffer.split(b"\n")[:-1]:
                    text = line.decode(errors="replace")
                    if text.startswith(READY_PREFIX):
                        info: dict[str, Any] = json.loads(text[len(READY_PREFIX) :])
                        return info
            elif self._proc.poll() is not None:
                break
        code = self._proc.poll()
        if self._stderr_thread is not None and code is not None:
            self._stderr_thread.join(timeout=2)
        tail = " | ".join(list(self._stderr_tail)[-3:])
        raise SimulatorError(f"RTSP simulator not ready (exit code {code}): {tail}")

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM the whole process group, SIGKILL it if it lingers, reap the child."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                self.returncode = proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                log.warning("RTSP simulator pid %d ignored %s", proc.pid, sig.name)
        # The group may outlive its leader if a child was left behind; make sure it is gone.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.stdout is not None:
            proc.stdout.close()
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=5)

    def __enter__(self) -> RtspSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self.info["rtsp_port"])

    @property
    def control_port(self) -> int:
        return int(self.info["control_port"])

    @property
    def cameras(self) -> dict[str, str]:
        """Camera id -> clip name."""
        return {cam: str(c["clip"]) for cam, c in self.info.get("cameras", {}).items()}

    def url(self, camera_id: str, stream: Literal["sub", "main"] = "sub") -> str:
        if camera_id not in self.info.get("cameras", {}):
            raise KeyError(f"unknown simulated camera {camera_id!r}")
        return str(self.info["cameras"][camera_id][stream])

    def credentials_url(self, camera_id: str, stream: Literal["sub", "main"] = "main",
                        password: str | None = None) -> str:
        """The camera's URL with the user and password a matrix camera with auth wants
        (``password`` to try a wrong one); other cameras' URLs are returned as they are."""
        url = self.url(camera_id, stream)
        variant = self.info["cameras"][camera_id].get("variant") or {}
        if not variant.get("auth"):
            return url
        user, secret = self.auth
        return url.replace("rtsp://", f"rtsp://{user}:{password or secret}@", 1)

    def variant(self, camera_id: str) -> dict[str, Any]:
        """A matrix camera's variant (codec, audio, auth, behaviour); {} for other cameras."""
        found: dict[str, Any] = self.info["cameras"][camera_id].get("variant") or {}
        return found

    @property
    def corrupt_url(self) -> str:
        """A mount serving H.264 with garbage in the slice data (sub resolution)."""
        return str(self.info["corrupt"]["sub"])

    def corrupt_url_for(self, stream: Literal["sub", "main"]) -> str:
        return str(self.info["corrupt"][stream])

    def clip_time(self, camera_id: str, at_unix: float | None = None) -> float:
        """Seconds into its clip that the camera shows at wall time at_unix (default now)."""
        cam = self.info["cameras"][camera_id]
        clip = self.info["clips"][cam["clip"]]
        fps = int(self.info["fps"])
        now = time.time() if at_unix is None else at_unix
        frame = math.floor((now - float(self.info["epoch_unix"])) * fps) + round(
            float(cam["offset_s"]) * fps
        )
        return (frame % int(clip["frames"])) / fps

    def clip_dir(self, camera_id: str) -> Path:
        """The folder holding the camera's clip (main.mp4, sub.mp4, truth.json)."""
        return self._clips_dir / self.cameras[camera_id]

    # -- control -----------------------------------------------------------------------------

    def command(self, line: str) -> dict[str, Any]:
        """Send one control line, return the simulator's JSON reply."""
        if not self.running:
            raise SimulatorError("simulator is not running")
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=15) as sock:
            sock.sendall(line.encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        reply: dict[str, Any] = json.loads(data.decode())
        if not reply.get("ok"):
            raise SimulatorError(f"{line!r}: {reply.get('error')}")
        return reply

    def take_offline(self, camera_id: str) -> None:
        """The camera goes off the air: new connections get 404 and its clients are dropped."""
        self.command(f"offline {camera_id}")

    def bring_online(self, camera_id: str) -> None:
        self.command(f"online {camera_id}")

    def status(self) -> dict[str, Any]:
        return self.command("status")

    def clock_url(self, camera_id: str, stream: Literal["sub", "main"] = "sub") -> str:
        """A mount whose picture carries the wall clock (``clock_cameras``)."""
        return str(self.info["clock"][camera_id][stream])

    def sessions(self) -> dict[str, int]:
        """Connected RTSP clients per mount path, as the cameras would count them."""
        counts: dict[str, int] = self.command("sessions")["sessions"]
        return counts
