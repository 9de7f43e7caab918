"""Live view and playback on real processes, for ``bench live`` and the test fixtures: the
RTSP simulator (cameras and a clock camera), ``compoundeye live`` and
``compoundeye dashboard`` under the project's supervisor, on a given service set.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from compoundeye.auth.roles import Role
from compoundeye.auth.tokens import add_token
from compoundeye.services import ServiceSet, free_port
from compoundeye.supervisor import ChildSpec, Supervisor
from sample_streams.numbered import write_clock_segments
from sample_streams.simulator import RtspSimulator

REPO = Path(__file__).resolve().parent.parent
CLOCK_CAMERA = "clock"
RECORDED_CAMERA = "cam1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]


@dataclass
class LiveStack:
    """What runs, and how to reach it."""

    base_url: str
    live_port: int
    tokens: dict[str, str]
    sim: RtspSimulator
    data_dir: Path
    site_file: Path
    cameras: list[str]
    recorded_from: datetime
    recorded_seconds: int
    supervisor: Supervisor
    recorded: list[Path] = field(default_factory=list)

    def engine_status(self) -> dict[str, Any]:
        response = httpx.get(f"http://127.0.0.1:{self.live_port}/status", timeout=5)
        response.raise_for_status()
        status: dict[str, Any] = response.json()
        return status

    def engine_pid(self) -> int | None:
        return self.supervisor.child("live").pid

    def dashboard_pid(self) -> int | None:
        return self.supervisor.child("dashboard").pid

    def ticket(self, role: str = "operator") -> dict[str, Any]:
        """A live ticket from the dashboard, as a page gets one (bearer token here)."""
        response = httpx.post(f"{self.base_url}/api/live/ticket", timeout=10,
                              headers={"Authorization": f"Bearer {self.tokens[role]}"})
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


def live_site(sim: RtspSimulator, cameras: int) -> dict[str, Any]:
    """A site whose cameras are the simulator's cam1..camN plus the clock camera."""
    out = []
    for i in range(1, cameras + 1):
        cam = f"cam{i}"
        out.append({"id": cam, "name": f"Camera {i}", "main_url": sim.url(cam, "main"),
                    "sub_url": sim.url(cam, "sub"), "record": False,
                    "location": {"building": "B1" if i <= 8 else "B2", "zone": "lobby",
                                 "lat": 31.11 + i * 1e-4, "lon": 121.38}})
    out.append({"id": CLOCK_CAMERA, "name": "Clock", "record": False,
                "main_url": sim.clock_url(CLOCK_CAMERA, "main"),
                "sub_url": sim.clock_url(CLOCK_CAMERA, "sub"),
                "location": {"building": "B1", "zone": "gate", "lat": 31.11, "lon": 121.381}})
    return {"name": "live compound", "timezone": "UTC", "cameras": out,
            "doors": [{"id": "door-A", "name": "B1 gate", "cameras": ["cam1", "cam2"],
                       "location": {"building": "B1", "zone": "gate", "lat": 31.1101,
                                    "lon": 121.3801}}]}


