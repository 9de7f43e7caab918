"""``compoundeye bench ops``: the ops page over the 2,400-camera reference site.

Seeds every camera's status hash in a private Redis and 24 h of ``camera_up`` plus an hour
of ``camera_fps_processed`` in a private VictoriaMetrics, serves the dashboard with
uvicorn, and times over real HTTP:

- ``GET /api/cameras`` (every status, worst first), the headline figure;
- the whole data path of the ``/cameras`` page: the page, ``/api/cameras``, uptime and
  recorded fraction over 24 h and 7 d, and the fps sparklines of the first page of rows.

Each status hash carries the recording-health fields (state, reason, since, last segment)
and each camera 24 h of ``camera_recorded_seconds``, as the edge writes them.

Baseline: the raw pipelined ``HMGET`` of the same keys straight from Redis, the floor
any implementation pays; ``ratio`` = baseline time / ours (so below 1: it shows what the
HTTP, JSON and sorting cost on top). A naive per-camera read (one round trip per key)
is measured too, for scale. Target: the page data path under 1 s.
"""

from __future__ import annotations

import logging
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis
import uvicorn

from bench.runner import BenchResult
from compoundeye import names
from compoundeye.auth.roles import Role
from compoundeye.auth.tokens import add_token
from compoundeye.bus import hash_mapping
from compoundeye.camera_status import CameraState, CameraStatus, RecordingState
from compoundeye.services import ServiceSet, free_port, tsdb_force_flush
from compoundeye.settings import Settings
from compoundeye.site import Site, load_site
from compoundeye.timeutil import to_rfc3339, utcnow
from dashboard.app import create_app

log = logging.getLogger(__name__)

SITE_FILE = Path(__file__).resolve().parent.parent / "deploy" / "site" / "compound.yaml"
PAGE_ROWS = 100
TARGET_SECONDS = 1.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def _seed_statuses(client: redis.Redis, site: Site, rng: random.Random) -> dict[str, int]:
    now = to_rfc3339(utcnow())
    counts: dict[str, int] = {}
    pipe = client.pipeline(transaction=False)
    for camera in site.cameras:
        status = rng.choices([CameraState.ONLINE, CameraState.DEGRADED, CameraState.OFFLINE,
                              CameraState.TAMPERED], weights=[94, 3, 2, 1])[0]
        counts[status] = counts.get(status, 0) + 1
        recording = rng.choices([RecordingState.OK, RecordingState.FAILING],
                                weights=[98, 2])[0]
        record = CameraStatus(
            status=status, since=now, last_frame=now, fps=rng.uniform(4.5, 5.0),
            worker="edge-0", reason=None if status == CameraState.ONLINE else f"bench {status}",
            recording=recording, recording_since=now, last_segment=now,
            recording_reason=None if recording is RecordingState.OK
            else "not found (404): no segment finished (40 s)")
        pipe.hset(names.camera_status_key(camera.id), mapping=hash_mapping(record.to_hash()))
    pipe.execute()
    return counts


def _seed_metrics(tsdb_url: str, site: Site, rng: random.Random, quick: bool) -> int:
    now_ms = int(time.time() * 1000)
    up_step_ms = (60 if quick else 15) * 60_000
    up_points = 24 * 3600_000 // up_step_ms
    samples = 0
    with httpx.Client(timeout=120) as http:
        batch: list[str] = []
        for camera in site.cameras:
            labels = f'camera="{camera.id}",building="{camera.location.building}",worker="edge-0"'
            for i in range(up_points):
                up = 0 if rng.random() < 0.02 else 1
                at = now_ms - i * up_step_ms
                batch.append(f"camera_up{{{labels}}} {up} {at}")
                # At the step the site's metrics interval is set to (see measure).
                batch.append(f"camera_recorded_seconds{{{labels}}} {up * up_step_ms / 1000:g} {at}")
            for i in range(0, 60, 2):
                fps = rng.uniform(4.0, 5.0)
                batch.append(f"camera_fps_processed{{{labels}}} {fps:.2f} {now_ms - i * 60_000}")
            if len(batch) > 100_000:
                http.post(f"{tsdb_url}/api/v1/import/prometheus",
                          content="\n".join(batch) + "\n").raise_for_status()
                samples += len(batch)
                batch = []
        if batch:
            http.post(f"{tsdb_url}/api/v1/import/prometheus",
                      content="\n".join(batch) + "\n").raise_for_status()
            samples += len(batch)
    tsdb_force_flush(tsdb_url)
    return samples


