"""Acceptance with recordings made by the real recorder (ingest.recorder: ffmpeg segment
muxer, stream copy, MPEG-TS, 10 s) from a camera of the RTSP simulator, including a real
outage (the simulator takes the camera off the air, then back)."""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from compoundeye.recordings import covered, gaps, list_segments
from compoundeye.site.models import Site
from evidence.export_models import ExportRequest, new_export_id
from evidence.exporter import Exporter, ExportResult
from evidence.signing import Keyring
from evidence.verify import verify_export
from ingest.recorder import Recorder
from tests.polling import poll

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def rtsp_recording(tmp_path_factory: pytest.TempPathFactory,
                   rtsp_simulator_factory: Callable[..., Any]) -> Iterator[Path]:
    """About 40 s recorded, ~15 s off the air, then 10-20 s more; the recordings root."""
    root = tmp_path_factory.mktemp("rtsp") / "recordings"
    sim = rtsp_simulator_factory({"cam-door": "cars"}, fresh=True)
    recorder = Recorder("cam-door", sim.url("cam-door", "main"), root, segment_seconds=10,
                        backoff_initial=0.5, backoff_max=2.0)
    thread = threading.Thread(target=recorder.run, name="recorder")
    pause = threading.Event()
    since = datetime.now(UTC) - timedelta(minutes=1)

    def count() -> int:
        return len(list_segments(root, "cam-door", since, since + timedelta(hours=1)))

    thread.start()
    try:
        assert poll(lambda: count() >= 4, 70, 0.5), "recorder made no segments"
        sim.take_offline("cam-door")
        pause.wait(15)
        sim.bring_online("cam-door")
        before = count()
        assert poll(lambda: count() >= before + 1, 60, 0.5), "no segments after outage"
    finally:
        recorder.stop()
        thread.join(timeout=20)
        sim.stop()
    yield root


def _site() -> Site:
    return Site.model_validate({"cameras": [{
        "id": "cam-door", "main_url": "rtsp://sim/cam-door",
        "location": {"building": "B112", "zone": "gate", "lat": 22.3, "lon": 121.38}}]})


def _export(root: Path, start: datetime, end: datetime) -> ExportResult:
    request = ExportRequest(camera_ids=["cam-door"], start=start, end=end, case_id="C-RTSP",
                            reason="acceptance", requester="tester")
    export_id = new_export_id()
    exporter = Exporter(_site(), root, keyring=Keyring(root.parent / "keys"))
    return exporter.run(export_id, request, root.parent / "exports" / export_id)


def _gop_seconds(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "packet=pts_time,flags", "-of", "json", str(path)],
                         capture_output=True, check=True, timeout=30)
    keys = [float(p["pts_time"]) for p in json.loads(out.stdout)["packets"]
            if "K" in p["flags"]]
    assert len(keys) >= 2
    return max(b - a for a, b in itertools.pairwise(keys))


def _timeline(root: Path) -> tuple[list[Any], list[Any]]:
    far = datetime.now(UTC)
    segments = list_segments(root, "cam-door", far - timedelta(hours=1), far)
    window = (segments[0].start, segments[-1].end)
    return covered(segments, *window), gaps(segments, *window)


@pytest.mark.timeout(240)
def test_thirty_seconds_from_the_recorder(rtsp_recording: Path) -> None:
    spans, _ = _timeline(rtsp_recording)
    first = next(s for s in spans if s.seconds >= 33)
    start = first.start + timedelta(seconds=1.7)
    result = _export(rtsp_recording, start, start + timedelta(seconds=30))
    (camera,) = result.manifest.cameras
    assert camera.master is not None and camera.working_copy is not None
    assert camera.gaps == []
    sources = [rtsp_recording / s.path for s in camera.segments]
    master = result.directory / camera.master.path
    assert master.read_bytes() == b"".join(p.read_bytes() for p in sources)
    gop = _gop_seconds(sources[0])
    mp4 = result.directory / camera.working_copy.path
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "csv=p=0", str(mp4)], capture_output=True, check=True, timeout=30)
    duration = float(out.stdout)
    assert 30 - 0.2 <= duration <= 30 + gop + 0.2, (duration, gop)
    play = subprocess.run(["ffmpeg", "-v", "error", "-i", str(mp4), "-f", "null", "-"],
                          capture_output=True, timeout=60)
    assert play.returncode == 0, play.stderr
    report = verify_export(result.directory, result.manifest_sha256)
    assert report.ok, report


@pytest.mark.timeout(240)
def test_window_across_the_outage_lists_the_gap(rtsp_recording: Path) -> None:
    _, holes = _timeline(rtsp_recording)
    outage = max(holes, key=lambda h: h.seconds)
    assert outage.seconds >= 8, holes
    result = _export(rtsp_recording, outage.start - timedelta(seconds=8),
                     outage.end + timedelta(seconds=8))
    (camera,) = result.manifest.cameras
    listed = [g for g in camera.gaps if g.start <= outage.start and g.end >= outage.end]
    assert listed and listed[0].reason == "no recording", camera.gaps
    assert camera.working_copy is not None
    assert verify_export(result.directory).ok