def iso_z(moment: datetime) -> str:
    """RFC 3339 in UTC with ``Z``, safe in a query string (no ``+``)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll ``check`` until true; the seconds it took (RuntimeError after ``seconds``)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            raise RuntimeError(f"{what} did not happen within {seconds:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - started


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def live_stack(services: ServiceSet, base: Path, *, cameras: int = 16, linger: float = 6.0,
               recorded_seconds: int = 60,
               extra_recordings: dict[str, str] | None = None) -> Iterator[LiveStack]:
    """Start the simulator, the engine and the dashboard; stop them all on exit.
    ``extra_recordings`` records more cameras (id -> ffmpeg encoder) like cam1."""
    extra_recordings = extra_recordings or {}
    data = base / "data"
    logs = base / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    sim = RtspSimulator(cameras, clock_cameras=(CLOCK_CAMERA,),
                        log_file=logs / "rtsp.log").start()
    supervisor = Supervisor(stop_timeout=10.0)
    try:
        site_file = base / "site.yaml"
        site = live_site(sim, cameras)
        site_file.write_text(yaml.safe_dump(site))
        tokens = {r.value: add_token(base / "tokens.json", f"{r.value}-1", r) for r in Role}
        now = datetime.now(UTC).replace(microsecond=0)
        recorded_from = now - timedelta(seconds=now.second % 10 + 2 * recorded_seconds)
        recorded = write_clock_segments(data / "recordings", RECORDED_CAMERA, recorded_from,
                                        recorded_seconds, base / "work")
        for camera, codec in extra_recordings.items():
            write_clock_segments(data / "recordings", camera, recorded_from, recorded_seconds,
                                 base / "work", codec=codec)
        port, live_port = free_port(), free_port()
        env = {**services.env_vars(), "CE_DATA_DIR": str(data),
               "CE_TOKENS_FILE": str(base / "tokens.json"), "CE_DATABASE_URL": "",
               "CE_LIVE_PORT": str(live_port), "CE_LIVE_LINGER_SECONDS": str(linger),
               "PYTHONUNBUFFERED": "1"}
        cli = [sys.executable, "-m", "compoundeye.cli"]
        supervisor.add(ChildSpec("live", [*cli, "live", "--site", str(site_file)], env=env,
                                 cwd=REPO, ready_prefix="READY", restart=False))
        supervisor.add(ChildSpec("dashboard", [*cli, "dashboard", "--site", str(site_file),
                                               "--port", str(port)], env=env, cwd=REPO,
                                 restart=False))
        supervisor.start()
        if supervisor.wait_ready("live", 30) is None:
            raise RuntimeError("the live engine did not start")
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(f"{url}/api/health"), 60, "the dashboard answering")
        yield LiveStack(url, live_port, tokens, sim, data, site_file,
                        [c["id"] for c in site["cameras"]], recorded_from, recorded_seconds,
                        supervisor, recorded)
    finally:
        supervisor.shutdown()
        sim.stop()


def sign_in(browser: Any, base_url: str, token: str, path: str) -> Any:
    """A new browser context signed in with ``token`` through the form, showing ``path``."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, timezone_id="UTC",
                                  accept_downloads=True)
    page = context.new_page()
    route = path.split("?")[0]
    page.goto(f"{base_url}{route}")
    if "/login" not in page.url:
        raise RuntimeError(f"{route} did not ask for sign-in")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{route}")
    if path != route:
        page.goto(f"{base_url}{path}")  # the sign-in returns to the page, not its query
    return page


READ_CLOCK = """(v) => new Promise((resolve) => v.requestVideoFrameCallback(async (now, meta) => {
  const f = new VideoFrame(v);
  const r = f.visibleRect;
  const rect = { x: r.x, y: r.y, width: r.width, height: r.height };
  const buf = new Uint8Array(f.allocationSize({ rect }));
  const layout = await f.copyTo(buf, { rect });
  f.close();
  const stride = layout[0].stride, off = layout[0].offset;
  const bw = r.width / 32, bh = r.height * 40 / 360;
  let value = 0;
  for (let i = 0; i < 32; i++) {
    const x = Math.floor((i + 0.5) * bw);
    const top = buf[off + Math.floor(bh * 0.5) * stride + x];
    const bottom = buf[off + Math.floor(bh * 1.5) * stride + x];
    if ((top > 128) === (bottom > 128)) { resolve(null); return; }
    value = value * 2 + (top > 128 ? 1 : 0);
  }
  const shownAt = Date.now() + (meta.expectedDisplayTime - performance.now());
  resolve({ stamp: value, latency_ms: ((shownAt - value) % 2 ** 32 + 2 ** 32) % 2 ** 32,
            media_time: meta.mediaTime });
}))"""
"""Evaluated on a <video>: the clock (sample_streams/clock_stream.py) in the next presented
frame, read from its luma plane (WebCodecs), and how long ago it was drawn."""
