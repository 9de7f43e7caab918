"""Acceptance: every camera of the matrix recorded by one real edge worker at once.

One simulator serves every variant of ``sample_streams.matrix`` (H.264 Baseline/Main/High
with B-frames, H.265 with B-frames, AAC and G.711 audio, 1080p at 4 Mbit/s, Basic and
Digest auth, timestamps that restart from zero, a resolution change, a stall); one
``compoundeye edge`` records them all for a minute. Then, per camera: the segments cover
>= 95 % of the time after the first one, each is read by ffprobe with the codec and audio
the camera sends (G.711: AAC for playback plus the original bytes, see
ingest/recorder_ffmpeg.py), the reboot camera's segments neither overlap nor leave a hole,
a 20 s export of each passes verification and holds that window, and the H.264 working
copies play in Chromium.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from compoundeye import names
from compoundeye.recordings import Segment, gaps, list_segments
from compoundeye.redis_text import text_map
from compoundeye.services import ServiceSet
from compoundeye.site.models import Site
from evidence.export_models import ExportRequest, new_export_id
from evidence.exporter import Exporter, ExportResult
from evidence.signing import Keyring
from evidence.verify import verify_export
from sample_streams.matrix import VARIANTS
from sample_streams.simulator import RtspSimulator
from tests.polling import wait_until
from tests.processes import kill_edge

pytestmark = [pytest.mark.slow]

SEGMENT_SECONDS = 4
RECORD_SECONDS = 60
RECORDED = [name for name in VARIANTS if name != "stall"]
VIDEO_CODEC = {"h265-main-b": "hevc"}


@dataclass
class Run:
    """The finished recording: where it is and the wall-clock span it ran."""

    root: Path
    site: Site
    started: datetime
    stopped: datetime
    log: str
    status: dict[str, dict[str, str]]


def _site_yaml(sim: RtspSimulator) -> str:
    lines = [
        "name: matrix-test",
        f"edge: {{segment_seconds: {SEGMENT_SECONDS}, detect_mode: health,"
        " metrics_interval_seconds: 5, offline_after_seconds: 15}",
        "retention: {min_free_bytes: 0}",
        "cameras:",
    ]
    loc = "location: {building: B1, lat: 31.11, lon: 121.38}"
    for cam in VARIANTS:
        lines.append(f"  - {{id: {cam}, main_url: '{sim.credentials_url(cam, 'main')}', "
                     f"sub_url: '{sim.url(cam, 'sub')}', detect_fps: 2, {loc}}}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def run(rtsp_simulator_factory: Any, services: ServiceSet,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    sim: RtspSimulator = rtsp_simulator_factory({}, matrix={v: v for v in VARIANTS},
                                                fresh=True)
    work = tmp_path_factory.mktemp("matrix")
    site_path = work / "site.yaml"
    site_path.write_text(_site_yaml(sim))
    redis.Redis.from_url(services.redis_url).flushall()
    env = {**os.environ, **services.env_vars(), "CE_DATA_DIR": str(work / "data")}
    log_path = work / "edge.log"
    root = work / "data" / "recordings"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "compoundeye.cli", "edge", "--site", str(site_path),
             "--worker-id", "matrix"], stdout=out, stderr=subprocess.STDOUT, env=env)
    started = datetime.now(UTC)
    try:
        def all_started() -> bool:
            return all(_segments(root, cam) for cam in RECORDED)

        wait_until(all_started, 40, 0.5, what="a first segment from every camera",
                   detail=lambda: log_path.read_text(errors="replace")[-3000:])
        time.sleep(RECORD_SECONDS)  # the recording itself: nothing to poll for
        client = redis.Redis.from_url(services.redis_url)
        status = {}
        for cam in VARIANTS:
            raw: dict[object, object] = client.hgetall(  # type: ignore[assignment]
                names.camera_status_key(cam))
            status[cam] = text_map(raw)
        stopped = datetime.now(UTC)
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    finally:
        kill_edge(process)
        sim.stop()
    site = Site.model_validate_json(json.dumps({"cameras": [
        {"id": c, "main_url": "rtsp://sim/x", "location": {"building": "B1", "lat": 31.1,
                                                            "lon": 121.3}} for c in VARIANTS]}))
    yield Run(root, site, started, stopped, log_path.read_text(errors="replace"), status)


def _segments(root: Path, cam: str) -> list[Segment]:
    now = datetime.now(UTC)
    if not (root / cam).is_dir():
        return []
    return list_segments(root, cam, now - timedelta(hours=1), now + timedelta(minutes=5),
                         segment_seconds=SEGMENT_SECONDS)


def _probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                          "stream=codec_type,codec_name,width,height:format=duration:"
                          "program_tags=service_provider", "-of", "json", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, (path, out.stderr)
    found: dict[str, Any] = json.loads(out.stdout)
    return found


# The first test also pays for the module's recording, and on a cold cache for making the
# matrix's streams (about 2 minutes of x264/x265 on this machine, once per cache).
@pytest.mark.timeout(600)
@pytest.mark.parametrize("cam", RECORDED)
def test_segments_cover_the_time_and_probe(run: Run, cam: str) -> None:
    segments = _segments(run.root, cam)
    assert segments, run.log[-2000:]
    first = segments[0].start
    end = run.stopped
    holes = gaps(segments, first, end, tolerance_seconds=1.0)
    missing = sum(h.seconds for h in holes)
    coverage = 1 - missing / (end - first).total_seconds()
    assert coverage >= 0.95, (cam, coverage, holes)
    for before, after in itertools.pairwise(segments):
        assert after.start > before.start  # one segment per start, in order
    variant = VARIANTS[cam]
    for seg in segments:
        info = _probe(seg.path)
        kinds = [(s["codec_type"], s["codec_name"]) for s in info["streams"]]
        assert kinds[0] == ("video", VIDEO_CODEC.get(cam, "h264")), (seg.path, kinds)
        if variant.audio == "aac":
            assert ("audio", "aac") in kinds, (seg.path, kinds)
        elif variant.audio in ("pcmu", "pcma"):
            original = {"pcmu": "pcm_mulaw", "pcma": "pcm_alaw"}[variant.audio]
            tags = [p.get("tags", {}).get("service_provider", "") for p in info["programs"]]
            if ("audio", "aac") in kinds:  # G.711 mode: AAC to play, original bytes kept
                assert ("data", "bin_data") in kinds and f"audio-original={original}" in tags[0]
            else:  # the first moments, before the recorder learned the camera sends G.711
                assert seg is segments[0], (seg.path, kinds)
        else:
            assert [k for k in kinds if k[0] == "audio"] == [], (seg.path, kinds)


@pytest.mark.timeout(120)
def test_reboot_camera_segments_are_placed_by_the_wall_clock(run: Run) -> None:
    segments = _segments(run.root, "reboot")
    assert "camera timestamps jumped back" in run.log, "the reboot never happened"
    for before, after in itertools.pairwise(segments):
        length = float(_probe(before.path)["format"]["duration"])
        # A segment's content ends (within a frame and a rounded second) where the next
        # one's name says it starts: no overlap, no unexplained hole.
        assert (after.start - before.start).total_seconds() >= length - 1.1, (before, length)
        assert (after.start - before.start).total_seconds() <= length + 2.5, (before, length)


def _export(run: Run, cam: str, start: datetime, seconds: float) -> ExportResult:
    request = ExportRequest(camera_ids=[cam], start=start, end=start + timedelta(seconds=seconds),
                            case_id="C-MATRIX", reason="acceptance", requester="tester")
    export_id = new_export_id()
    exporter = Exporter(run.site, run.root, keyring=Keyring(run.root.parent / "keys"))
    return exporter.run(export_id, request, run.root.parent / "exports" / export_id)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("cam", RECORDED)
def test_export_of_a_window_verifies_and_holds_it(run: Run, cam: str) -> None:
    segments = _segments(run.root, cam)
    start = segments[1].start + timedelta(seconds=1)
    result = _export(run, cam, start, 20)
    assert verify_export(result.directory, result.manifest_sha256).ok
    (camera,) = result.manifest.cameras
    assert camera.working_copy is not None and camera.gaps == [], camera
    mp4 = result.directory / camera.working_copy.path
    duration = float(_probe(mp4)["format"]["duration"])
    assert 20 - 0.5 <= duration <= 20 + 2.5, duration  # from the keyframe at or before
    text = (result.directory / "manifest.json").read_text()
    if VARIANTS[cam].audio in ("pcmu", "pcma"):
        assert "G.711" in text, text[:2000]
    if cam in VIDEO_CODEC:
        assert "H.265" in text, text[:2000]


@pytest.mark.timeout(180)
def test_export_across_the_reboot_returns_the_window(run: Run) -> None:
    segments = _segments(run.root, "reboot")
    lengths = [float(_probe(s.path)["format"]["duration"]) for s in segments]
    # The run the jump cut short ends in a segment shorter than the others.
    cut = next(i for i in range(1, len(segments) - 1) if lengths[i] < SEGMENT_SECONDS - 0.5)
    start = segments[cut].start - timedelta(seconds=6)
    result = _export(run, "reboot", start, 16)
    assert verify_export(result.directory, result.manifest_sha256).ok
    (camera,) = result.manifest.cameras
    assert camera.working_copy is not None
    assert camera.working_copy.start <= start < camera.working_copy.start + timedelta(seconds=5)
    duration = float(_probe(result.directory / camera.working_copy.path)["format"]["duration"])
    # The new session starts at the camera's next keyframe: at most a GOP (1.33 s) lost.
    assert 16 - 2.0 <= duration <= 16 + 2.5, duration


@pytest.mark.timeout(120)
def test_stalled_camera_is_retried_and_says_so(run: Run) -> None:
    assert _segments(run.root, "stall") == []
    assert "camera stall: recorder stalled" in run.log
    assert run.status["stall"].get("recorder_error") == "stalled (no data)", run.status["stall"]


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_h264_working_copies_play_in_chromium(run: Run, chromium: Any) -> None:
    played = {}
    page = chromium.new_page()
    try:
        for cam in ("h264-high-b", "audio-pcmu", "audio-aac", "hd-4m", "reboot"):
            start = _segments(run.root, cam)[1].start
            result = _export(run, cam, start, 8)
            (camera,) = result.manifest.cameras
            assert camera.working_copy is not None
            mp4 = result.directory / camera.working_copy.path
            page.goto(f"file://{mp4}")  # Chromium's own media page: one <video>
            page.evaluate("(() => { const v = document.querySelector('video');"
                          " v.muted = true; return v.play().then(() => true); })()")
            wait_until(lambda: page.evaluate(
                "(() => { const v = document.querySelector('video');"
                " return v.currentTime > 1 && v.videoWidth > 0 && !v.error; })()"),
                30, 0.25, what=f"{cam} playing")
            played[cam] = page.evaluate("document.querySelector('video').videoWidth")
    finally:
        page.close()
    assert played["hd-4m"] == 1920 and played["h264-high-b"] == 1280, played
