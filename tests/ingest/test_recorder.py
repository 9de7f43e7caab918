"""Recorder pieces that need no camera: stderr reasons, staging names, moving segments,
and a real ffmpeg against a port where nothing listens."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from compoundeye.recordings import list_segments, segment_path
from compoundeye.services import free_port
from ingest.recorder import Recorder, classify_stderr, ffmpeg_command, staging_start
from ingest.recorder_ffmpeg import SegmentLine, backward_jump, g711_codec, parse_segment_line


@pytest.mark.parametrize(("line", "reason"), [
    ("[rtsp @ 0x55] method DESCRIBE failed: 401 Unauthorized", "unauthorized (401)"),
    ("[rtsp @ 0x55] method DESCRIBE failed: 404 Not Found", "not found (404)"),
    ("rtsp://127.0.0.1:1/x: Connection refused", "connection refused"),
    ("[tcp @ 0x1] Connection to tcp://10.0.0.1:554 failed: Connection timed out", "timeout"),
    ("rtsp://cam/x: Invalid data found when processing input", "invalid data"),
    ("[rtsp @ 0x1] Server returned 401 Unauthorized (authorization failed)", "unauthorized (401)"),
    ("frame=  10 fps=0.0 q=-1.0 size=N/A", None),
    ("Non-monotonous DTS; previous: 401, current: 404; changing to 402", None),
])
def test_classify_stderr(line: str, reason: str | None) -> None:
    assert classify_stderr(line) == reason


def test_staging_names() -> None:
    assert staging_start("20261128T013747.ts") == datetime(2026, 11, 28, 1, 37, 47, tzinfo=UTC)
    assert staging_start("20261328T013747.ts") is None
    assert staging_start("x.ts") is None


def test_command_records_by_stream_copy_over_tcp(tmp_path: Path) -> None:
    cmd = ffmpeg_command("rtsp://cam/main", tmp_path, 10)
    joined = " ".join(cmd)
    for part in ("-rtsp_transport tcp", "-c copy", "-f segment", "-segment_time 10",
                 "-segment_format mpegts", "-reset_timestamps 1", "-strftime 1",
                 "-segment_list pipe:1", "-segment_list_type csv"):
        assert part in joined
    assert "-rtsp_transport" not in ffmpeg_command("/tmp/file.mp4", tmp_path, 10)


def test_leftovers_move_into_the_utc_layout(tmp_path: Path) -> None:
    rec = Recorder("cam1", "rtsp://127.0.0.1:1/x", tmp_path)
    rec.staging.mkdir(parents=True)
    for name in ("20261128T013747.ts", "20261128T013757.ts"):
        (rec.staging / name).write_bytes(b"\x47" * 188 * 10)
    (rec.staging / "20261128T013807.ts").write_bytes(b"")  # empty: nothing recorded
    (rec.staging / "junk.txt").write_text("not a segment")
    rec.move_leftovers()
    first = datetime(2026, 11, 28, 1, 37, 47, tzinfo=UTC)
    assert segment_path(tmp_path, "cam1", first).is_file()
    segs = list_segments(tmp_path, "cam1", first, datetime(2026, 11, 28, 1, 40, tzinfo=UTC))
    assert [s.start.second for s in segs] == [47, 57]
    assert rec.stats.segments == 2 and rec.stats.bytes == 2 * 1880
    assert sorted(p.name for p in rec.staging.iterdir()) == ["junk.txt"]


def test_same_second_segment_is_kept_not_overwritten(tmp_path: Path) -> None:
    rec = Recorder("cam1", "rtsp://127.0.0.1:1/x", tmp_path)
    rec.staging.mkdir(parents=True)
    start = datetime(2026, 11, 28, 1, 37, 47, tzinfo=UTC)
    target = segment_path(tmp_path, "cam1", start)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"old")
    (rec.staging / "20261128T013747.ts").write_bytes(b"new")
    rec.move_leftovers()
    assert target.read_bytes() == b"old"
    assert segment_path(tmp_path, "cam1", start.replace(second=48)).read_bytes() == b"new"


@pytest.mark.timeout(60)
def test_unreachable_camera_is_retried_with_reason_and_stops_fast(tmp_path: Path) -> None:
    port = free_port()
    rec = Recorder("cam1", f"rtsp://127.0.0.1:{port}/main", tmp_path,
                   backoff_initial=0.2, backoff_max=0.4)
    thread = threading.Thread(target=rec.run)
    thread.start()
    deadline = time.monotonic() + 20
    while rec.stats.restarts < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    started = time.monotonic()
    rec.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - started < 6
    assert rec.stats.restarts >= 2
    assert rec.stats.last_error == "connection refused", list(rec.stats.stderr_tail)
    assert rec.pid is None


def test_b_frames_get_decode_times_and_g711_is_kept_twice(tmp_path: Path) -> None:
    plain = ffmpeg_command("rtsp://cam/main", tmp_path, 10, run="r1")
    assert plain[plain.index("-fflags") + 1] == "+genpts"  # B-frames over RTSP have no DTS
    assert plain[-1] == str(tmp_path / "r1-%Y%m%dT%H%M%S.ts")
    g711 = " ".join(ffmpeg_command("rtsp://cam/main", tmp_path, 10, g711="pcm_alaw"))
    assert "-map 0:a:0 -map 0:a:0 -c copy -c:a:0 aac" in g711
    assert "service_provider=compoundeye audio-original=pcm_alaw" in g711


def test_stderr_lines_that_change_the_recording() -> None:
    line = ("[mpegts @ 0x5] Stream 1, codec pcm_mulaw, is muxed as a private data stream "
            "and may not be recognized upon reading.")
    assert g711_codec(line) == "pcm_mulaw"
    assert g711_codec("Stream 1, codec aac") is None
    jump = ("[segment @ 0x5] Non-monotonous DTS in output stream 0:0; previous: 624638, "
            "current: -936000; changing to 624639.")
    assert backward_jump(jump) == 624638 + 936000
    assert backward_jump("frame= 10") is None
    assert parse_segment_line("r1-20261201T194022.ts,0.000000,4.333322") == SegmentLine(
        "r1-20261201T194022.ts", 0.0, 4.333322)
    assert parse_segment_line("garbage") is None
    assert staging_start("r1764619222123-20261128T013747.ts") == datetime(
        2026, 11, 28, 1, 37, 47, tzinfo=UTC)


def test_ffmpeg_lines_are_kept_and_logged_without_the_password(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    rec = Recorder("cam1", f"rtsp://admin:hunter2@127.0.0.1:{port}/main", tmp_path,
                   backoff_initial=0.2, backoff_max=0.4)
    thread = threading.Thread(target=rec.run)
    with caplog.at_level("DEBUG", logger="ingest.recorder"):
        thread.start()
        deadline = time.monotonic() + 20
        while rec.stats.restarts < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        rec.stop()
        thread.join(10)
    kept = "\n".join(rec.stats.stderr_tail)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "admin:***@127.0.0.1" in kept + logged, kept  # ffmpeg named the URL: masked
    assert "hunter2" not in kept and "hunter2" not in logged


def test_recorded_seconds_come_from_the_segment_list_or_one_length(tmp_path: Path) -> None:
    rec = Recorder("cam1", "rtsp://x", tmp_path, segment_seconds=10)
    rec.staging.mkdir(parents=True)
    rec.stats.last_error = "invalid data"
    for name in ("20261103T214000.ts", "20261103T214010.ts"):
        (rec.staging / name).write_bytes(b"\x47" * 1880)
    rec._on_line("out", "20261103T214000.ts,12.480000,22.520000")
    assert rec.stats.recorded_seconds == pytest.approx(10.04)
    assert rec.stats.last_error == ""  # a finished segment: the failure is history
    rec.move_leftovers()  # no list line (cut short at a crash): one nominal length at most
    assert rec.stats.recorded_seconds == pytest.approx(20.04)
    assert rec.stats.segments == 2