def _median_seconds(action: Callable[[], object], runs: int) -> float:
    action()  # warm-up: connections, caches
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _browser_seconds(base: str, token: str, runs: int) -> float | None:
    """Median time for headless Chromium to show the first page of rows of /cameras
    (navigation, assets, the status request and the rendering), or None without Chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(CHROMIUM).exists():
        return None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/login?next=/cameras")
            page.fill("#token", token)
            page.click("button[type=submit]")
            page.wait_for_selector("#cams tbody tr")

            def load() -> object:
                page.goto(f"{base}/cameras")
                return page.wait_for_selector("#cams tbody tr", timeout=30_000)

            return _median_seconds(load, runs)
        finally:
            browser.close()


class _Server:
    """The dashboard under uvicorn in a thread."""

    def __init__(self, settings: Settings, site: Site) -> None:
        self.port = free_port()
        config = uvicorn.Config(create_app(settings, site), host="127.0.0.1", port=self.port,
                                log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/api/health", timeout=1)
                return base
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("dashboard did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def measure(quick: bool) -> BenchResult:
    """Seed the reference site, then time the ops page against the raw Redis read."""
    site = load_site(SITE_FILE)
    # The recorded fraction divides by samples x the metrics interval: seed at that step.
    step_seconds = (60 if quick else 15) * 60
    site = site.model_copy(update={"edge": site.edge.model_copy(
        update={"metrics_interval_seconds": float(step_seconds)})})
    rng = random.Random(20261128)
    runs = 5 if quick else 20
    with ServiceSet(env={}) as services, tempfile.TemporaryDirectory() as tmp:
        client = redis.Redis.from_url(services.redis_url)
        counts = _seed_statuses(client, site, rng)
        samples = _seed_metrics(services.tsdb_url, site, rng, quick)
        settings = Settings(redis_url=services.redis_url, tsdb_url=services.tsdb_url,
                            mqtt_url=services.mqtt_url, data_dir=Path(tmp) / "data",
                            tokens_file=Path(tmp) / "tokens.json")
        token = add_token(Path(tmp) / "tokens.json", "bench-admin", Role.ADMIN)
        keys = [names.camera_status_key(c.id) for c in site.cameras]
        status_fields = CameraStatus.hash_fields()

        def raw_pipelined() -> object:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.hmget(key, status_fields)
            return pipe.execute()

        def naive_round_trips() -> object:
            return [client.hgetall(key) for key in keys]

        baseline = _median_seconds(raw_pipelined, runs)
        naive = _median_seconds(naive_round_trips, max(3, runs // 4))
        with _Server(settings, site) as base, httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"},
                timeout=30) as http:

            def cameras() -> object:
                response = http.get("/api/cameras")
                response.raise_for_status()
                return response.json()

            signed = http.post("/auth/login", data={"token": token})  # the page's cookie
            if signed.status_code != 303:
                raise RuntimeError(f"sign-in failed: {signed.status_code}")

            def page_data_path() -> object:
                for path in ("/cameras", "/static/app.css", "/static/common.js",
                             "/static/cameras.js", "/api/me"):
                    http.get(path).raise_for_status()
                rows = cameras()["cameras"]  # type: ignore[index]
                http.get("/api/uptime", params={"window": "24h"}).raise_for_status()
                http.get("/api/uptime", params={"window": "7d"}).raise_for_status()
                first = [("camera", r["id"]) for r in rows[:PAGE_ROWS]]
                fps = http.get("/api/cameras/fps", params=[*first, ("window", "1h")])
                fps.raise_for_status()
                return fps.json()

            api_seconds = _median_seconds(cameras, runs)
            page_seconds = _median_seconds(page_data_path, runs)
            browser_seconds = _browser_seconds(base, token, max(3, runs // 4))
            body = cameras()
            client.close()
    total = body["total"]  # type: ignore[index]
    return BenchResult(
        name="ops",
        value=round(api_seconds * 1000, 2),
        unit="ms (median GET /api/cameras)",
        baseline="raw pipelined HMGET of the same status keys from Redis",
        baseline_value=round(baseline * 1000, 2),
        ratio=round(baseline / api_seconds, 3),
        extra={
            "cameras": total,
            "statuses": counts,
            "tsdb_samples": samples,
            "page_data_path_ms": round(page_seconds * 1000, 2),
            "page_under_1s": (browser_seconds or page_seconds) < TARGET_SECONDS,
            "chromium_first_rows_ms": None if browser_seconds is None
            else round(browser_seconds * 1000, 2),
            "naive_per_key_round_trips_ms": round(naive * 1000, 2),
            "speedup_vs_naive": round(naive / api_seconds, 2),
            "runs": runs,
        },
    )
